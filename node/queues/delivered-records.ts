/** Reading back the records a receive locked, and single records for dead letters. */
import type { DecodedRecord } from '../../log/index.js';
import { windowReadBytes } from './constants.js';
import type { QueueReceipt } from './queue-group.js';
import { recordsOfBatches } from './source-records.js';
import type { TopicAccess } from './topic-access.js';

/** A locked record as a receive answers it. */
export interface ReceivedRecord extends QueueReceipt {
  readonly record: DecodedRecord;
  readonly lockedUntilMs: number;
}

/**
 * The records of `delivered`, read from their partitions. A record gone meanwhile (retention), or
 * on a partition that cannot be read now, is left out: its lock is already written, so it comes
 * back once the lock runs out, as if the worker had died with it.
 */
export async function readDelivered(topics: TopicAccess, topic: string, delivered: readonly QueueReceipt[], lockedUntilMs: number,
  onReadError: (partition: number, err: unknown) => void): Promise<ReceivedRecord[]> {
  const out: ReceivedRecord[] = [];
  const byPartition = new Map<number, QueueReceipt[]>();
  for (const d of delivered) {
    const list = byPartition.get(d.partition);
    if (list) list.push(d);
    else byPartition.set(d.partition, [d]);
  }
  for (const [p, ds] of byPartition) {
    const wanted = new Map(ds.map((d) => [d.offset, d]));
    let offset = Math.min(...wanted.keys());
    const last = Math.max(...wanted.keys());
    for (let step = 0; offset <= last && step < 10_000; step += 1) {
      let read;
      try {
        read = await topics.read(topic, p, offset, windowReadBytes);
      } catch (err) {
        onReadError(p, err);
        break;
      }
      const { records, nextOffset } = recordsOfBatches(read.records);
      if (nextOffset === undefined) break;
      for (const r of records) {
        const d = wanted.get(r.offset);
        if (d) out.push({ ...d, record: r, lockedUntilMs });
      }
      offset = Math.max(offset + 1, nextOffset);
    }
  }
  return out;
}

/** One record of a partition, or undefined when it is gone. */
export async function readOne(topics: TopicAccess, topic: string, partition: number, offset: number): Promise<DecodedRecord | undefined> {
  const read = await topics.read(topic, partition, offset, windowReadBytes);
  return recordsOfBatches(read.records).records.find((r) => r.offset === offset);
}
