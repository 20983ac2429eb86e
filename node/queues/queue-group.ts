/**
 * One queue group on its coordinator: the partitions of its topic as QueuePartitions over the
 * image's state, dead-letter sequence numbers, and the translation of decisions into the records
 * written through Raft. Pure like QueuePartition (time passed in, no I/O); the coordinator does the
 * reading, writing and answering around it.
 */
import type { QueueConfig } from './queue-config.js';
import { QueuePartition, type Delivery, type QueueFact, type ReceiptCheck, type ScanLimits } from './queue-partition.js';
import type { QueueGroupValue, QueueStateRecord } from './queue-records.js';
import type { QueueStateImage } from './queue-state-image.js';

export interface QueueReceipt extends Delivery {
  readonly partition: number;
}

export type ReceiptOutcome = { ok: true } | Extract<ReceiptCheck, { ok: false }>;

export type ReceiptOperation =
  | { readonly op: 'ack' }
  | { readonly op: 'nack'; readonly delayMs: number | undefined }
  | { readonly op: 'extend'; readonly lockMs: number }
  | { readonly op: 'reject' };

export class QueueGroup {
  private readonly partitions = new Map<number, QueuePartition>();
  /** Partition the next receive starts at, so every partition gets its turn. */
  private cursor = 0;

  constructor(readonly id: string, private readonly image: QueueStateImage) {
    if (!image.group(id)) throw new Error(`queue group ${id} is not in the image`);
  }

  get value(): QueueGroupValue {
    return this.image.group(this.id)!.value;
  }

  get config(): QueueConfig {
    return this.value.config;
  }

  partition(p: number): QueuePartition {
    let qp = this.partitions.get(p);
    if (!qp) this.partitions.set(p, (qp = new QueuePartition(p, this.image.partitionOf(this.id, p))));
    return qp;
  }

  /** Partitions with a window here. */
  knownPartitions(): QueuePartition[] {
    return [...this.partitions.values()];
  }

  /**
   * Locks up to `limits.max` records (and about `limits.maxBytes`) across `partitionCount`
   * partitions, starting from a rotating one, settling due dead letters and expiries on the way.
   */
  receive(nowMs: number, partitionCount: number, limits: ScanLimits): { records: QueueStateRecord[]; delivered: QueueReceipt[]; expired: number } {
    const records: QueueStateRecord[] = [];
    const delivered: QueueReceipt[] = [];
    let expired = 0;
    let bytes = 0;
    const alloc = this.sequenceAllocator();
    const start = this.cursor % Math.max(1, partitionCount);
    this.cursor = start + 1;
    for (let i = 0; i < partitionCount; i += 1) {
      const p = (start + i) % partitionCount;
      const qp = this.partition(p);
      const r = qp.scan(this.config, nowMs, { max: limits.max - delivered.length, maxBytes: Math.max(0, limits.maxBytes - bytes), lockMs: limits.lockMs, nothingOversized: delivered.length > 0 }, alloc.next);
      bytes += r.bytes;
      records.push(...this.recordsOf(p, r.facts));
      for (const d of r.delivered) delivered.push({ partition: p, ...d });
      expired += r.expired;
    }
    records.push(...alloc.finish());
    return { records, delivered, expired };
  }

  /** Applies one operation to each receipt; each answered on its own (one bad receipt does not fail the others). */
  settle(op: ReceiptOperation, receipts: readonly QueueReceipt[], nowMs: number): { records: QueueStateRecord[]; outcomes: ReceiptOutcome[] } {
    const records: QueueStateRecord[] = [];
    const alloc = this.sequenceAllocator();
    const outcomes = receipts.map((r): ReceiptOutcome => {
      const qp = this.partition(r.partition);
      const res = op.op === 'ack' ? qp.ack(r)
        : op.op === 'nack' ? qp.nack(this.config, r, nowMs, op.delayMs)
          : op.op === 'extend' ? qp.extend(r, nowMs, op.lockMs)
            : qp.reject(r, alloc.next);
      if (!res.ok) return res;
      records.push(...this.recordsOf(r.partition, res.facts));
      return { ok: true };
    });
    records.push(...alloc.finish());
    return { records, outcomes };
  }

  /** Dead letters waiting for the dead-letter topic, in sequence order. */
  pendingDeadLetters(): Array<{ partition: number; offset: number; seq: number; deliveries: number; reason: string }> {
    const out = [];
    for (const qp of this.partitions.values()) {
      for (const { offset, state } of qp.pendingDeadLetters()) out.push({ partition: qp.partition, offset, seq: state.seq, deliveries: state.d, reason: state.reason });
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** The dead letter is in the dead-letter topic. */
  deadLettered(partition: number, offset: number): QueueStateRecord[] {
    return this.recordsOf(partition, this.partition(partition).deadLettered(offset));
  }

  /** The source partition's log starts above the floor (retention): records below it are gone. */
  skipTo(partition: number, logStartOffset: number): QueueStateRecord[] {
    return this.recordsOf(partition, this.partition(partition).skipTo(logStartOffset));
  }

  /** A new dead-letter producer (the old one's state is gone from the topic): sequences restart at 0. */
  renumberDeadLetters(producerId: number, producerEpoch: number): QueueStateRecord[] {
    const pending = this.pendingDeadLetters();
    const records: QueueStateRecord[] = [];
    pending.forEach((d, seq) => {
      const qp = this.partition(d.partition);
      const st = qp.state.messages.get(d.offset);
      if (st?.s !== 'dead') throw new Error(`dead letter ${d.partition}/${d.offset} vanished while renumbering`);
      records.push(...this.recordsOf(d.partition, qp.apply([{ kind: 'msg', offset: d.offset, state: { ...st, seq } }])));
    });
    return [...records, this.setValue({ ...this.value, deadLetters: { producerId, producerEpoch, nextSeq: pending.length } })];
  }

  private setValue(value: QueueGroupValue): QueueStateRecord {
    const record: QueueStateRecord = { key: { type: 'queue', group: this.id }, value };
    this.image.apply(record);
    return record;
  }

  /** Hands out dead-letter sequence numbers; `finish()` gives the group record that persists the next one. */
  private sequenceAllocator(): { next: () => number; finish: () => QueueStateRecord[] } {
    const first = this.value.deadLetters.nextSeq;
    let seq = first;
    return {
      next: () => seq++,
      finish: () => (seq === first ? [] : [this.setValue({ ...this.value, deadLetters: { ...this.value.deadLetters, nextSeq: seq } })]),
    };
  }

  private recordsOf(partition: number, facts: readonly QueueFact[]): QueueStateRecord[] {
    const topic = this.config.topic;
    const inc = this.value.incarnation;
    return facts.map((f): QueueStateRecord => (f.kind === 'floor'
      ? { key: { type: 'qfloor', group: this.id, topic, partition }, value: { inc, floor: f.floor } }
      : { key: { type: 'qmsg', group: this.id, topic, partition, offset: f.offset }, value: { inc, state: f.state } }));
  }
}
