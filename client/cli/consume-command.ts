/**
 * `ferry consume <topic>`: prints records from a start position up to the high watermark as of
 * the start (or forever with --follow, until Ctrl-C).
 */
import type { Command } from 'commander';
import type { ConsumedRecord, StartPosition } from '../index.js';
import { clientFrom, parseIntegerOption, UsageError, type GlobalOptions } from './context.js';
import { printOut } from './output.js';

interface ConsumeOptions {
  from: string;
  fromTime?: string;
  partition?: number;
  follow?: boolean;
  maxMessages?: number;
  format: string;
  group?: string;
}

function startPosition(o: ConsumeOptions): StartPosition {
  if (o.fromTime !== undefined) {
    const ms = /^\d+$/.test(o.fromTime) ? Number(o.fromTime) : Date.parse(o.fromTime);
    if (!Number.isFinite(ms)) throw new UsageError(`--from-time takes an ISO date or epoch milliseconds, got "${o.fromTime}"`);
    return { timestamp: ms };
  }
  if (o.from === 'earliest' || o.from === 'latest') return o.from;
  if (/^\d+$/.test(o.from)) return { offset: Number(o.from) };
  throw new UsageError(`--from takes earliest, latest or an offset, got "${o.from}"`);
}

function render(r: ConsumedRecord, format: string): string {
  if (format === 'json') {
    return JSON.stringify({ partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null });
  }
  return r.value?.toString() ?? '';
}

export function registerConsumeCommand(program: Command, globals: () => GlobalOptions): void {
  program.command('consume <topic>')
    .description('print records of a topic')
    .option('-f, --from <where>', 'earliest | latest | <offset>', 'earliest')
    .option('-t, --from-time <time>', 'start at the first record at/after this time (ISO or epoch ms)')
    .option('-p, --partition <n>', 'only this partition', parseIntegerOption('--partition', 0))
    .option('--follow', 'keep waiting for new records (Ctrl-C to stop)')
    .option('-m, --max-messages <n>', 'stop after this many records', parseIntegerOption('--max-messages', 1))
    .option('--format <format>', 'value | json', 'value')
    .option('-g, --group <group>', 'consume as a member of this consumer group (committed offsets; until Ctrl-C or --max-messages)')
    .action(async (topic: string, o: ConsumeOptions) => {
      if (!['value', 'json'].includes(o.format)) throw new UsageError(`--format must be value or json, got "${o.format}"`);
      if (o.group !== undefined) return consumeInGroup(topic, o.group, o, globals());
      const from = startPosition(o);
      if (o.from !== 'earliest' && /^\d+$/.test(o.from) && o.partition === undefined) {
        throw new UsageError('--from <offset> needs --partition (offsets are per partition)');
      }
      const ferry = clientFrom(globals());
      const partitions = o.partition !== undefined ? [o.partition] : undefined;
      const consumer = ferry.consumer({ topic, partitions, from });
      try {
        const t = await ferry.metadata.topic(topic);
        const ids = partitions ?? t.partitions.map((p) => p.partition);
        // Without --follow: stop at the high watermark each partition had when we started.
        const ends = new Map<number, number>();
        if (!o.follow) for (const p of ids) ends.set(p, await consumer.lookup(p, 'latest'));
        const done = (): boolean => !o.follow && ids.every((p) => (consumer.position(p) ?? 0) >= ends.get(p)!);
        let n = 0;
        let stopped = false;
        process.on('SIGINT', () => {
          stopped = true;
        });
        while (!stopped && !done() && (o.maxMessages === undefined || n < o.maxMessages)) {
          for (const r of await consumer.poll(500)) {
            if (!o.follow && r.offset >= ends.get(r.partition)!) continue;
            if (o.maxMessages !== undefined && n >= o.maxMessages) break;
            const behind = printOut(`${render(r, o.format)}\n`);
            if (behind) await behind;
            n += 1;
          }
        }
        process.stderr.write(`consumed ${n} record(s) from ${topic}\n`);
      } finally {
        consumer.close();
        ferry.close();
      }
    });
}

/**
 * `ferry consume <topic> --group G`: prints records of the partitions the group assigns this
 * member, committing at-least-once, until Ctrl-C or --max-messages; leaves the group on exit.
 */
async function consumeInGroup(topic: string, group: string, o: ConsumeOptions, g: GlobalOptions): Promise<void> {
  if (o.partition !== undefined || o.fromTime !== undefined || o.from !== 'earliest') {
    throw new UsageError('--group reads from the group\'s committed offsets; --partition, --from and --from-time do not apply (see `ferry group reset-offsets`)');
  }
  const ferry = clientFrom(g);
  const consumer = ferry.consumer({ group, topics: [topic], clientId: 'ferry-cli' });
  let stopped = false;
  process.on('SIGINT', () => {
    stopped = true;
  });
  let n = 0;
  try {
    while (!stopped && (o.maxMessages === undefined || n < o.maxMessages)) {
      for (const r of await consumer.poll(500, o.maxMessages === undefined ? 500 : o.maxMessages - n)) {
        const behind = printOut(`${render(r, o.format)}\n`);
        if (behind) await behind;
        n += 1;
      }
    }
    process.stderr.write(`consumed ${n} record(s) from ${topic} as group ${group}\n`);
  } finally {
    await consumer.close();
    ferry.close();
  }
}
