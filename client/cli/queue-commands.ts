/** `ferry queue configure|receive|ack|nack|stats|list|delete` and `ferry dlq list|redrive`. */
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { QueueMessage, QueueReceipt, SettleResults } from '../index.js';
import { parseIntegerOption, UsageError, withClient, type GlobalOptions } from './context.js';
import { table } from './topic-commands.js';

/** A receipt as the CLI prints and reads it: partition/offset/delivery. */
function receiptText(m: QueueReceipt): string {
  return `${m.partition}/${m.offset}/${m.deliveryCount}`;
}

function parseReceipt(text: string): QueueReceipt {
  const m = /^(\d+)\/(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new UsageError(`a receipt is partition/offset/delivery (as \`ferry queue receive\` prints it), got "${text}"`);
  return { partition: Number(m[1]), offset: Number(m[2]), deliveryCount: Number(m[3]) };
}

function printSettled(what: string, receipts: readonly QueueReceipt[], results: SettleResults): void {
  results.forEach((e, i) => {
    const r = receiptText(receipts[i]!);
    if (e) {
      process.stderr.write(`${r}: ${e.code}: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`${what} ${r}\n`);
    }
  });
}

function printMessages(ms: readonly QueueMessage[]): void {
  if (ms.length === 0) {
    process.stdout.write('no records available\n');
    return;
  }
  process.stdout.write(table([
    ['RECEIPT', 'KEY', 'VALUE', 'LOCKED-UNTIL'],
    ...ms.map((m) => [receiptText(m), m.key?.toString() ?? '-', m.value?.toString() ?? '-', new Date(m.lockedUntilMs).toISOString()]),
  ]));
}

interface ConfigureOptions {
  topic: string;
  maxDeliveries?: number;
  maxInFlight?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  fifo?: boolean;
  deadLetterTopic?: string;
  ttlMs?: number;
  deadLetterExpired?: boolean;
}

function registerQueue(program: Command, globals: () => GlobalOptions): void {
  const queue = program.command('queue').description('queue groups: receive, ack, nack, stats (SQS-style consumption of a topic)');

  queue.command('configure <group>').description('create a queue group on a topic or change its settings')
    .requiredOption('-t, --topic <topic>', 'the topic the group consumes')
    .option('--max-deliveries <n>', 'deliveries before a record is dead-lettered (default 5)', parseIntegerOption('--max-deliveries', 1, 1_000))
    .option('--max-in-flight <n>', 'records tracked per partition (default 1000)', parseIntegerOption('--max-in-flight', 1, 100_000))
    .option('--backoff-base-ms <ms>', 'retry backoff after the first failure (default 1000)', parseIntegerOption('--backoff-base-ms', 0))
    .option('--backoff-max-ms <ms>', 'retry backoff cap (default 60000)', parseIntegerOption('--backoff-max-ms', 0))
    .option('--fifo', 'one record in flight per key, in offset order')
    .option('--dead-letter-topic <topic>', 'where dead letters go (default <topic>.<group>.dlq)')
    .option('--ttl-ms <ms>', 'records older than this are skipped', parseIntegerOption('--ttl-ms', 0))
    .option('--dead-letter-expired', 'expired records are dead-lettered instead of skipped')
    .action((group: string, o: ConfigureOptions) => withClient(globals(), async (ferry) => {
      const s = await ferry.queues.configure(group, {
        topic: o.topic, maxDeliveries: o.maxDeliveries, maxInFlightPerPartition: o.maxInFlight, fifo: o.fifo, deadLetterTopic: o.deadLetterTopic,
        backoff: { baseMs: o.backoffBaseMs, maxMs: o.backoffMaxMs }, messageTtlMs: o.ttlMs, deadLetterExpired: o.deadLetterExpired,
      });
      process.stdout.write(`queue group ${group} on ${s.topic}: max deliveries ${s.maxDeliveries}, fifo ${s.fifo}, backoff ${s.backoffBaseMs}-${s.backoffMaxMs} ms, dead letters to ${s.deadLetterTopic}\n`);
    }));

  queue.command('receive <group>').description('lock and print available records (receipts for ack/nack)')
    .requiredOption('-t, --topic <topic>', 'the group\'s topic')
    .option('-n, --max <n>', 'most records', parseIntegerOption('--max', 1, 1_000), 10)
    .option('--visibility-ms <ms>', 'how long they stay locked', parseIntegerOption('--visibility-ms', 100), 30_000)
    .option('--wait-ms <ms>', 'how long to wait for a record', parseIntegerOption('--wait-ms', 0, 20_000), 1_000)
    .option('--ack', 'ack them once printed')
    .action((group: string, o: { topic: string; max: number; visibilityMs: number; waitMs: number; ack?: boolean }) => withClient(globals(), async (ferry) => {
      const ms = await ferry.queues.receive(group, o.topic, { max: o.max, visibilityTimeoutMs: o.visibilityMs, maxWaitMs: o.waitMs });
      printMessages(ms);
      if (o.ack && ms.length > 0) printSettled('acked', ms, await ferry.queues.ack(group, ms));
    }));

  queue.command('ack <group> <receipts...>').description('finish deliveries (receipts as partition/offset/delivery)')
    .action((group: string, texts: string[]) => {
      const receipts = texts.map(parseReceipt);
      return withClient(globals(), async (ferry) => printSettled('acked', receipts, await ferry.queues.ack(group, receipts)));
    });

  queue.command('nack <group> <receipts...>').description('release deliveries: visible again after --delay-ms or the group\'s backoff')
    .option('--delay-ms <ms>', 'delay before they are visible again', parseIntegerOption('--delay-ms', 0, 3_600_000))
    .action((group: string, texts: string[], o: { delayMs?: number }) => {
      const receipts = texts.map(parseReceipt);
      return withClient(globals(), async (ferry) => printSettled('released', receipts, await ferry.queues.nack(group, receipts, o.delayMs)));
    });

  queue.command('stats <group>').description('depth, in flight, delayed, oldest unacked age and dead letters per partition')
    .action((group: string) => withClient(globals(), async (ferry) => {
      const s = await ferry.queues.stats(group);
      process.stdout.write(`queue group ${group} on ${s.settings.topic}: ${s.deliveriesPerSec.toFixed(2)} deliveries/s, ${s.redeliveriesPerSec.toFixed(2)} redeliveries/s (last minute), `
        + `${s.expired} expired, dead letters: ${s.deadLetterDepth < 0 ? 'none yet' : s.deadLetterDepth} in ${s.settings.deadLetterTopic}, ${s.deadLettersPending} pending\n`);
      process.stdout.write(table([
        ['PARTITION', 'AVAILABLE', 'IN-FLIGHT', 'DELAYED', 'OLDEST-UNACKED-S', 'ACK-FLOOR', 'READ-POSITION', 'HIGH-WATERMARK'],
        ...s.partitions.map((p) => [p.partition, p.available, p.inFlight, p.delayed, p.oldestUnackedAgeMs < 0 ? '-' : (p.oldestUnackedAgeMs / 1_000).toFixed(1),
          p.ackFloor, p.readPosition, p.highWatermark]),
      ]));
    }));

  queue.command('delete <group>').description('delete a queue group\'s settings and state (its dead-letter topic stays)')
    .action((group: string) => withClient(globals(), async (ferry) => {
      const abandoned = await ferry.queues.delete(group);
      process.stdout.write(`deleted queue group ${group}${abandoned > 0 ? ` (${abandoned} dead letter(s) not yet appended were abandoned)` : ''}\n`);
    }));

  queue.command('list').description('every queue group and its topic').action(() => withClient(globals(), async (ferry) => {
    const groups = await ferry.queues.list();
    process.stdout.write(groups.length === 0 ? 'no queue groups\n' : table([['GROUP', 'TOPIC'], ...groups.map((g) => [g.group, g.topic])]));
  }));
}

function registerDlq(program: Command, globals: () => GlobalOptions): void {
  const dlq = program.command('dlq').description('dead letters of queue groups: list, redrive');

  dlq.command('list <group>').description('dead letters not yet redriven, with why, from where and after how many deliveries')
    .option('-n, --max <n>', 'most records', parseIntegerOption('--max', 1, 100_000), 100)
    .action((group: string, o: { max: number }) => withClient(globals(), async (ferry) => {
      const letters = await ferry.deadLetters.list(group, o.max);
      process.stdout.write(letters.length === 0 ? 'no dead letters\n' : table([
        ['OFFSET', 'SOURCE', 'DELIVERIES', 'REASON', 'DEAD-LETTERED', 'KEY', 'VALUE'],
        ...letters.map((d) => [`${d.record.partition}/${d.record.offset}`, `${d.sourceTopic}/${d.sourcePartition}/${d.sourceOffset}`, d.deliveries, d.reason,
          new Date(d.deadLetteredAtMs).toISOString(), d.record.key?.toString() ?? '-', d.record.value?.toString().slice(0, 60) ?? '-']),
      ]));
    }));

  dlq.command('redrive <group>').description('move dead letters back to their source topic (or --to)')
    .option('--to <topic>', 'target topic instead of each record\'s source')
    .option('-n, --max <n>', 'most records', parseIntegerOption('--max', 1))
    .action((group: string, o: { to?: string; max?: number }) => withClient(globals(), async (ferry) => {
      const bar = new SingleBar({ format: 'redriving [{bar}] {value}/{total} records', hideCursor: true, stream: process.stderr }, Presets.shades_classic);
      let started = false;
      const moved = await ferry.deadLetters.redrive(group, {
        to: o.to, max: o.max,
        onProgress: (n, total) => {
          if (!started) bar.start(Math.max(total, n), 0);
          started = true;
          bar.setTotal(Math.max(total, n));
          bar.update(n);
        },
      });
      if (started) bar.stop();
      process.stdout.write(`redrove ${moved} record(s)\n`);
    }));
}

export function registerQueueCommands(program: Command, globals: () => GlobalOptions): void {
  registerQueue(program, globals);
  registerDlq(program, globals);
}
