/**
 * A queue group's coordinator without I/O, for tests: a source of records per partition, a
 * "Raft log" of committed queue records, and the pure QueueGroup over the fold of that log.
 * `crash()` rebuilds everything from the committed log alone (what a new coordinator does after a
 * failover); `receive(..., { lose: true })` is a write whose outcome was lost, so the coordinator
 * reloads without it.
 */
import { QueueGroup, type QueueReceipt, type ReceiptOperation, type ReceiptOutcome } from '../../../node/queues/queue-group.js';
import type { QueueConfig } from '../../../node/queues/queue-config.js';
import type { RecordMeta } from '../../../node/queues/queue-partition.js';
import { encodeQueueKey, type QueueStateRecord } from '../../../node/queues/queue-records.js';
import { QueueStateImage } from '../../../node/queues/queue-state-image.js';

export const simGroupId = 'g';

export class QueueSim {
  readonly log: QueueStateRecord[] = [];
  image!: QueueStateImage;
  group!: QueueGroup;
  nowMs = 1_000_000;

  /** `source[p]`: records of partition p in offset order (gaps are offsets holding no record); `ends[p]`: its end offset. */
  constructor(readonly source: readonly RecordMeta[][], readonly ends: readonly number[], readonly config: QueueConfig) {
    this.log.push({ key: { type: 'queue', group: simGroupId }, value: { incarnation: 'i1', config, deadLetters: { producerId: 7, producerEpoch: 0, nextSeq: 0 } } });
    this.crash();
  }

  /**
   * What the log cleaner does to the group-state partition: keeps only the latest record of each
   * key, in log order (emptied batches keep their place, which does not matter here).
   */
  compact(): void {
    const latest = new Map<string, number>();
    this.log.forEach((r, i) => latest.set(encodeQueueKey(r.key), i));
    const kept = this.log.filter((r, i) => latest.get(encodeQueueKey(r.key)) === i);
    this.log.splice(0, this.log.length, ...kept);
  }

  crash(): void {
    this.image = new QueueStateImage();
    for (const r of this.log) this.image.apply(r);
    this.group = new QueueGroup(simGroupId, this.image);
  }

  /** Reads source records into each window, as the coordinator does before a receive. */
  fill(): void {
    this.source.forEach((records, p) => {
      const qp = this.group.partition(p);
      const room = qp.room(this.config);
      if (room === 0) return;
      const rest = records.filter((m) => m.offset >= qp.readPosition);
      const taken = rest.slice(0, room);
      const next = taken.length === rest.length ? this.ends[p]! : taken[taken.length - 1]!.offset + 1;
      qp.addRecords(taken, Math.max(next, qp.readPosition));
    });
  }

  receive(max: number, lockMs: number, opts: { lose?: boolean } = {}): QueueReceipt[] {
    this.fill();
    const r = this.group.receive(this.nowMs, this.source.length, { max, maxBytes: 1 << 20, lockMs });
    if (opts.lose) {
      this.crash();
      return [];
    }
    this.log.push(...r.records);
    return r.delivered;
  }

  settle(op: ReceiptOperation, receipts: readonly QueueReceipt[]): ReceiptOutcome[] {
    this.fill();
    const r = this.group.settle(op, receipts, this.nowMs);
    this.log.push(...r.records);
    return r.outcomes;
  }

  /** Appends every pending dead letter (the coordinator's dead-letter pass); returns them. */
  flushDeadLetters(): Array<{ partition: number; offset: number; deliveries: number; reason: string; seq: number }> {
    const pending = this.group.pendingDeadLetters();
    for (const d of pending) this.log.push(...this.group.deadLettered(d.partition, d.offset));
    return pending;
  }
}
