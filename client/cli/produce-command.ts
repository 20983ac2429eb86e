/**
 * `ferry produce <topic>`: lines from stdin become records (optionally "key<sep>value"), or
 * `--count N --size B` generates a bounded load with a progress bar and a final rate.
 */
import { createInterface } from 'node:readline';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import type { Producer, RecordMetadata } from '../index.js';
import { clientFrom, parseIntegerOption, UsageError, type GlobalOptions } from './context.js';

interface ProduceOptions {
  key?: string;
  keySeparator?: string;
  partition?: number;
  acks: string;
  count?: number;
  size: number;
  linger: number;
}

async function fromStdin(producer: Producer, topic: string, o: ProduceOptions): Promise<number> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  const pending: Array<Promise<RecordMetadata>> = [];
  let n = 0;
  for await (const line of lines) {
    let key: string | undefined = o.key;
    let value = line;
    if (o.keySeparator) {
      const at = line.indexOf(o.keySeparator);
      if (at < 0) throw new UsageError(`line ${n + 1} has no key separator "${o.keySeparator}": ${line.slice(0, 60)}`);
      key = line.slice(0, at);
      value = line.slice(at + o.keySeparator.length);
    }
    pending.push(producer.send(topic, { key: key ?? null, value, partition: o.partition }));
    n += 1;
    if (pending.length >= 10_000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return n;
}

async function generated(producer: Producer, topic: string, o: ProduceOptions, count: number): Promise<void> {
  const value = Buffer.alloc(o.size, 0x61);
  const bar = new SingleBar({ format: 'producing [{bar}] {value}/{total} records | {rate} rec/s | eta {eta}s', hideCursor: true }, Presets.shades_classic);
  const interactive = process.stderr.isTTY;
  if (interactive) bar.start(count, 0, { rate: 0 });
  const started = Date.now();
  let acked = 0;
  let lastReport = started;
  const window: Array<Promise<RecordMetadata>> = [];
  const maxPending = 50_000;
  // A bar redraws often; without a terminal (logs, CI) a line every 2 s is enough.
  const reportEveryMs = interactive ? 250 : 2_000;
  const onAck = (): void => {
    acked += 1;
    const now = Date.now();
    if (now - lastReport >= reportEveryMs || acked === count) {
      lastReport = now;
      const rate = Math.round(acked / Math.max(0.001, (now - started) / 1000));
      if (interactive) bar.update(acked, { rate });
      else process.stderr.write(`produced ${acked}/${count} records (${rate} rec/s)\n`);
    }
  };
  for (let i = 0; i < count; i += 1) {
    const key = o.key ?? null;
    window.push(producer.send(topic, { key, value, partition: o.partition }).then((m) => {
      onAck();
      return m;
    }));
    if (window.length >= maxPending) await Promise.all(window.splice(0));
  }
  await Promise.all(window);
  if (interactive) bar.stop();
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`produced ${count} records of ${o.size} B in ${seconds.toFixed(2)} s: ` +
    `${Math.round(count / seconds)} rec/s, ${((count * o.size) / seconds / 1e6).toFixed(1)} MB/s\n`);
}

export function registerProduceCommand(program: Command, globals: () => GlobalOptions): void {
  program.command('produce <topic>')
    .description('produce records: stdin lines, or a generated load with --count')
    .option('-k, --key <key>', 'key for every record (default: none, spread over partitions)')
    .option('-s, --key-separator <sep>', 'split each stdin line into key<sep>value')
    .option('-p, --partition <n>', 'send to this partition', parseIntegerOption('--partition', 0))
    .option('-a, --acks <acks>', 'all | leader | none', 'all')
    .option('-n, --count <n>', 'generate this many records instead of reading stdin', parseIntegerOption('--count', 1, 100_000_000))
    .option('--size <bytes>', 'value size of generated records', parseIntegerOption('--size', 0, 8 * 1024 * 1024), 100)
    .option('--linger <ms>', 'batching delay', parseIntegerOption('--linger', 0, 60_000), 5)
    .action(async (topic: string, o: ProduceOptions) => {
      if (!['all', 'leader', 'none'].includes(o.acks)) throw new UsageError(`--acks must be all, leader or none, got "${o.acks}"`);
      const ferry = clientFrom(globals());
      const producer = ferry.producer({ acks: o.acks as 'all' | 'leader' | 'none', lingerMs: o.linger });
      try {
        if (o.count !== undefined) {
          await generated(producer, topic, o, o.count);
        } else {
          const n = await fromStdin(producer, topic, o);
          process.stderr.write(`produced ${n} record(s) to ${topic}\n`);
        }
        await producer.close();
      } finally {
        ferry.close();
      }
    });
}
