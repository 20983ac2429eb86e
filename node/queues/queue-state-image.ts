/**
 * The fold of the queue records of a group-state partition: per queue group its settings and,
 * per partition of its topic, the ack floor and the state of every record at or above it that
 * has one. Records below a floor are gone from memory. Partition records of an incarnation whose
 * group record has not been seen yet are held aside (compaction may have kept only a later group
 * record) and adopted when it comes; those of another incarnation are dropped then.
 * `records()` gives the state back as records (a checkpoint).
 */
import type { MessageState, QueueGroupValue, QueueStateRecord } from './queue-records.js';

/** The durable state of one partition of a queue group. */
export class QueuePartitionState {
  /** Every record below this offset is done. */
  floor = 0;
  /** State of records at or above the floor that were delivered or decided (others: never delivered). */
  readonly messages = new Map<number, MessageState>();

  setFloor(floor: number): void {
    if (floor < this.floor) throw new Error(`queue floor would move back from ${this.floor} to ${floor}`);
    this.floor = floor;
    for (const offset of this.messages.keys()) if (offset < floor) this.messages.delete(offset);
  }

  setMessage(offset: number, state: MessageState | null): void {
    if (offset < this.floor) return; // superseded by a floor written after it (replay of old records)
    if (state === null) this.messages.delete(offset);
    else this.messages.set(offset, state);
  }
}

export interface QueueGroupState {
  value: QueueGroupValue;
  readonly partitions: Map<number, QueuePartitionState>;
}

export class QueueStateImage {
  private readonly groups = new Map<string, QueueGroupState>();
  /** group → incarnation → partition states whose group record has not been applied yet. */
  private readonly pending = new Map<string, Map<string, Map<number, QueuePartitionState>>>();

  apply(r: QueueStateRecord): void {
    const k = r.key;
    if (k.type === 'queue') {
      const value = r.value as QueueGroupValue | null;
      const g = this.groups.get(k.group);
      if (value === null) this.groups.delete(k.group);
      else if (g && g.value.incarnation === value.incarnation) g.value = value;
      else this.groups.set(k.group, { value, partitions: this.pending.get(k.group)?.get(value.incarnation) ?? new Map() });
      this.pending.delete(k.group);
      return;
    }
    if (r.value === null) return; // never written: records of a group go with its group record
    const inc = (r.value as { inc: string }).inc;
    const g = this.groups.get(k.group);
    let partitions: Map<number, QueuePartitionState>;
    if (g && g.value.incarnation === inc) {
      partitions = g.partitions;
    } else {
      let byInc = this.pending.get(k.group);
      if (!byInc) this.pending.set(k.group, (byInc = new Map()));
      partitions = byInc.get(inc) ?? new Map();
      byInc.set(inc, partitions);
    }
    const p = this.partitionIn(partitions, k.partition);
    if (k.type === 'qfloor') p.setFloor((r.value as { floor: number }).floor);
    else p.setMessage(k.offset, (r.value as { state: MessageState }).state);
  }

  /** Forgets partition records no group record claimed (a deleted group's leftovers); called after a load. */
  dropOrphans(): void {
    this.pending.clear();
  }

  private partitionIn(partitions: Map<number, QueuePartitionState>, partition: number): QueuePartitionState {
    let p = partitions.get(partition);
    if (!p) partitions.set(partition, (p = new QueuePartitionState()));
    return p;
  }

  group(id: string): QueueGroupState | undefined {
    return this.groups.get(id);
  }

  /** The partition's state, created empty when the group has none yet. */
  partitionOf(id: string, partition: number): QueuePartitionState {
    const g = this.groups.get(id);
    if (!g) throw new Error(`queue group ${id} is not in the image`);
    return this.partitionIn(g.partitions, partition);
  }

  groupIds(): string[] {
    return [...this.groups.keys()].sort();
  }

  get liveRecordCount(): number {
    let n = 0;
    for (const g of this.groups.values()) {
      n += 1;
      for (const p of g.partitions.values()) n += 1 + p.messages.size;
    }
    return n;
  }

  /** The state as records: applying them to an empty image gives this image. */
  *records(): Generator<QueueStateRecord> {
    for (const [group, g] of this.groups) {
      yield { key: { type: 'queue', group }, value: g.value };
      const topic = g.value.config.topic;
      const inc = g.value.incarnation;
      for (const [partition, p] of g.partitions) {
        if (p.floor === 0 && p.messages.size === 0) continue; // nothing known: the same as absent
        yield { key: { type: 'qfloor', group, topic, partition }, value: { inc, floor: p.floor } };
        for (const [offset, state] of p.messages) yield { key: { type: 'qmsg', group, topic, partition, offset }, value: { inc, state } };
      }
    }
  }
}

