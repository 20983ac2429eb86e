/**
 * The ferry node process: `tsx node/main.ts --node-id 1 --listen 127.0.0.1:9091 --data-dir data/n1
 *   --peers 1=127.0.0.1:9091,2=127.0.0.1:9092,3=127.0.0.1:9093` (or the same through FERRY_* env
 * vars or a --config file). SIGINT/SIGTERM move leadership away and stop cleanly.
 */
import pino from 'pino';
import { Broker } from './broker.js';
import { ConfigError, configHelp, loadNodeConfig } from './config.js';

const usage = `usage: ferry-node [options]\n\nEvery option may also come from its environment variable or a config file:\n${configHelp()}\n`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return;
  }
  let config;
  try {
    config = loadNodeConfig(argv, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`ferry-node: ${err.message}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  const log = pino({ level: config.logLevel, base: { nodeId: config.nodeId } });
  const fatal = (err: unknown): void => {
    log.fatal({ err }, 'fatal error: stopping the node so it cannot break a promise');
    process.exit(1);
  };
  const broker = await Broker.start(config, log, fatal);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    broker.stop().then(() => process.exit(0), fatal);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`ferry-node: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
