// The Raft core: one replica's state machine. Messages in (step), time in (tick), and everything
// it wants done out (msgs, unstable entries, committed entries) for raw-node.ts to hand over.
// Roles are swapped functions (tickFn/stepFn), not subclasses. No I/O, no clock, no randomness of
// its own. Methods are public so tests can build deliberately broken variants of one instance.
import { assert, assertNever } from './assert.js';
import { applyConfChange, decodeConfChange } from './confchange.js';
import * as limits from './constants.js';
import { RaftLog } from './log.js';
import type { RandomSource } from './prng.js';
import { Progress } from './progress.js';
import { committedIndex, hasQuorum, voteResult } from './quorum.js';
import { handleAppendEntries, stepCandidate, stepFollower, stepLeader } from './roles.js';
import type { Storage } from './storage.js';
import {
  asIndex, asTerm, NO_NODE,
  type AppendRequest, type ConfState, type Entry, type EntryType, type HardState, type Index, type Message, type NodeId,
  type Role, type Term, type VoteRequest,
} from './types.js';

export interface RaftConfig {
  readonly id: NodeId;
  readonly storage: Storage;
  /** Election jitter. Inject a seeded source (prng.ts) so that a run can be replayed. */
  readonly random: RandomSource;
  /** The host's applied index at start (default: the snapshot index). */
  readonly applied?: Index;
  readonly electionTimeoutTicks?: number;
  readonly heartbeatIntervalTicks?: number;
  /** A leader that cannot hear a majority for an election timeout steps down (default on). */
  readonly checkQuorum?: boolean;
  /** Campaign only after a pre-vote round shows a majority would vote (default on, §9.6). */
  readonly preVote?: boolean;
  readonly maxInflightMsgs?: number;
  readonly maxInflightBytes?: number;
  readonly maxSizePerMsgBytes?: number;
  readonly maxCommittedSizePerReadyBytes?: number;
  readonly maxUncommittedBytes?: number;
  /**
   * After a restart that found the stored log shorter than it was (disk damage cut it): the last
   * entry it held before. This node may have acknowledged entries it no longer holds, so until its
   * log (replicated from a leader) or its commit index is back at that index, it votes as if its
   * log still ended there (a candidate must be at least as up to date as that) and it does not
   * campaign: exactly the votes an undamaged node would give, so no committed entry can be lost.
   */
  readonly lostLogEnd?: LogPosition;
}

export interface LogPosition {
  readonly index: Index;
  readonly term: Term;
}

export type ProposeErrorCode = 'notLeader' | 'transferring' | 'confChangePending' | 'invalidConfChange' | 'overloaded';
export type ProposeResult =
  | { readonly ok: true; readonly index: Index; readonly term: Term }
  | { readonly ok: false; readonly code: ProposeErrorCode; readonly leader: NodeId; readonly message: string };

export class Raft {
  readonly id: NodeId;
  readonly log: RaftLog;
  readonly random: RandomSource;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  readonly maxSizePerMsgBytes: number;
  readonly maxCommittedSizePerReadyBytes: number;
  readonly maxUncommittedBytes: number;

  term: Term = asTerm(0);
  vote: NodeId = NO_NODE;
  lead: NodeId = NO_NODE;
  role: Role = 'follower';
  conf: ConfState;
  /** Set when conf changed since the last Ready (the host persists it with the hard state). */
  confChanged = false;
  /** Per member, including this node; meaningful on the leader only. */
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();
  /** See RaftConfig.lostLogEnd; cleared for good once the log is back there. */
  private lost: LogPosition | undefined;
  /** Messages that may be sent at once. */
  msgs: Message[] = [];
  /** Messages that acknowledge state not yet persisted: released by advance() (see raw-node.ts). */
  msgsAfterAppend: Message[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NO_NODE;
  transferElapsed = 0;
  /** Leader: index of the last conf change it proposed (or of its no-op); rule 1 of confchange.ts. */
  pendingConfIndex: Index = asIndex(0);
  /** Conf change entries in the log above commit, ascending: they take effect when committed. */
  uncommittedConfIndexes: Index[] = [];
  /** Leader: proposals appended since the last flush, to be batched into one append per peer. */
  appendPending = false;
  /** Leader: data bytes of entries above commit, for push-back (sizes[k] is entry firstUncommitted+k). */
  uncommittedBytes = 0;
  uncommittedSizes: number[] = [];
  uncommittedFirst: Index = asIndex(1);

  tickFn: () => void = () => this.tickElection();
  stepFn: (m: Message) => void = (m) => stepFollower(this, m);

  constructor(config: RaftConfig) {
    this.id = config.id;
    assert(this.id !== NO_NODE, 'node id 0 is reserved');
    this.random = config.random;
    this.electionTimeoutTicks = config.electionTimeoutTicks ?? limits.electionTimeoutTicks;
    this.heartbeatIntervalTicks = config.heartbeatIntervalTicks ?? limits.heartbeatIntervalTicks;
    assert(this.heartbeatIntervalTicks > 0 && this.heartbeatIntervalTicks < this.electionTimeoutTicks,
      'heartbeat interval must be positive and below the election timeout');
    this.checkQuorum = config.checkQuorum ?? true;
    this.preVote = config.preVote ?? true;
    this.maxInflightMsgs = config.maxInflightMsgs ?? limits.maxInflightMsgs;
    this.maxInflightBytes = config.maxInflightBytes ?? limits.maxInflightBytes;
    this.maxSizePerMsgBytes = config.maxSizePerMsgBytes ?? limits.maxSizePerMsgBytes;
    this.maxCommittedSizePerReadyBytes = config.maxCommittedSizePerReadyBytes ?? limits.maxCommittedSizePerReadyBytes;
    this.maxUncommittedBytes = config.maxUncommittedBytes ?? limits.maxUncommittedBytes;

    this.log = new RaftLog(config.storage);
    const { hardState, confState } = config.storage.initialState();
    this.conf = confState;
    if (hardState.commit > 0) {
      assert(hardState.commit <= this.log.lastIndex(), `persisted commit ${hardState.commit} beyond the log`);
      this.log.commitTo(hardState.commit);
    }
    if (config.applied !== undefined) {
      this.log.appliedTo(config.applied);
      this.log.applying = config.applied;
    }
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.lost = config.lostLogEnd !== undefined && config.lostLogEnd.index > 0 ? config.lostLogEnd : undefined;
    this.scanUncommittedConf();
    this.becomeFollower(this.term, NO_NODE);
  }

  /** Conf entries above commit still have to take effect when they commit: find them once. */
  private scanUncommittedConf(): void {
    let lo = this.log.committed + 1;
    const hi = this.log.lastIndex() + 1;
    while (lo < hi) {
      const ents = this.log.slice(asIndex(lo), asIndex(hi), limits.startupScanBytes);
      assert(ents !== undefined && ents.length > 0, `cannot read entries from ${lo} at start-up`);
      for (const e of ents) if (e.type === 'conf') this.uncommittedConfIndexes.push(e.index);
      lo += ents.length;
    }
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---- roles ---------------------------------------------------------------------------------

  private reset(term: Term): void {
    if (this.term !== term) {
      assert(term > this.term, `term going back from ${this.term} to ${term}`);
      this.term = term;
      this.vote = NO_NODE;
    }
    this.lead = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    // Jitter in [T, 2T) so that split votes resolve (§5.2).
    this.randomizedElectionTimeout = this.electionTimeoutTicks + this.random.nextInt(this.electionTimeoutTicks);
    this.leadTransferee = NO_NODE;
    this.votes.clear();
    this.progress = this.newProgressMap();
    this.pendingConfIndex = asIndex(0);
    this.appendPending = false;
    this.uncommittedBytes = 0;
    this.uncommittedSizes = [];
    this.uncommittedFirst = asIndex(this.log.lastIndex() + 1);
  }

  private newProgressMap(): Map<NodeId, Progress> {
    const map = new Map<NodeId, Progress>();
    const next = asIndex(this.log.lastIndex() + 1);
    for (const id of this.conf.voters) map.set(id, this.newProgress(next, false));
    for (const id of this.conf.learners) map.set(id, this.newProgress(next, true));
    return map;
  }

  newProgress(next: Index, isLearner: boolean): Progress {
    return new Progress(next, isLearner, this.maxInflightMsgs, this.maxInflightBytes);
  }

  becomeFollower(term: Term, lead: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
    this.tickFn = () => this.tickElection();
    this.stepFn = (m) => stepFollower(this, m);
  }

  /** Pre-vote (§9.6): ask whether we could win at term+1 without disturbing anyone's term. */
  becomePreCandidate(): void {
    assert(this.role !== 'leader', 'leader cannot become a pre-candidate');
    this.role = 'preCandidate';
    this.lead = NO_NODE;
    this.votes.clear();
    this.tickFn = () => this.tickElection();
    this.stepFn = (m) => stepCandidate(this, m);
  }

  becomeCandidate(): void {
    assert(this.role !== 'leader', 'leader cannot become a candidate');
    this.reset(asTerm(this.term + 1));
    this.vote = this.id;
    this.role = 'candidate';
    this.tickFn = () => this.tickElection();
    this.stepFn = (m) => stepCandidate(this, m);
  }

  becomeLeader(): void {
    assert(this.role === 'candidate', `${this.role} cannot become leader`);
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    this.tickFn = () => this.tickHeartbeat();
    this.stepFn = (m) => stepLeader(this, m);
    const self = this.progress.get(this.id);
    assert(self !== undefined, 'leader is not in its own config');
    // The leader counts itself only for what it has persisted (durability rule, raw-node.ts).
    self.match = this.log.persistedLastIndex();
    self.becomeReplicate();
    self.recentActive = true;
    // The no-op commits everything before it (§5.4.2: earlier terms are never committed by
    // counting replicas) and, as pendingConfIndex, holds back conf changes until it commits.
    const noop = this.appendEntry('noop', new Uint8Array(0));
    this.pendingConfIndex = noop.index;
  }

  // ---- time ----------------------------------------------------------------------------------

  /** O(1) and allocation-free while nothing happens: the host ticks thousands of groups. */
  tick(): void {
    this.tickFn();
  }

  tickElection(): void {
    this.electionElapsed += 1;
    if (this.electionElapsed >= this.randomizedElectionTimeout && this.promotable()) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  tickHeartbeat(): void {
    this.heartbeatElapsed += 1;
    this.electionElapsed += 1;
    if (this.electionElapsed >= this.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NO_NODE); // check-quorum: we may be the stale side of a partition
        return;
      }
    }
    if (this.leadTransferee !== NO_NODE) {
      // Its own clock: a transfer must not postpone check-quorum. Not done in one timeout: abort.
      this.transferElapsed += 1;
      if (this.transferElapsed >= this.electionTimeoutTicks) this.leadTransferee = NO_NODE;
    }
    if (this.heartbeatElapsed >= this.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  /** Check-quorum: did a majority of voters talk to us since the last round? Resets the marks. */
  quorumActive(): boolean {
    const ok = hasQuorum(this.conf.voters, (id) => id === this.id || this.progress.get(id)?.recentActive === true);
    for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
    return ok;
  }

  promotable(): boolean {
    return this.conf.voters.includes(this.id) && this.log.unstableSnapshot === undefined;
  }

  // ---- elections -----------------------------------------------------------------------------

  /** Where the log ended before disk damage cut it, while it is not back there (see the config). */
  lostLogEnd(): LogPosition | undefined {
    if (this.lost !== undefined && (this.log.lastIndex() >= this.lost.index || this.log.committed >= this.lost.index)) this.lost = undefined;
    return this.lost;
  }

  /** Start an election: a pre-vote round first unless this is a leadership transfer. */
  hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable() || this.lostLogEnd() !== undefined) return;
    if (this.preVote && !transfer) this.campaign('preVote', false);
    else this.campaign('vote', transfer);
  }

  campaign(kind: 'preVote' | 'vote', transfer: boolean): void {
    let voteTerm: Term;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      voteTerm = asTerm(this.term + 1);
      this.votes.set(this.id, true); // nothing persisted, so our own pre-vote counts at once
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
      // Our own vote counts only once it is persisted: it comes back to us through advance().
      this.msgsAfterAppend.push({ type: 'voteResp', term: this.term, from: this.id, to: this.id, reject: false });
    }
    if (this.pollResult() === 'won') { this.onElectionWon(); return; }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const to of this.conf.voters) {
      if (to === this.id) continue;
      this.send({ type: kind, term: voteTerm, from: this.id, to, lastIndex, lastTerm, transfer });
    }
  }

  pollResult(): 'won' | 'lost' | 'pending' {
    return voteResult(this.conf.voters, this.votes);
  }

  onElectionWon(): void {
    if (this.role === 'preCandidate') this.campaign('vote', false);
    else {
      this.becomeLeader();
      this.bcastAppend();
    }
  }

  /** §5.2, §5.4.1, §9.6: grant when we have not voted for another and the log is up to date. */
  handleVoteRequest(m: VoteRequest): void {
    const isPre = m.type === 'preVote';
    const canVote = this.vote === m.from || (this.vote === NO_NODE && this.lead === NO_NODE) || (isPre && m.term > this.term);
    const lost = this.lostLogEnd();
    const upToDateWithLost = lost === undefined || m.lastTerm > lost.term || (m.lastTerm === lost.term && m.lastIndex >= lost.index);
    const grant = canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm) && upToDateWithLost;
    if (isPre) {
      // A granted pre-vote answers in the asker's future term so it is not discarded as stale.
      this.send({ type: 'preVoteResp', term: grant ? m.term : this.term, from: this.id, to: m.from, reject: !grant });
      return;
    }
    if (grant) {
      this.electionElapsed = 0;
      this.vote = m.from;
    }
    // Sent only after the vote is persisted (raw-node.ts releases msgsAfterAppend on advance).
    this.msgsAfterAppend.push({ type: 'voteResp', term: this.term, from: this.id, to: m.from, reject: !grant });
  }

  // ---- messages ------------------------------------------------------------------------------

  send(m: Message): void {
    assert(m.to !== this.id, `sending ${m.type} to self`);
    this.msgs.push(m);
  }

  /** Term checks common to all roles (§5.1), then the role's own step function. */
  step(m: Message): void {
    assert(m.to === this.id, `message for ${m.to} delivered to ${this.id}`);
    if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }
    switch (m.type) {
      case 'vote':
      case 'preVote':
        this.handleVoteRequest(m);
        return;
      case 'voteResp':
      case 'preVoteResp':
      case 'app':
      case 'appResp':
      case 'heartbeat':
      case 'heartbeatResp':
      case 'snap':
      case 'timeoutNow':
        this.stepFn(m);
        return;
      default:
        assertNever(m, 'message type');
    }
  }

  /** Returns false when the message must be dropped. */
  private stepHigherTerm(m: Message): boolean {
    if (m.type === 'vote' || m.type === 'preVote') {
      // Leader lease: while we hear from a leader, a disruptive candidate (e.g. one that was
      // partitioned away) cannot make us change term; a transfer is the sanctioned exception.
      const inLease = this.checkQuorum && this.lead !== NO_NODE && this.electionElapsed < this.electionTimeoutTicks;
      if (inLease && !m.transfer) return false;
      if (m.type === 'preVote') return true; // a pre-vote never changes our term
    }
    if (m.type === 'preVoteResp' && !m.reject) return true; // carries the term we would campaign in
    const lead = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' ? m.from : NO_NODE;
    this.becomeFollower(m.term, lead);
    return true;
  }

  private stepLowerTerm(m: Message): void {
    if ((this.checkQuorum || this.preVote) && (m.type === 'app' || m.type === 'heartbeat')) {
      // A stale leader (e.g. cut off, then healed) learns our term and steps down. Without this,
      // with pre-vote on, it could never be disrupted by our elections and the group stalls.
      this.send({ type: 'appResp', term: this.term, from: this.id, to: m.from, index: asIndex(0), reject: false, rejectHint: asIndex(0), logTerm: asTerm(0) });
    } else if (m.type === 'preVote') {
      this.send({ type: 'preVoteResp', term: this.term, from: this.id, to: m.from, reject: true });
    }
  }

  // ---- the log -------------------------------------------------------------------------------

  /** Leader: append one entry in the current term. Sending is batched (see flushAppends). */
  appendEntry(type: EntryType, data: Uint8Array): Entry {
    assert(this.role === 'leader', 'only a leader appends new entries');
    const entry: Entry = { term: this.term, index: asIndex(this.log.lastIndex() + 1), type, data };
    this.log.append([entry]);
    if (type === 'conf') this.uncommittedConfIndexes.push(entry.index);
    this.uncommittedSizes.push(data.byteLength);
    this.uncommittedBytes += data.byteLength;
    this.appendPending = true;
    return entry;
  }

  /** Advance commit and let committed conf changes take effect (rule 3 of confchange.ts). */
  commitTo(index: Index): boolean {
    if (!this.log.commitTo(index)) return false;
    while (this.uncommittedConfIndexes.length > 0 && this.uncommittedConfIndexes[0]! <= index) {
      const at = this.uncommittedConfIndexes.shift()!;
      const ents = this.log.slice(at, asIndex(at + 1), Number.MAX_SAFE_INTEGER);
      assert(ents !== undefined && ents.length === 1 && ents[0]!.type === 'conf', `no conf entry at ${at}`);
      this.applyConf(applyConfChange(this.conf, decodeConfChange(ents[0]!.data)));
    }
    while (this.uncommittedSizes.length > 0 && this.uncommittedFirst <= index) {
      this.uncommittedBytes -= this.uncommittedSizes.shift()!;
      this.uncommittedFirst = asIndex(this.uncommittedFirst + 1);
    }
    return true;
  }

  /** Switch to a new membership; keeps progress of members that stay. */
  applyConf(conf: ConfState): void {
    this.conf = conf;
    this.confChanged = true;
    const next = asIndex(this.log.lastIndex() + 1);
    const old = this.progress;
    this.progress = new Map();
    for (const id of [...conf.voters, ...conf.learners]) {
      const pr = old.get(id) ?? this.newProgress(next, false);
      pr.isLearner = conf.learners.includes(id);
      if (this.role === 'leader' && !old.has(id)) pr.recentActive = true; // give a new member one round
      this.progress.set(id, pr);
    }
    if (this.role !== 'leader') return;
    if (!conf.voters.includes(this.id)) {
      // A leader removed from the config steps down; the remaining voters elect a new one.
      this.becomeFollower(this.term, NO_NODE);
      return;
    }
    if (this.leadTransferee !== NO_NODE && !conf.voters.includes(this.leadTransferee)) this.leadTransferee = NO_NODE;
    if (this.maybeCommit()) this.bcastAppend(); // a smaller quorum may commit more at once
  }

  /**
   * Commit the highest index persisted by a majority of voters — but only if its entry is from
   * the current term (§5.4.2, Figure 8); earlier entries then commit with it (Log Matching).
   */
  maybeCommit(): boolean {
    const mci = committedIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? asIndex(0));
    if (mci <= this.log.committed || this.log.term(mci) !== this.term) return false;
    return this.commitTo(mci);
  }

  /** The host persisted entries through (index, term): a leader now counts its own copy. */
  onPersisted(index: Index, term: Term): void {
    const stillOurs = this.log.term(index) === term; // not truncated since the Ready was taken
    this.log.stableTo(index, term);
    if (this.role !== 'leader' || !stillOurs) return;
    const self = this.progress.get(this.id);
    if (self !== undefined && self.maybeUpdate(index) && this.maybeCommit()) this.bcastAppend();
  }

  /** A follower's side of AppendEntries (§5.3); a method so tests can break it on purpose. */
  handleAppend(m: AppendRequest): void {
    handleAppendEntries(this, m);
  }

  // ---- leader replication --------------------------------------------------------------------

  sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || this.role !== 'leader') return false; // removed, or we stepped down meanwhile
    if (pr.isPaused()) return false;
    const last = this.log.lastIndex();
    assert(pr.next <= last + 1, `progress of ${to}: next ${pr.next} beyond last ${last}`);
    const prevIndex = asIndex(pr.next - 1);
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.slice(pr.next, asIndex(last + 1), this.maxSizePerMsgBytes);
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', term: this.term, from: this.id, to, prevIndex, prevTerm, entries, commit: this.log.committed });
    if (entries.length > 0) {
      let bytes = 0;
      for (const e of entries) bytes += e.data.byteLength;
      pr.sentEntries(entries[entries.length - 1]!.index, bytes);
    } else if (pr.state === 'probe') {
      pr.probeSent = true;
    }
    return true;
  }

  /** The follower is behind our log start: send the snapshot (for Ferry: a log-start reset). */
  sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false; // do not ship a snapshot into the void
    const snapshot = this.log.storage.snapshot();
    assert(snapshot.meta.index >= this.log.firstIndex() - 1, 'storage snapshot older than the log start');
    pr.becomeSnapshot(snapshot.meta.index);
    this.send({ type: 'snap', term: this.term, from: this.id, to, snapshot });
    return true;
  }

  bcastAppend(): void {
    this.appendPending = false;
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  /** Called once per Ready: all proposals since the last one go out as one append per peer. */
  flushAppends(): void {
    if (!this.appendPending) return;
    this.appendPending = false;
    if (this.role !== 'leader') return;
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, false);
  }

  bcastHeartbeat(): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const commit = asIndex(Math.min(pr.match, this.log.committed));
      this.send({ type: 'heartbeat', term: this.term, from: this.id, to: id, commit });
    }
  }
}
