// The vocabulary of the core: branded numbers, entries, persistent state and the closed union of
// messages. Every message type here maps 1:1 to a proto/ message (the host adds the group id).

/** A Raft term. 0 means "none" (before the first election). */
export type Term = number & { readonly __brand: 'Term' };
/** A position in the Raft log (1-based). 0 means "before the first entry". */
export type Index = number & { readonly __brand: 'Index' };
/** A replica id, unique in the cluster. 0 is reserved for "no node". */
export type NodeId = number & { readonly __brand: 'NodeId' };

export const asTerm = (n: number): Term => n as Term;
export const asIndex = (n: number): Index => n as Index;
export const asNodeId = (n: number): NodeId => n as NodeId;
export const NO_NODE = 0 as NodeId;

/** normal: client data (one Kafka record batch); noop: a new leader's empty entry; conf: a ConfChange. */
export type EntryType = 'normal' | 'noop' | 'conf';

export interface Entry {
  readonly term: Term;
  readonly index: Index;
  readonly type: EntryType;
  /** The payload as given to propose(); never copied by the core. Empty for noop. */
  readonly data: Uint8Array;
}

/** Persisted before any message that depends on it is sent (see raw-node.ts for the order). */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: Index;
}

/** The membership. voters decide; learners only receive the log. The two sets are disjoint. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  /** The last index the snapshot covers; the log continues at index + 1. */
  readonly index: Index;
  readonly term: Term;
  /** Membership as of index. */
  readonly confState: ConfState;
}

/**
 * For Ferry a snapshot is mostly a "log-start reset": the prefix is gone by retention and the
 * follower restarts its log at index + 1. data carries any host state machine image (may be empty).
 */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export type ConfChangeType = 'addVoter' | 'addLearner' | 'removeNode';

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

interface Envelope {
  readonly term: Term;
  readonly from: NodeId;
  readonly to: NodeId;
}

/** Request a (pre-)vote. A pre-vote carries the term the sender would campaign in; nothing changes. */
export interface VoteRequest extends Envelope {
  readonly type: 'vote' | 'preVote';
  readonly lastIndex: Index;
  readonly lastTerm: Term;
  /** Set when the campaign follows a TimeoutNow: voters ignore their leader lease for it. */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'voteResp' | 'preVoteResp';
  readonly reject: boolean;
}

export interface AppendRequest extends Envelope {
  readonly type: 'app';
  readonly prevIndex: Index;
  readonly prevTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: Index;
}

export interface AppendResponse extends Envelope {
  readonly type: 'appResp';
  /** Accepted: the last index now known to match. Rejected: the prevIndex that did not match. */
  readonly index: Index;
  readonly reject: boolean;
  /** On reject: the follower's guess of where the logs may agree (fast backtracking) … */
  readonly rejectHint: Index;
  /** … and its term there (0 if the follower's log is shorter). */
  readonly logTerm: Term;
}

/** Small and self-contained so the host can coalesce them across groups per peer. */
export interface Heartbeat extends Envelope {
  readonly type: 'heartbeat';
  /** min(leader commit, follower match): a follower never learns a commit beyond what it holds. */
  readonly commit: Index;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeatResp';
}

export interface InstallSnapshot extends Envelope {
  readonly type: 'snap';
  readonly snapshot: Snapshot;
}

/** Leadership transfer: the target campaigns at once, ignoring pre-vote and leases (§3.10). */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeoutNow';
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | TimeoutNow;

export type MessageType = Message['type'];

export const emptyHardState: HardState = { term: asTerm(0), vote: NO_NODE, commit: asIndex(0) };
export const emptyConfState: ConfState = { voters: [], learners: [] };

export function isHardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Bytes an entry costs in flight and in Ready bounds: its payload. */
export function entryBytes(e: Entry): number {
  return e.data.byteLength;
}
