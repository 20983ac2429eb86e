/**
 * Consumer-group administration: list, describe (with lag per partition in records and in
 * seconds), reset offsets, delete. Lag is computed here, as Kafka's tools do: the coordinator
 * knows committed offsets, partition leaders know high watermarks and record timestamps.
 */
import { decodeBatch, readBatchHeader } from '../log/index.js';
import type { DescribeGroupResponse__Output } from '../proto/gen/ferry/v1/DescribeGroupResponse.js';
import type { FetchResponse__Output } from '../proto/gen/ferry/v1/FetchResponse.js';
import type { ListGroupsResponse__Output } from '../proto/gen/ferry/v1/ListGroupsResponse.js';
import type { OffsetFetchResponse__Output } from '../proto/gen/ferry/v1/OffsetFetchResponse.js';
import { type ConnectionPool, unary } from './connection-pool.js';
import { Consumer } from './consumer.js';
import { FerryError } from './errors.js';
import type { GroupRpc } from './group-rpc.js';
import type { MetadataCache } from './metadata-cache.js';

export interface GroupListing {
  readonly group: string;
  readonly state: string;
  readonly members: number;
  readonly assignor: string;
}

export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** The group's committed offset (next record to read), -1 when none. */
  readonly committedOffset: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  /** Records between the committed offset (or the log start) and the high watermark. */
  readonly lagMessages: number;
  /** Age of the next unconsumed record (now - its timestamp), 0 without lag. */
  readonly lagSeconds: number;
  /** The member assigned the partition, if any. */
  readonly memberId: string;
}

export interface GroupDescription {
  readonly group: string;
  readonly state: string;
  readonly generation: number;
  readonly assignor: string;
  readonly members: ReadonlyArray<{ memberId: string; clientId: string; topics: readonly string[]; assigned: ReadonlyArray<{ topic: string; partition: number }> }>;
  readonly partitions: readonly PartitionLag[];
}

export type OffsetResetSpec = 'earliest' | 'latest' | { readonly timestamp: number } | { readonly offset: number } | { readonly shiftBy: number };

export class GroupAdmin {
  constructor(private readonly pool: ConnectionPool, private readonly metadata: MetadataCache, private readonly rpc: GroupRpc) {}

  /** Every group of the cluster: each node lists those it coordinates. */
  async list(): Promise<GroupListing[]> {
    const md = await this.metadata.refresh();
    const answers = await Promise.all(md.brokers.filter((b) => b.alive).map((b) => this.rpc.ok<ListGroupsResponse__Output>(b.address, 'ListGroups', {}, 'list groups').catch(() => undefined)));
    const out = new Map<string, GroupListing>();
    for (const a of answers) for (const g of a?.groups ?? []) out.set(g.groupId, { group: g.groupId, state: g.state, members: g.members, assignor: g.assignor });
    return [...out.values()].sort((a, b) => (a.group < b.group ? -1 : 1));
  }

  /** The node coordinating a group now. */
  coordinatorOf(group: string): Promise<{ nodeId: number; address: string }> {
    return this.rpc.findCoordinator(group);
  }

  /** The group's committed offsets, "topic/partition" → offset. */
  async committed(group: string): Promise<Map<string, number>> {
    const res = await this.rpc.onCoordinator<OffsetFetchResponse__Output>(group, 'OffsetFetch', { groupId: group, partitions: [] });
    return new Map(res.offsets.map((o) => [`${o.topic}/${o.partition}`, o.offset]));
  }

  async describe(group: string, nowMs = Date.now()): Promise<GroupDescription> {
    const d = await this.rpc.onCoordinator<DescribeGroupResponse__Output>(group, 'DescribeGroup', { groupId: group });
    const owner = new Map<string, string>();
    for (const m of d.members) for (const p of m.assigned) owner.set(`${p.topic}/${p.partition}`, m.memberId);
    const committed = new Map(d.offsets.map((o) => [`${o.topic}/${o.partition}`, o.offset]));
    const keys = [...new Set([...committed.keys(), ...owner.keys()])].sort();
    const partitions = await Promise.all(keys.map(async (key): Promise<PartitionLag> => {
      const slash = key.lastIndexOf('/');
      const topic = key.slice(0, slash);
      const partition = Number(key.slice(slash + 1));
      const c = new Consumer(this.pool, this.metadata, { topic });
      const [logStartOffset, highWatermark] = await Promise.all([c.lookup(partition, 'earliest'), c.lookup(partition, 'latest')]);
      const offset = committed.get(key) ?? -1;
      const from = offset >= 0 ? Math.max(offset, logStartOffset) : logStartOffset;
      const behind = Math.max(0, highWatermark - from);
      const next = behind > 0 ? await this.nextRecordAt(topic, partition, from) : undefined;
      // Lag counts offsets, as Kafka's does, except that a tail of control records only (a new
      // leader's no-op, a retention decision) is no lag: there is nothing left to consume.
      const onlyControlLeft = next !== undefined && next.timestamp === undefined && next.scannedThrough >= highWatermark - 1;
      const lagMessages = onlyControlLeft ? 0 : behind;
      const ts = lagMessages > 0 ? next?.timestamp : undefined;
      return {
        topic, partition, committedOffset: offset, logStartOffset, highWatermark, lagMessages,
        lagSeconds: ts !== undefined ? Math.max(0, (nowMs - ts) / 1000) : 0, memberId: owner.get(key) ?? '',
      };
    }));
    return {
      group, state: d.state, generation: d.generation, assignor: d.assignor, partitions,
      members: d.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, topics: m.topics, assigned: m.assigned.map((p) => ({ topic: p.topic, partition: p.partition })) })),
    };
  }

  /**
   * Timestamp of the first data record at or after `offset` (control batches skipped) in one
   * fetch, and the last offset that fetch covered.
   */
  private async nextRecordAt(topic: string, partition: number, offset: number): Promise<{ timestamp: number | undefined; scannedThrough: number }> {
    const address = await this.metadata.leaderAddress(topic, partition);
    const res = await unary<object, FetchResponse__Output>(this.pool.get(address), 'Fetch',
      { maxWaitMs: 0, partitions: [{ topic, partition, fetchOffset: offset, maxBytes: 64 * 1024 }] }, 10_000);
    const records = res.results[0]?.records ?? Buffer.alloc(0);
    let scannedThrough = offset - 1;
    for (let pos = 0; pos < records.length;) {
      const h = readBatchHeader(records, pos);
      const batch = records.subarray(pos, pos + h.sizeBytes);
      pos += h.sizeBytes;
      scannedThrough = Math.max(scannedThrough, h.lastOffset);
      if (h.isControl || h.lastOffset < offset) continue;
      const r = decodeBatch(batch).records.find((x) => x.offset >= offset);
      if (r) return { timestamp: r.timestamp, scannedThrough };
    }
    return { timestamp: undefined, scannedThrough };
  }

  /**
   * Sets a group's committed offsets of a topic (all its partitions, or those given), only while
   * the group has no members (GROUP_NOT_EMPTY otherwise). shiftBy moves committed offsets (every
   * partition named must have one), clamped to [log start, high watermark]. Returns the offsets set.
   */
  async resetOffsets(group: string, topic: string, to: OffsetResetSpec, partitions?: readonly number[]): Promise<Map<number, number>> {
    const t = await this.metadata.topic(topic);
    const ids = partitions ?? t.partitions.map((p) => p.partition);
    const c = new Consumer(this.pool, this.metadata, { topic });
    const committed = typeof to === 'object' && 'shiftBy' in to ? await this.committed(group) : new Map<string, number>();
    const targets = new Map<number, number>();
    for (const p of ids) {
      if (!t.partitions[p]) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" has no partition ${p}`, false);
      const [start, end] = await Promise.all([c.lookup(p, 'earliest'), c.lookup(p, 'latest')]);
      let target: number;
      if (to === 'earliest' || to === 'latest' || 'timestamp' in to) target = to === 'earliest' ? start : to === 'latest' ? end : await c.lookup(p, to);
      else if ('offset' in to) target = to.offset;
      else {
        const now = committed.get(`${topic}/${p}`);
        if (now === undefined || now < 0) throw new FerryError('INVALID_REQUEST', `group ${group} has no committed offset for ${topic}/${p} to shift; reset it to an offset first`, false);
        target = now + to.shiftBy;
      }
      targets.set(p, Math.min(Math.max(target, start), end));
    }
    await this.rpc.onCoordinator(group, 'OffsetCommit', {
      groupId: group, memberId: '', generation: -1,
      partitions: [...targets].map(([partition, offset]) => ({ topic, partition, offset, metadata: 'reset' })),
    });
    return targets;
  }

  /** Deletes an empty group and its committed offsets. */
  async delete(group: string): Promise<void> {
    await this.rpc.onCoordinator(group, 'DeleteGroup', { groupId: group });
  }
}
