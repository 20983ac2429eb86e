/** The `ferry` command line: topics (incl. growth and reassignment), produce, consume, consumer groups, queue groups and dead letters, cluster status. */
import { Command, CommanderError } from 'commander';
import { registerClusterCommand } from './cluster-command.js';
import { registerConsumeCommand } from './consume-command.js';
import { registerGroupCommands } from './group-commands.js';
import { defaultBootstrap, reportError, type GlobalOptions } from './context.js';
import { registerProduceCommand } from './produce-command.js';
import { registerQueueCommands } from './queue-commands.js';
import { flushOutput } from './output.js';
import { registerTopicCommands } from './topic-commands.js';

const program = new Command('ferry')
  .description('Ferry: a Raft-replicated log for streams and queues')
  .option('-b, --bootstrap <addresses>', 'nodes to contact, host:port[,host:port...] (env FERRY_BOOTSTRAP)', process.env.FERRY_BOOTSTRAP ?? defaultBootstrap)
  .showHelpAfterError()
  .exitOverride();

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
registerTopicCommands(program, globals);
registerProduceCommand(program, globals);
registerConsumeCommand(program, globals);
registerClusterCommand(program, globals);
registerGroupCommands(program, globals);
registerQueueCommands(program, globals);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // commander already printed its own problems (and help); ours go through reportError.
  if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 2;
  else reportError(err);
}
// gRPC channels keep the loop alive; a finished command is finished, once its output is out
// (a pipe's reader may still be behind).
await flushOutput();
process.exit(process.exitCode ?? 0);
