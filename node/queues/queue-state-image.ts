/**
 * The fold of the queue records of a group-state partition: per queue group its settings and,
 * per partition of its topic, the ack floor and the state of every record at or above it that
 * has one. Records below a floor are gone from memory; records of a group that was deleted (or
 * never created) are ignored. `records()` gives the state back as records (a checkpoint).
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

  apply(r: QueueStateRecord): void {
    const k = r.key;
    if (k.type === 'queue') {
      if (r.value === null) this.groups.delete(k.group);
      else if (this.groups.has(k.group)) this.groups.get(k.group)!.value = r.value as QueueGroupValue;
      else this.groups.set(k.group, { value: r.value as QueueGroupValue, partitions: new Map() });
      return;
    }
    const g = this.groups.get(k.group);
    if (!g || g.value.config.topic !== k.topic) return; // a deleted group's leftovers
    const p = this.partition(g, k.partition);
    if (k.type === 'qfloor') {
      if (r.value !== null) p.setFloor((r.value as { floor: number }).floor);
    } else {
      p.setMessage(k.offset, r.value as MessageState | null);
    }
  }

  private partition(g: QueueGroupState, partition: number): QueuePartitionState {
    let p = g.partitions.get(partition);
    if (!p) g.partitions.set(partition, (p = new QueuePartitionState()));
    return p;
  }

  group(id: string): QueueGroupState | undefined {
    return this.groups.get(id);
  }

  /** The partition's state, created empty when the group has none yet. */
  partitionOf(id: string, partition: number): QueuePartitionState {
    const g = this.groups.get(id);
    if (!g) throw new Error(`queue group ${id} is not in the image`);
    return this.partition(g, partition);
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
      for (const [partition, p] of g.partitions) {
        yield { key: { type: 'qfloor', group, topic, partition }, value: { floor: p.floor } };
        for (const [offset, state] of p.messages) yield { key: { type: 'qmsg', group, topic, partition, offset }, value: state };
      }
    }
  }
}

