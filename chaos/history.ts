/**
 * What a chaos run records: every produce attempt with its outcome, and every read. A value is
 * unique per attempt ("p3-000123"), so a read value names exactly one attempt. Outcomes:
 *   ok      acknowledged (acks=all) at `offset`: must be readable there, forever
 *   fail    a definite failure (the node said the write did not happen): must never be read
 *   info    unknown (timeout, connection lost mid-call): may or may not be read, at most once
 */
export type ProduceOutcome =
  | { readonly type: 'ok'; readonly offset: number }
  | { readonly type: 'fail'; readonly code: string }
  | { readonly type: 'info'; readonly code: string };

export interface ProduceEvent {
  readonly kind: 'produce';
  readonly process: string;
  readonly value: string;
  readonly partition: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: ProduceOutcome;
}

/** A reader's view of one partition: offset → value, from one node at one time. */
export interface ReadEvent {
  readonly kind: 'read';
  readonly reader: string;
  readonly partition: number;
  readonly timeMs: number;
  readonly records: ReadonlyArray<{ readonly offset: number; readonly value: string }>;
  /** True for the final read after healing (these must hold every acknowledged value). */
  readonly final: boolean;
}

/** One poll of a consumer tailing one partition: the records it was handed, in order. */
export interface PollEvent {
  readonly kind: 'poll';
  readonly consumer: string;
  /** Set when the consumer is a member of this consumer group (partitions come and go). */
  readonly group?: string;
  readonly partition: number;
  readonly timeMs: number;
  readonly records: ReadonlyArray<{ readonly offset: number; readonly value: string }>;
}

export interface PartitionOffset {
  readonly partition: number;
  /** The next offset to read (Kafka's meaning of a committed offset). */
  readonly offset: number;
}

/**
 * A group member's assignment changed (a rebalance boundary): it was given partitions (it reads
 * them from the group's committed offset), or gave them up (revoked), or lost them (its session
 * expired). Its polls of a partition are held to continuity only between two such markers.
 */
export interface RebalanceEvent {
  readonly kind: 'rebalance';
  readonly group: string;
  readonly member: string;
  readonly timeMs: number;
  readonly action: 'assigned' | 'revoked' | 'lost';
  readonly generation: number;
  readonly partitions: readonly number[];
}

/** An offset commit a group member sent, once answered: acknowledged, or with its error. */
export interface CommitEvent {
  readonly kind: 'commit';
  readonly group: string;
  readonly member: string;
  readonly timeMs: number;
  readonly generation: number;
  readonly offsets: readonly PartitionOffset[];
  /** Absent when the coordinator acknowledged the commit; otherwise refused or unknown. */
  readonly error?: string;
}

/** A group's committed offsets as the cluster serves them after the final heal. */
export interface GroupOffsetsEvent {
  readonly kind: 'group-offsets';
  readonly group: string;
  readonly timeMs: number;
  readonly offsets: readonly PartitionOffset[];
}

export interface NemesisEvent {
  readonly kind: 'nemesis';
  readonly timeMs: number;
  readonly action: string;
  readonly nodes: readonly number[];
}

export type HistoryEvent = ProduceEvent | ReadEvent | PollEvent | NemesisEvent | RebalanceEvent | CommitEvent | GroupOffsetsEvent;
