/**
 * The cluster metadata as a replicated state machine: the controller group's committed log,
 * applied in order, yields the same MetadataState on every node. apply() is deterministic and
 * total: a command that is no longer valid when it applies (a topic created twice concurrently)
 * produces an error result for its proposer and changes nothing.
 *
 * Topics get a numeric id, the controller log index that created them, so a deleted and
 * re-created topic never reuses the Raft groups, directories or offsets of the old one.
 */
import { MetadataImageError, type MetadataImageContent } from './metadata-image.js';
import { parseTopicConfig, resetTopicConfigKeys, topicConfigToStrings, type TopicConfig } from './topic-config.js';

export interface BrokerInfo {
  readonly nodeId: number;
  readonly address: string;
  readonly rack: string;
  /** Set when the broker missed heartbeats for its session timeout: no new replicas, not alive. */
  readonly fenced?: boolean;
  /** When it was fenced (the controller leader's wall clock, carried in the command). */
  readonly fencedAtMs?: number;
}

export interface PartitionInfo {
  readonly partition: number;
  /**
   * Replica node ids, preferred leader first. During a reassignment, the members the partition's
   * Raft group may still have; together with `target`, every node that may hold a copy.
   */
  readonly replicas: readonly number[];
  /** Where a reassignment in progress moves the replicas (preferred leader first). */
  readonly target?: readonly number[];
  /**
   * Set once the replica set changed after creation: a node that hosts the partition for the
   * first time must then join the existing Raft group (learn its configuration from the leader)
   * rather than start one from `replicas`.
   */
  readonly moved?: boolean;
}

/** A node hosts a partition while it is a replica or a reassignment's target. */
export function hostsOf(p: PartitionInfo): number[] {
  return [...new Set([...p.replicas, ...(p.target ?? [])])];
}

/** How many replicas the partition is meant to have: its target's while a move runs (`replicas` then also holds the leaving ones). */
export function replicationFactorOf(p: PartitionInfo): number {
  return (p.target ?? p.replicas).length;
}

/** Partitions one reassignment command may move. */
export const reassignmentMovesMax = 1_000;

export interface TopicInfo {
  readonly name: string;
  /** Controller log index of the creating command: unique over the cluster's life. */
  readonly topicId: number;
  readonly config: TopicConfig;
  readonly partitions: readonly PartitionInfo[];
}

export type MetadataCommand =
  | { readonly type: 'createTopic'; readonly name: string; readonly config: TopicConfig; readonly replicas: readonly (readonly number[])[] }
  | { readonly type: 'deleteTopic'; readonly name: string }
  /** Appends partitions (their replica sets, in order) to an existing topic. */
  | { readonly type: 'addPartitions'; readonly name: string; readonly fromCount: number; readonly replicas: readonly (readonly number[])[] }
  /** The change itself (not the resulting config), so concurrent alters compose when applied. */
  | { readonly type: 'alterTopicConfig'; readonly name: string; readonly set: Readonly<Record<string, string>>; readonly reset: readonly string[] }
  | { readonly type: 'registerBroker'; readonly broker: BrokerInfo }
  | { readonly type: 'fenceBroker'; readonly nodeId: number; readonly atMs?: number }
  | { readonly type: 'unfenceBroker'; readonly nodeId: number }
  /** Reserves `count` idempotent producer ids for `nodeId` to hand out. */
  | { readonly type: 'allocateProducerIds'; readonly nodeId: number; readonly count: number }
  /**
   * Starts moving partitions of a topic to target replica sets (preferred leader first). A move of
   * a partition already moving replaces its target; the nodes of the old target stay in
   * `replicas` until the partition's leader has converged on the new one.
   */
  | { readonly type: 'reassignPartitions'; readonly topic: string; readonly moves: readonly { readonly partition: number; readonly target: readonly number[] }[] }
  /** The partition's Raft group now has exactly `target` as voters: the move is done. */
  | { readonly type: 'completeReassignment'; readonly topicId: number; readonly partition: number; readonly target: readonly number[] };

/** Producer ids one allocation may reserve. */
export const producerIdBlockMax = 100_000;

export type ApplyResult =
  | { readonly ok: true; readonly topic?: TopicInfo; readonly firstProducerId?: number }
  | { readonly ok: false; readonly code: 'TOPIC_ALREADY_EXISTS' | 'UNKNOWN_TOPIC_OR_PARTITION' | 'INVALID_REQUEST' | 'INVALID_CONFIG' | 'INVALID_REPLICATION_FACTOR'; readonly message: string };

const commandFormatVersion = 1;

export function encodeCommand(cmd: MetadataCommand): Buffer {
  return Buffer.from(JSON.stringify({ v: commandFormatVersion, cmd }));
}

export function decodeCommand(bytes: Uint8Array): MetadataCommand {
  const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { v?: number; cmd?: MetadataCommand };
  if (parsed.v !== commandFormatVersion || !parsed.cmd || typeof parsed.cmd.type !== 'string') {
    throw new Error(`metadata command of unknown format (v=${String(parsed.v)})`);
  }
  return parsed.cmd;
}

/** The Raft group key of a partition: short, because coalesced heartbeats carry it. */
export function partitionGroupKey(topicId: number, partition: number): string {
  return `${topicId}/${partition}`;
}

export class MetadataState {
  private readonly topicsByName = new Map<string, TopicInfo>();
  private readonly brokerMap = new Map<number, BrokerInfo>();
  /** Index of the last applied controller entry: the metadata version. */
  private appliedIndex = 0;
  /** The next idempotent producer id never reserved (ids are never reused). */
  private nextProducerIdValue = 0;

  get nextProducerId(): number {
    return this.nextProducerIdValue;
  }

  get version(): number {
    return this.appliedIndex;
  }

  topics(): IterableIterator<TopicInfo> {
    return this.topicsByName.values();
  }

  topic(name: string): TopicInfo | undefined {
    return this.topicsByName.get(name);
  }

  brokers(): IterableIterator<BrokerInfo> {
    return this.brokerMap.values();
  }

  broker(nodeId: number): BrokerInfo | undefined {
    return this.brokerMap.get(nodeId);
  }

  /** Records that entry `index` applied without a command (a no-op or membership change). */
  skip(index: number): void {
    this.advanceTo(index);
  }

  apply(index: number, cmd: MetadataCommand): ApplyResult {
    this.advanceTo(index);
    switch (cmd.type) {
      case 'createTopic': {
        if (this.topicsByName.has(cmd.name)) {
          return { ok: false, code: 'TOPIC_ALREADY_EXISTS', message: `topic "${cmd.name}" already exists` };
        }
        if (cmd.replicas.length === 0 || cmd.replicas.some((r) => r.length === 0 || new Set(r).size !== r.length)) {
          return { ok: false, code: 'INVALID_REQUEST', message: `topic "${cmd.name}": every partition needs distinct replicas` };
        }
        const topic: TopicInfo = {
          name: cmd.name, topicId: index, config: cmd.config,
          partitions: cmd.replicas.map((replicas, partition) => ({ partition, replicas: [...replicas] })),
        };
        this.topicsByName.set(cmd.name, topic);
        return { ok: true, topic };
      }
      case 'alterTopicConfig': {
        const t = this.topicsByName.get(cmd.name);
        if (!t) return { ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION', message: `topic "${cmd.name}" does not exist` };
        // Computed from the config as of this entry, so an alter never undoes an earlier one.
        const reset = resetTopicConfigKeys(t.config, cmd.reset);
        const next = reset.ok ? parseTopicConfig(cmd.set, reset.value) : reset;
        if (!next.ok) return { ok: false, code: 'INVALID_CONFIG', message: next.problems.join('; ') };
        const topic: TopicInfo = { ...t, config: next.value };
        this.topicsByName.set(cmd.name, topic);
        return { ok: true, topic };
      }
      case 'addPartitions': {
        const t = this.topicsByName.get(cmd.name);
        if (!t) return { ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION', message: `topic "${cmd.name}" does not exist` };
        // Decided against the count the proposer saw: a concurrent change makes this one fail, not double.
        if (t.partitions.length !== cmd.fromCount) {
          return { ok: false, code: 'INVALID_REQUEST', message: `topic "${cmd.name}" has ${t.partitions.length} partitions now, not ${cmd.fromCount}; retry` };
        }
        if (cmd.replicas.length === 0 || cmd.replicas.some((r) => r.length === 0 || new Set(r).size !== r.length)) {
          return { ok: false, code: 'INVALID_REQUEST', message: `topic "${cmd.name}": every new partition needs distinct replicas` };
        }
        const added = cmd.replicas.map((replicas, i) => ({ partition: t.partitions.length + i, replicas: [...replicas] }));
        const topic: TopicInfo = { ...t, partitions: [...t.partitions, ...added] };
        this.topicsByName.set(cmd.name, topic);
        return { ok: true, topic };
      }
      case 'deleteTopic':
        if (!this.topicsByName.delete(cmd.name)) {
          return { ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION', message: `topic "${cmd.name}" does not exist` };
        }
        return { ok: true };
      case 'registerBroker':
        // A broker that registers is alive: registration also lifts a fence.
        this.brokerMap.set(cmd.broker.nodeId, { nodeId: cmd.broker.nodeId, address: cmd.broker.address, rack: cmd.broker.rack, fenced: false });
        return { ok: true };
      case 'fenceBroker':
      case 'unfenceBroker': {
        const b = this.brokerMap.get(cmd.nodeId);
        if (!b) return { ok: false, code: 'INVALID_REQUEST', message: `broker ${cmd.nodeId} is not registered` };
        const { fencedAtMs: _old, ...rest } = b;
        const atMs = cmd.type === 'fenceBroker' ? cmd.atMs : undefined;
        this.brokerMap.set(cmd.nodeId, { ...rest, fenced: cmd.type === 'fenceBroker', ...(atMs !== undefined ? { fencedAtMs: atMs } : {}) });
        return { ok: true };
      }
      case 'reassignPartitions':
        return this.reassign(cmd.topic, cmd.moves);
      case 'completeReassignment':
        return this.completeReassignment(cmd.topicId, cmd.partition, cmd.target);
      case 'allocateProducerIds': {
        if (!(Number.isInteger(cmd.count) && cmd.count >= 1 && cmd.count <= producerIdBlockMax)) {
          return { ok: false, code: 'INVALID_REQUEST', message: `a producer id block holds 1-${producerIdBlockMax} ids, not ${cmd.count}` };
        }
        const first = this.nextProducerIdValue;
        if (!Number.isSafeInteger(first + cmd.count)) throw new Error(`producer ids exhausted at ${first}`);
        this.nextProducerIdValue = first + cmd.count;
        return { ok: true, firstProducerId: first };
      }
      default:
        return assertNever(cmd);
    }
  }

  /** Validates every move first: one bad move rejects the command and changes nothing. */
  private reassign(name: string, moves: readonly { readonly partition: number; readonly target: readonly number[] }[]): ApplyResult {
    const t = this.topicsByName.get(name);
    if (!t) return { ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION', message: `topic "${name}" does not exist` };
    if (moves.length === 0 || moves.length > reassignmentMovesMax) {
      return { ok: false, code: 'INVALID_REQUEST', message: `a reassignment moves 1-${reassignmentMovesMax} partitions, not ${moves.length}` };
    }
    const partitions = [...t.partitions];
    const seen = new Set<number>();
    for (const { partition, target } of moves) {
      const p = partitions[partition];
      if (!p || !Number.isInteger(partition)) {
        return { ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION', message: `topic "${name}" has partitions 0-${t.partitions.length - 1}, not ${partition}` };
      }
      if (seen.has(partition)) {
        return { ok: false, code: 'INVALID_REQUEST', message: `partition ${partition} of "${name}" appears twice in one reassignment` };
      }
      seen.add(partition);
      if (target.length === 0 || new Set(target).size !== target.length) {
        return { ok: false, code: 'INVALID_REPLICATION_FACTOR', message: `partition ${name}/${partition}: the target must be distinct node ids, got ${JSON.stringify(target)}` };
      }
      const unknown = target.filter((id) => !this.brokerMap.has(id));
      if (unknown.length > 0) {
        return { ok: false, code: 'INVALID_REQUEST', message: `partition ${name}/${partition}: node(s) ${unknown.join(', ')} are not registered brokers` };
      }
      // Members of a replaced target may already be in the Raft group: they stay hosts (in
      // `replicas`) until the leader has converged on the new target.
      const members = hostsOf(p);
      // Only a move to where the partition already is, with none under way, needs no driving.
      if (!p.target && sameList(p.replicas, target)) continue;
      partitions[partition] = { partition, replicas: members, target: [...target], ...(p.moved || members.length !== p.replicas.length ? { moved: true } : {}) };
    }
    const topic: TopicInfo = { ...t, partitions };
    this.topicsByName.set(name, topic);
    return { ok: true, topic };
  }

  private completeReassignment(topicId: number, partition: number, target: readonly number[]): ApplyResult {
    const t = [...this.topicsByName.values()].find((x) => x.topicId === topicId);
    const p = t?.partitions[partition];
    if (!t || !p) return { ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION', message: `partition ${topicId}/${partition} does not exist` };
    if (!p.target || !sameList(p.target, target)) {
      return { ok: false, code: 'INVALID_REQUEST', message: `partition ${t.name}/${partition} is not moving to ${JSON.stringify(target)} (target ${JSON.stringify(p.target ?? null)})` };
    }
    const partitions = t.partitions.map((x) => (x.partition === partition ? { partition, replicas: [...target], moved: true } : x));
    const topic: TopicInfo = { ...t, partitions };
    this.topicsByName.set(t.name, topic);
    return { ok: true, topic };
  }

  /** Everything this state holds, for a snapshot image (controller/metadata-image.ts). */
  toImage(): MetadataImageContent {
    if (this.appliedIndex < 1) throw new Error('an image of a metadata state that applied nothing');
    return {
      appliedIndex: this.appliedIndex,
      nextProducerId: this.nextProducerIdValue,
      brokers: [...this.brokerMap.values()].map((b) => ({
        nodeId: b.nodeId, address: b.address, rack: b.rack, fenced: b.fenced === true, ...(b.fencedAtMs !== undefined ? { fencedAtMs: b.fencedAtMs } : {}),
      })),
      topics: [...this.topicsByName.values()].map((t) => ({
        name: t.name, topicId: t.topicId, config: topicConfigToStrings(t.config), partitions: t.partitions.map(copyPartition),
      })),
    };
  }

  /**
   * Replaces the whole state with an image's (a restart from a snapshot, or one installed from
   * the leader). Everything is validated before anything changes: a bad image changes nothing.
   */
  loadImage(image: MetadataImageContent): void {
    const topics = new Map<string, TopicInfo>();
    for (const t of image.topics) {
      const config = parseTopicConfig(t.config);
      if (!config.ok) throw new MetadataImageError(`metadata image: topic "${t.name}" config is invalid: ${config.problems.join('; ')}`);
      if (t.topicId > image.appliedIndex) throw new MetadataImageError(`metadata image: topic "${t.name}" id ${t.topicId} is past the image index ${image.appliedIndex}`);
      topics.set(t.name, { name: t.name, topicId: t.topicId, config: config.value, partitions: t.partitions.map(copyPartition) });
    }
    this.topicsByName.clear();
    for (const [name, t] of topics) this.topicsByName.set(name, t);
    this.brokerMap.clear();
    for (const b of image.brokers) this.brokerMap.set(b.nodeId, { ...b });
    this.nextProducerIdValue = image.nextProducerId;
    this.appliedIndex = image.appliedIndex;
  }

  private advanceTo(index: number): void {
    if (!(Number.isInteger(index) && index > this.appliedIndex)) {
      throw new Error(`metadata entry ${index} applied after ${this.appliedIndex}: entries must apply once, in order`);
    }
    this.appliedIndex = index;
  }
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function copyPartition(p: PartitionInfo): PartitionInfo {
  return {
    partition: p.partition, replicas: [...p.replicas],
    ...(p.target ? { target: [...p.target] } : {}), ...(p.moved ? { moved: true } : {}),
  };
}

function assertNever(x: never): never {
  throw new Error(`unknown metadata command ${JSON.stringify(x)}`);
}
