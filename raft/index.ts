// The public surface of raft/: what node/, controller/ and the simulator may use.
export { RawNode, bootstrapState } from './raw-node.js';
export type { Ready, Status, PeerStatus } from './raw-node.js';
export type { RaftConfig, ProposeResult, ProposeErrorCode, LogPosition } from './raft.js';
export type { Storage, InitialState } from './storage.js';
export { MemoryStorage } from './storage.js';
export type { RandomSource } from './prng.js';
export { Xoshiro128 } from './prng.js';
export { encodeConfChange, decodeConfChange, applyConfChange, validateConfChange, isMember } from './confchange.js';
export { RaftInvariantError } from './assert.js';
export * as limits from './constants.js';
export type { ProgressState } from './progress.js';
export {
  asTerm, asIndex, asNodeId, NO_NODE, emptyConfState, emptyHardState,
} from './types.js';
export type {
  Term, Index, NodeId, Entry, EntryType, HardState, ConfState, Snapshot, SnapshotMeta, ConfChange,
  ConfChangeType, Role, Message, MessageType, VoteRequest, VoteResponse, AppendRequest, AppendResponse,
  Heartbeat, HeartbeatResponse, InstallSnapshot, TimeoutNow,
} from './types.js';
