/**
 * The fold of a group-state partition: the latest committed offset of every (group, partition)
 * and the latest persisted snapshot of every group. A coordinator rebuilds it by applying the
 * partition's records from the log start, then applies each of its own writes once committed.
 * `records()` is the whole state as records again (what a checkpoint rewrites). Queue-group
 * records are folded by `queues` (node/queues/queue-state-image.ts).
 */
import type { QueueStateRecord } from '../queues/queue-records.js';
import { QueueStateImage } from '../queues/queue-state-image.js';
import { partitionKey } from './partition-ref.js';
import type { GroupSnapshot } from './group-machine.js';
import type { CommittedOffsetValue, GroupStateRecord } from './group-records.js';

export class GroupStateImage {
  private readonly offsetsByGroup = new Map<string, Map<string, CommittedOffsetValue & { topic: string; partition: number }>>();
  private readonly snapshots = new Map<string, GroupSnapshot>();
  private liveRecords = 0;
  readonly queues = new QueueStateImage();

  apply(r: GroupStateRecord): void {
    switch (r.key.type) {
      case 'offset': {
        const { group, topic, partition } = r.key;
        let offsets = this.offsetsByGroup.get(group);
        const k = partitionKey(topic, partition);
        const had = offsets?.has(k) ?? false;
        if (r.value === null) {
          if (had) this.liveRecords -= 1;
          offsets?.delete(k);
          if (offsets?.size === 0) this.offsetsByGroup.delete(group);
          return;
        }
        if (!offsets) this.offsetsByGroup.set(group, (offsets = new Map()));
        if (!had) this.liveRecords += 1;
        offsets.set(k, { ...(r.value as CommittedOffsetValue), topic, partition });
        return;
      }
      case 'group': {
        const had = this.snapshots.has(r.key.group);
        if (r.value === null) {
          if (had) this.liveRecords -= 1;
          this.snapshots.delete(r.key.group);
        } else {
          if (!had) this.liveRecords += 1;
          this.snapshots.set(r.key.group, r.value as GroupSnapshot);
        }
        return;
      }
      case 'loaded':
        return; // a marker only: it carries no state
      case 'queue':
      case 'qfloor':
      case 'qmsg':
        this.queues.apply(r as QueueStateRecord);
        return;
    }
  }

  /** Records that make up the state now (for checkpoint sizing). */
  get liveRecordCount(): number {
    return this.liveRecords + this.queues.liveRecordCount;
  }

  offsetsOf(group: string): ReadonlyMap<string, CommittedOffsetValue & { readonly topic: string; readonly partition: number }> {
    return this.offsetsByGroup.get(group) ?? new Map();
  }

  snapshotOf(group: string): GroupSnapshot | undefined {
    return this.snapshots.get(group);
  }

  /** Every group with a snapshot or a committed offset. */
  groupIds(): string[] {
    return [...new Set([...this.snapshots.keys(), ...this.offsetsByGroup.keys()])].sort();
  }

  /** The state as records: applying them to an empty image gives this image. */
  *records(): Generator<GroupStateRecord> {
    yield* this.queues.records();
    for (const [group, snap] of this.snapshots) yield { key: { type: 'group', group }, value: snap };
    for (const [group, offsets] of this.offsetsByGroup) {
      for (const o of offsets.values()) {
        yield { key: { type: 'offset', group, topic: o.topic, partition: o.partition }, value: { offset: o.offset, metadata: o.metadata, commitTimestampMs: o.commitTimestampMs } };
      }
    }
  }
}
