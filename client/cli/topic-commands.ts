/** `ferry topic create|list|describe|delete`. */
import type { Command } from 'commander';
import { clientFrom, parseIntegerOption, UsageError, type GlobalOptions } from './context.js';

function parseConfigs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--config takes key=value, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** "0=1,2,4" → partition 0 to replicas [1, 2, 4]. */
function parseMove(text: string): { partition: number; replicas: number[] } {
  const m = /^(\d+)=(\d+(?:,\d+)*)$/.exec(text.trim());
  if (!m) throw new UsageError(`--move takes partition=node,node,... (e.g. 0=1,2,4), got "${text}"`);
  const replicas = m[2]!.split(',').map(Number);
  if (new Set(replicas).size !== replicas.length) throw new UsageError(`--move ${text}: a node appears twice`);
  return { partition: Number(m[1]), replicas };
}

function table(rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r) => r.map((v, c) => String(v).padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export function registerTopicCommands(program: Command, globals: () => GlobalOptions): void {
  const topic = program.command('topic').description('create, list, describe and delete topics');

  topic.command('create <name>')
    .description('create a topic')
    .option('-p, --partitions <n>', 'number of partitions', parseIntegerOption('--partitions', 1, 10_000), 1)
    .option('-r, --replication-factor <n>', 'replicas per partition (default: min(3, brokers))', parseIntegerOption('--replication-factor', 1, 100))
    .option('-c, --config <key=value...>', 'topic config, e.g. retention.ms=86400000', [])
    .action(async (name: string, o: { partitions: number; replicationFactor?: number; config: string[] }) => {
      const ferry = clientFrom(globals());
      try {
        await ferry.admin.createTopic(name, { partitions: o.partitions, replicationFactor: o.replicationFactor, configs: parseConfigs(o.config) });
        process.stdout.write(`created topic ${name} with ${o.partitions} partition(s)\n`);
      } finally {
        ferry.close();
      }
    });

  topic.command('list').description('list topics').action(async () => {
    const ferry = clientFrom(globals());
    try {
      const md = await ferry.admin.metadata$();
      const rows = [['TOPIC', 'PARTITIONS', 'REPLICAS'], ...md.topics.map((t) => [t.name, t.partitions.length, t.partitions[0]?.replicas.length ?? 0])];
      process.stdout.write(md.topics.length === 0 ? 'no topics\n' : table(rows));
    } finally {
      ferry.close();
    }
  });

  topic.command('describe <name>').description('partitions with leader, log start, high watermark and size').action(async (name: string) => {
    const ferry = clientFrom(globals());
    try {
      const md = await ferry.admin.metadata$([name]);
      const parts = await ferry.admin.describeTopic(name);
      const configs = md.topics[0]?.configs ?? {};
      process.stdout.write(`topic ${name}: ${parts.length} partition(s); ${Object.entries(configs).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
      process.stdout.write(table([
        ['PARTITION', 'LEADER', 'EPOCH', 'LOG-START', 'HIGH-WATERMARK', 'LOG-END', 'SIZE-BYTES', 'REPLICAS (in sync *)'],
        ...parts.map((p) => [p.partition, p.leaderId, p.leaderEpoch, p.logStartOffset, p.highWatermark, p.logEndOffset, p.sizeBytes,
          p.replicas.map((r) => `${r.nodeId}${r.inSync ? '*' : ''}`).join(',')]),
      ]));
    } finally {
      ferry.close();
    }
  });

  topic.command('reassign <name>')
    .description('move partitions to new replica sets through Raft membership changes (in the background; see `ferry cluster status`)')
    .requiredOption('-m, --move <partition=ids...>', 'partition and its new replicas, preferred leader first, e.g. 0=1,2,4 (repeatable)')
    .action(async (name: string, o: { move: string[] }) => {
      const moves = o.move.map(parseMove);
      const ferry = clientFrom(globals());
      try {
        await ferry.admin.reassignPartitions(name, moves);
        process.stdout.write(moves.map((m) => `reassigning ${name}/${m.partition} to replicas ${m.replicas.join(',')}\n`).join(''));
      } finally {
        ferry.close();
      }
    });

  topic.command('alter <name>')
    .description('change topic config without a restart, or grow the topic to more partitions')
    .option('-c, --config <key=value...>', 'keys to set, e.g. max.message.bytes=4194304', [])
    .option('--reset <key...>', 'keys to reset to their defaults', [])
    .option('-p, --partitions <n>', 'grow to n partitions in total (never fewer: keys would move)')
    .action(async (name: string, o: { config: string[]; reset: string[]; partitions?: string }) => {
      if (o.config.length === 0 && o.reset.length === 0 && o.partitions === undefined) {
        throw new UsageError('give --config key=value, --reset key and/or --partitions n');
      }
      const total = o.partitions === undefined ? undefined : Number(o.partitions);
      if (total !== undefined && !(Number.isInteger(total) && total >= 1)) throw new UsageError(`--partitions must be a positive integer, got "${o.partitions}"`);
      const ferry = clientFrom(globals());
      try {
        if (o.config.length > 0 || o.reset.length > 0) {
          await ferry.admin.alterTopicConfig(name, { set: parseConfigs(o.config), reset: o.reset });
          process.stdout.write(`changed config of topic ${name}\n`);
        }
        if (total !== undefined) {
          await ferry.admin.createPartitions(name, total);
          process.stdout.write(`topic ${name} now has ${total} partitions\n`);
        }
      } finally {
        ferry.close();
      }
    });

  topic.command('delete <name>').description('delete a topic and all its data').action(async (name: string) => {
    const ferry = clientFrom(globals());
    try {
      await ferry.admin.deleteTopic(name);
      process.stdout.write(`deleted topic ${name}\n`);
    } finally {
      ferry.close();
    }
  });
}

export { table };
