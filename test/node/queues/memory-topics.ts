/**
 * Ordinary topics in memory for queue-coordinator tests: each partition a MemoryPartition, reads
 * of committed batches, appends that deduplicate an idempotent producer's retry of its latest
 * batch (what the real partition does for the last 5), and producer ids.
 */
import { encodeBatch, readBatchHeader } from '../../../log/index.js';
import type { PartitionRead, TopicAccess } from '../../../node/queues/topic-access.js';
import { MemoryPartition } from '../consumer-groups/memory-partition.js';

export class MemoryTopics implements TopicAccess {
  readonly topics = new Map<string, MemoryPartition[]>();
  private nextProducerId = 1_000;
  /** Appends answered with an error after they happened (a lost answer), counted down. */
  loseProduceAnswers = 0;
  /** Reads that fail (a leader unreachable), chosen by partition and the number of reads of it so far. */
  failRead: ((topic: string, partition: number, readsSoFar: number) => boolean) | undefined;
  private readonly reads = new Map<string, number>();

  create(name: string, partitions: number): void {
    if (!this.topics.has(name)) this.topics.set(name, Array.from({ length: partitions }, () => new MemoryPartition()));
  }

  /** Appends one record per value to a partition (a producer would). */
  append(topic: string, partition: number, records: Array<{ key?: string; value: string; headers?: Record<string, string>; timestamp?: number }>): number[] {
    const p = this.topics.get(topic)![partition]!;
    return records.map((r) => {
      const headers = Object.entries(r.headers ?? {}).map(([key, value]) => ({ key, value: Buffer.from(value) }));
      const batch = encodeBatch({ records: [{ key: r.key === undefined ? null : Buffer.from(r.key), value: Buffer.from(r.value), headers, timestamp: r.timestamp ?? Date.now() }] });
      return p.appendNow(batch);
    });
  }

  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.length;
  }

  read(topic: string, partition: number, offset: number): Promise<PartitionRead> {
    const n = this.reads.get(`${topic}/${partition}`) ?? 0;
    this.reads.set(`${topic}/${partition}`, n + 1);
    if (this.failRead?.(topic, partition, n)) return Promise.reject(new Error(`injected: ${topic}/${partition} cannot be read`));
    const p = this.topics.get(topic)?.[partition];
    if (!p) return Promise.reject(new Error(`no partition ${topic}/${partition}`));
    if (offset < p.logStartOffset) return Promise.resolve({ records: Buffer.alloc(0), highWatermark: p.nextOffset, logStartOffset: p.logStartOffset, outOfRange: true });
    return Promise.resolve({ records: p.read(offset).records, highWatermark: p.nextOffset, logStartOffset: p.logStartOffset, outOfRange: false });
  }

  async produce(topic: string, partition: number, batch: Buffer): Promise<number> {
    const p = this.topics.get(topic)?.[partition];
    if (!p) throw new Error(`no partition ${topic}/${partition}`);
    const h = readBatchHeader(batch);
    const last = p.batches[p.batches.length - 1];
    if (last && h.producerId >= 0) {
      const lh = readBatchHeader(last);
      if (lh.producerId === h.producerId && lh.baseSequence === h.baseSequence) return lh.baseOffset;
    }
    const offset = p.appendNow(batch);
    if (this.loseProduceAnswers > 0) {
      this.loseProduceAnswers -= 1;
      throw new Error('injected: the append happened but its answer was lost');
    }
    return offset;
  }

  ensureTopic(name: string, partitions: number): Promise<void> {
    this.create(name, partitions);
    return Promise.resolve();
  }

  initProducerId(): Promise<{ producerId: number; producerEpoch: number }> {
    return Promise.resolve({ producerId: this.nextProducerId++, producerEpoch: 0 });
  }
}
