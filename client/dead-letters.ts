/**
 * A queue group's dead-letter topic from the SDK: list what is there, and redrive it (append the
 * records back to the topic they came from, or another, without the dead-letter headers). Redrive
 * progress is the committed offset of the consumer group "<group>.redrive" on the dead-letter
 * topic, committed after each flushed batch, so a redrive that is stopped and run again goes on
 * where it stopped (a crash between an append and its commit can append those records twice).
 */
import type { ConnectionPool } from './connection-pool.js';
import { Consumer, type ConsumedRecord } from './consumer.js';
import { FerryError } from './errors.js';
import type { GroupAdmin } from './group-admin.js';
import type { MetadataCache } from './metadata-cache.js';
import { Producer } from './producer.js';
import type { QueueClient } from './queue-client.js';
import { deadLetterHeaderPrefix, deadLetterHeaders } from '../proto/queue-headers.js';

export { deadLetterHeaders };

export interface DeadLetterRecord {
  readonly record: ConsumedRecord;
  readonly reason: string;
  readonly sourceTopic: string;
  readonly sourcePartition: number;
  readonly sourceOffset: number;
  readonly deliveries: number;
  readonly deadLetteredAtMs: number;
}

export interface RedriveOptions {
  /** Target topic; default each record's source topic. */
  readonly to?: string;
  /** Most records to move (default all there are now). */
  readonly max?: number;
  /** Called after each batch with the records moved so far and the total to move. */
  readonly onProgress?: (moved: number, total: number) => void;
}

const readWaitMs = 500;

function text(r: ConsumedRecord, name: string): string {
  return r.headers[name]?.toString() ?? '';
}

export function deadLetterOf(record: ConsumedRecord): DeadLetterRecord {
  return {
    record, reason: text(record, deadLetterHeaders.reason), sourceTopic: text(record, deadLetterHeaders.topic),
    sourcePartition: Number(text(record, deadLetterHeaders.partition)), sourceOffset: Number(text(record, deadLetterHeaders.offset)),
    deliveries: Number(text(record, deadLetterHeaders.deliveries)), deadLetteredAtMs: Number(text(record, deadLetterHeaders.deadLetteredAtMs)),
  };
}

export class DeadLetters {
  constructor(private readonly pool: ConnectionPool, private readonly metadata: MetadataCache, private readonly queues: QueueClient, private readonly groups: GroupAdmin) {}

  /** The consumer group that remembers how far a queue group's dead letters were redriven. */
  static redriveGroupOf(group: string): string {
    return `${group}.redrive`.slice(0, 249);
  }

  async topicOf(group: string): Promise<string> {
    return (await this.queues.stats(group)).settings.deadLetterTopic;
  }

  /**
   * Reads the dead letters not yet redriven (up to `max`), oldest first; `each` sees them as they
   * are read. Stops at the high watermarks found when it began.
   */
  private async read(group: string, max: number, each: (batch: DeadLetterRecord[]) => Promise<void>): Promise<void> {
    const topic = await this.topicOf(group);
    const t = await this.metadata.topic(topic).catch(() => undefined);
    if (!t) return;
    const committed = await this.groups.committed(DeadLetters.redriveGroupOf(group));
    const c = new Consumer(this.pool, this.metadata, { topic, maxWaitMs: readWaitMs });
    try {
      let seen = 0;
      for (const { partition } of t.partitions) {
        const [start, end] = await Promise.all([c.lookup(partition, 'earliest'), c.lookup(partition, 'latest')]);
        const from = Math.max(start, committed.get(`${topic}/${partition}`) ?? start);
        if (from >= end) continue;
        c.assign(partition, from);
        while (seen < max && (c.position(partition) ?? from) < end) {
          const rs = (await c.poll(readWaitMs, Math.min(500, max - seen))).filter((r) => r.partition === partition && r.offset < end);
          if (rs.length === 0) continue;
          seen += rs.length;
          await each(rs.map(deadLetterOf));
        }
        c.unassign(partition);
      }
    } finally {
      c.close();
    }
  }

  /** Dead letters not yet redriven, oldest first (at most `max`, default 100). */
  async list(group: string, max = 100): Promise<DeadLetterRecord[]> {
    const out: DeadLetterRecord[] = [];
    await this.read(group, max, async (batch) => void out.push(...batch));
    return out;
  }

  /** Moves dead letters back (see the file comment); returns how many moved. */
  async redrive(group: string, o: RedriveOptions = {}): Promise<number> {
    const max = o.max ?? Number.MAX_SAFE_INTEGER;
    if (!(max >= 1)) throw new FerryError('INVALID_REQUEST', `max must be >= 1, got ${max}`, false);
    const total = Math.min(max, (await this.queues.stats(group)).deadLetterDepth);
    const producer = new Producer(this.pool, this.metadata, { lingerMs: 5 });
    let moved = 0;
    try {
      await this.read(group, max, async (batch) => {
        await Promise.all(batch.map((d) => {
          const target = o.to ?? d.sourceTopic;
          if (!target) throw new FerryError('INVALID_REQUEST', `dead letter at offset ${d.record.offset} names no source topic; give a target topic`, false);
          const headers: Record<string, Buffer> = {};
          for (const [k, v] of Object.entries(d.record.headers)) if (v !== null && !k.startsWith(deadLetterHeaderPrefix)) headers[k] = v;
          return producer.send(target, { key: d.record.key, value: d.record.value, headers });
        }));
        const last = batch[batch.length - 1]!.record;
        await this.groups.resetOffsets(DeadLetters.redriveGroupOf(group), last.topic, { offset: last.offset + 1 }, [last.partition]);
        moved += batch.length;
        o.onProgress?.(moved, total);
      });
    } finally {
      await producer.close();
    }
    return moved;
  }
}
