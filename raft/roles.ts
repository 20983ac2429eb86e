// The step functions of the three roles and the message handlers behind them. raft.ts swaps
// stepFn between these on every role change; the common term checks have run before any of them.
import { assert } from './assert.js';
import { stalledHeartbeatsBeforeProbe } from './constants.js';
import type { Raft } from './raft.js';
import {
  asIndex, asTerm, NO_NODE,
  type AppendRequest, type AppendResponse, type Heartbeat, type HeartbeatResponse, type InstallSnapshot,
  type Message, type NodeId,
} from './types.js';

export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case 'appResp':
      handleAppendResponse(r, m);
      return;
    case 'heartbeatResp':
      handleHeartbeatResponse(r, m);
      return;
    case 'app':
    case 'heartbeat':
    case 'snap':
      // Same term, another leader: Election Safety (§5.2) is broken. Never limp on.
      assert(false, `leader ${r.id} of term ${r.term} got ${m.type} from ${m.from} in the same term`);
      return;
    case 'vote':
    case 'preVote':
    case 'voteResp':
    case 'preVoteResp':
    case 'timeoutNow':
      return; // stale or irrelevant to a leader
  }
}

export function stepCandidate(r: Raft, m: Message): void {
  switch (m.type) {
    case 'app':
      r.becomeFollower(m.term, m.from); // someone won this term (§5.2)
      r.handleAppend(m);
      return;
    case 'heartbeat':
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case 'snap':
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case 'voteResp':
    case 'preVoteResp': {
      const mine = (m.type === 'preVoteResp') === (r.role === 'preCandidate');
      if (!mine) return; // a straggler from an earlier round
      r.votes.set(m.from, !m.reject);
      const result = r.pollResult();
      if (result === 'won') r.onElectionWon();
      else if (result === 'lost') r.becomeFollower(r.term, NO_NODE);
      return;
    }
    case 'vote':
    case 'preVote':
    case 'appResp':
    case 'heartbeatResp':
    case 'timeoutNow':
      return;
  }
}

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case 'app':
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleAppend(m);
      return;
    case 'heartbeat':
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case 'snap':
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case 'timeoutNow':
      r.hup(true); // leadership transfer (§3.10): campaign now, skipping pre-vote
      return;
    case 'vote':
    case 'preVote':
    case 'voteResp':
    case 'preVoteResp':
    case 'appResp':
    case 'heartbeatResp':
      return;
  }
}

function appResp(r: Raft, to: NodeId, fields: Pick<AppendResponse, 'index' | 'reject' | 'rejectHint' | 'logTerm'>): AppendResponse {
  return { type: 'appResp', term: r.term, from: r.id, to, ...fields };
}

/** §5.3 on the follower. Acks wait in msgsAfterAppend until the entries are persisted. */
export function handleAppendEntries(r: Raft, m: AppendRequest): void {
  const log = r.log;
  if (m.prevIndex < log.committed) {
    // Everything up to our commit is settled; tell the leader where we are.
    r.msgsAfterAppend.push(appResp(r, m.from, { index: log.committed, reject: false, rejectHint: asIndex(0), logTerm: asTerm(0) }));
    return;
  }
  if (!log.matchTerm(m.prevIndex, m.prevTerm)) {
    // Fast backtracking: skip, in one round trip, every entry of ours whose term is too new.
    const hint = log.findConflictByTerm(asIndex(Math.min(m.prevIndex, log.lastIndex())), m.prevTerm);
    r.msgsAfterAppend.push(appResp(r, m.from, { index: m.prevIndex, reject: true, rejectHint: hint.index, logTerm: hint.term }));
    return;
  }
  const conflict = log.findConflict(m.entries);
  if (conflict !== 0) {
    assert(conflict > log.committed, `leader ${m.from} would overwrite committed entry ${conflict}`);
    r.uncommittedConfIndexes = r.uncommittedConfIndexes.filter((i) => i < conflict);
    const fresh = m.entries.slice(conflict - m.prevIndex - 1);
    for (const e of fresh) if (e.type === 'conf') r.uncommittedConfIndexes.push(e.index);
    log.append(fresh);
  }
  const lastNew = asIndex(m.prevIndex + m.entries.length);
  r.commitTo(asIndex(Math.min(m.commit, lastNew)));
  r.msgsAfterAppend.push(appResp(r, m.from, { index: lastNew, reject: false, rejectHint: asIndex(0), logTerm: asTerm(0) }));
}

function handleHeartbeat(r: Raft, m: Heartbeat): void {
  // The leader sends min(commit, our match), so we hold it, unless our disk lost entries since
  // we acknowledged them: then our log is a prefix of what matched, and only that is committed.
  const last = r.log.lastIndex();
  r.commitTo(asIndex(Math.min(m.commit, last)));
  r.send({ type: 'heartbeatResp', term: r.term, from: r.id, to: m.from });
  const lost = r.lostLogEnd();
  if (m.commit > last && lost !== undefined) {
    // The leader thinks we hold more than we do, so it would send us nothing: reject at the
    // index we held before the damage (never below its match for us), hinting where we end.
    r.send(appResp(r, m.from, { index: lost.index, reject: true, rejectHint: last, logTerm: asTerm(0) }));
  }
}

/** Install a snapshot (log-start reset) unless our log already covers it. */
function handleSnapshot(r: Raft, m: InstallSnapshot): void {
  const meta = m.snapshot.meta;
  const reply = (index: number) =>
    r.msgsAfterAppend.push(appResp(r, m.from, { index: asIndex(index), reject: false, rejectHint: asIndex(0), logTerm: asTerm(0) }));
  if (meta.index <= r.log.committed) {
    reply(r.log.committed);
    return;
  }
  if (r.log.matchTerm(meta.index, meta.term)) {
    r.commitTo(meta.index); // we already hold that prefix: just learn that it is committed
    reply(r.log.lastIndex());
    return;
  }
  r.log.restore(m.snapshot);
  r.uncommittedConfIndexes = [];
  r.applyConf(meta.confState);
  reply(meta.index);
}

function handleAppendResponse(r: Raft, m: AppendResponse): void {
  const pr = r.progress.get(m.from);
  if (pr === undefined) return; // removed meanwhile
  pr.recentActive = true;
  if (m.reject) {
    let hint = m.rejectHint;
    if (m.logTerm > 0) hint = r.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
    if (pr.maybeDecrTo(m.index, hint)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      r.sendAppend(m.from, true);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) return;
  if (pr.state === 'probe') pr.becomeReplicate();
  else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

  if (r.maybeCommit()) r.bcastAppend(); // a committed conf change may have removed m.from, or us
  else if (wasPaused) r.sendAppend(m.from, false);
  while (r.sendAppend(m.from, false)) { /* fill the window (bounded by inflights) */ }
  if (r.role !== 'leader') return;

  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
    r.send({ type: 'timeoutNow', term: r.term, from: r.id, to: m.from }); // caught up: go (§3.10)
  }
}

function handleHeartbeatResponse(r: Raft, m: HeartbeatResponse): void {
  const pr = r.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  pr.probeSent = false;
  if (pr.state !== 'probe' && pr.match < r.log.lastIndex()) {
    // Alive but not acknowledging: appends (or the snapshot) in flight were lost, e.g. across a
    // partition. Nothing else would tell us in the replicate state, so fall back to probing.
    pr.stalledBeats += 1;
    if (pr.stalledBeats >= stalledHeartbeatsBeforeProbe) pr.becomeProbe();
  }
  if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.match < r.log.lastIndex()) r.sendAppend(m.from, true); // a probe may be empty
}
