// The host's handle on one Raft group: feed it time and messages, drain Ready, acknowledge.
//
// THE HOST LOOP (node/ and the simulator both do exactly this):
//
//   node.tick()              every tick (host's clock), and node.step(msg) for every message in
//   if (node.hasReady()) {
//     const rd = node.ready();
//     1. PERSIST  rd.snapshot (log-start reset), then rd.entries (append; an entry at index i
//                 replaces i and everything after it), then rd.hardState with rd.confState (one
//                 atomic write, e.g. one LevelDB batch: commit must never point past the entries).
//                 fsync all of it if rd.mustSync.
//     2. SEND     rd.messages (in any order, over any transport; drops are fine). When rd.hardState
//                 does not change term or vote (and there is no rd.snapshot), they may go out
//                 before or while step 1 runs: the leader then replicates in parallel with its own
//                 write (thesis §10.2.1); it counts itself only from advance() on.
//     3. APPLY    rd.snapshot, then rd.committedEntries, in order, to the state machine.
//     4. node.advance(rd)
//   }
//
// Durability rules, and how this API keeps them (promise 1 of DESIGN.md):
//  - A follower acknowledges an append, a granted vote or an installed snapshot only for state
//    that is persisted: those responses wait inside the core and go out in the Ready *after* the
//    one that carried the state, i.e. after advance() confirmed the persist. (Sending rd.messages
//    only after persisting a changed term or vote is still required: every message carries the
//    term, and a vote request the vote.)
//  - The leader counts its own copy toward the commit quorum only from advance() on, i.e. after
//    its own fsync of those entries; a candidate counts its own vote only once it is persisted.
//  - mustSync is false only when nothing but the commit index changed: losing it is harmless.
// ready() and advance() alternate strictly; step() and tick() may be called in between.
import { assert } from './assert.js';
import { proposeConfChange, propose, transferLeadership } from './proposals.js';
import { Raft, type ProposeResult, type RaftConfig } from './raft.js';
import type { Progress, ProgressState } from './progress.js';
import {
  asIndex, asTerm, isHardStateEqual, NO_NODE,
  type ConfChange, type ConfState, type Entry, type HardState, type Index, type Message, type NodeId,
  type Role, type Snapshot, type Term,
} from './types.js';

export interface Ready {
  /** Set when term, vote or commit changed. */
  readonly hardState: HardState | undefined;
  /** Set when the membership changed; persist atomically with hardState. */
  readonly confState: ConfState | undefined;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | undefined;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly mustSync: boolean;
}

export interface PeerStatus {
  readonly match: Index;
  readonly next: Index;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
  readonly inflightMsgs: number;
  readonly inflightBytes: number;
}

export interface Status {
  readonly id: NodeId;
  readonly term: Term;
  readonly vote: NodeId;
  readonly role: Role;
  readonly leader: NodeId;
  readonly commit: Index;
  readonly applied: Index;
  readonly lastIndex: Index;
  readonly firstIndex: Index;
  readonly conf: ConfState;
  readonly leadTransferee: NodeId;
  /** Leader only: per member (this node included), for lag and under-replication metrics. */
  readonly progress: ReadonlyMap<NodeId, PeerStatus> | undefined;
}

/** Storage contents of a freshly created group: a snapshot at index 1, term 1, holding the config. */
export function bootstrapState(conf: ConfState): { snapshot: Snapshot; hardState: HardState } {
  assert(conf.voters.length > 0, 'a group needs at least one voter');
  const snapshot: Snapshot = { meta: { index: asIndex(1), term: asTerm(1), confState: conf }, data: new Uint8Array(0) };
  return { snapshot, hardState: { term: asTerm(1), vote: NO_NODE, commit: asIndex(1) } };
}

interface Outstanding {
  readonly rd: Ready;
  /** Acknowledgements that may leave once rd is persisted. */
  readonly acks: readonly Message[];
}

export class RawNode {
  readonly raft: Raft;
  /** The hard state the host last persisted (what mustSync compares against). */
  prevHardState: HardState;
  private outstanding: Outstanding | undefined = undefined;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevHardState = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  step(m: Message): void {
    this.raft.step(m);
  }

  /** Start an election now (tests, or a host that knows the leader is gone). */
  campaign(): void {
    this.raft.hup(false);
  }

  propose(data: Uint8Array): ProposeResult {
    return propose(this.raft, data);
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    return proposeConfChange(this.raft, cc);
  }

  transferLeadership(to: NodeId): ProposeResult {
    return transferLeadership(this.raft, to);
  }

  /** The current leader as far as this node knows (NO_NODE if unknown): the "not leader" hint. */
  leader(): NodeId {
    return this.raft.lead;
  }

  /** O(1): the host polls this for every group on every loop turn. */
  hasReady(): boolean {
    if (this.outstanding !== undefined) return false;
    const r = this.raft;
    return r.msgs.length > 0 || r.msgsAfterAppend.length > 0 || r.appendPending || r.confChanged ||
      r.log.unstableEntries().length > 0 || r.log.unstableSnapshot !== undefined ||
      r.log.hasNextCommittedEnts() || !isHardStateEqual(r.hardState(), this.prevHardState);
  }

  ready(): Ready {
    assert(this.outstanding === undefined, 'ready() called again before advance()');
    const r = this.raft;
    r.flushAppends();
    const hs = r.hardState();
    const hardState = isHardStateEqual(hs, this.prevHardState) ? undefined : hs;
    const entries = r.log.unstableEntries().slice();
    const snapshot = r.log.unstableSnapshot;
    const committedEntries = r.log.nextCommittedEnts(r.maxCommittedSizePerReadyBytes);
    if (committedEntries.length > 0) r.log.applying = committedEntries[committedEntries.length - 1]!.index;
    const rd: Ready = {
      hardState,
      confState: r.confChanged ? r.conf : undefined,
      entries,
      snapshot,
      committedEntries,
      messages: r.msgs,
      mustSync: this.mustSync(hs, entries, snapshot),
    };
    r.msgs = [];
    r.confChanged = false;
    this.outstanding = { rd, acks: r.msgsAfterAppend };
    r.msgsAfterAppend = [];
    return rd;
  }

  /** Term and vote must survive a crash before anything depending on them leaves; commit need not. */
  mustSync(hs: HardState, entries: readonly Entry[], snapshot: Snapshot | undefined): boolean {
    return entries.length > 0 || snapshot !== undefined || hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
  }

  /** The host persisted, sent and applied rd (in that order). */
  advance(rd: Ready): void {
    const out = this.outstanding;
    assert(out !== undefined && out.rd === rd, 'advance() without the matching ready()');
    this.outstanding = undefined;
    const r = this.raft;
    if (rd.hardState !== undefined) this.prevHardState = rd.hardState;
    if (rd.snapshot !== undefined) {
      r.log.stableSnapTo(rd.snapshot.meta.index);
      if (r.log.applied < rd.snapshot.meta.index) r.log.applied = rd.snapshot.meta.index;
    }
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) r.onPersisted(last.index, last.term);
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) r.log.appliedTo(lastCommitted.index);
    for (const m of out.acks) {
      if (m.to === r.id) r.step(m); // our own vote, now durable
      else r.msgs.push(m);
    }
  }

  status(): Status {
    const r = this.raft;
    let progress: Map<NodeId, PeerStatus> | undefined;
    if (r.role === 'leader') {
      progress = new Map();
      for (const [id, pr] of r.progress) progress.set(id, peerStatus(pr));
    }
    return {
      id: r.id, term: r.term, vote: r.vote, role: r.role, leader: r.lead,
      commit: r.log.committed, applied: r.log.applied, lastIndex: r.log.lastIndex(), firstIndex: r.log.firstIndex(),
      conf: r.conf, leadTransferee: r.leadTransferee, progress,
    };
  }
}

function peerStatus(pr: Progress): PeerStatus {
  return {
    match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner, recentActive: pr.recentActive,
    inflightMsgs: pr.inflights.size(), inflightBytes: pr.inflights.sizeBytes(),
  };
}
