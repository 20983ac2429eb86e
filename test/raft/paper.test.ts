import { describe, expect, it } from 'vitest';
import { MemoryStorage, asIndex, asNodeId, asTerm, limits, type AppendResponse, type Message } from '../../raft/index.js';
import { TestNet, bootedStorage, bytes } from './harness.js';

// Paper tests: each cites the section of the Raft paper (or Ongaro's thesis) whose rule it checks.
const n = asNodeId;

describe('elections', () => {
  it('§5.2: a candidate with a majority of votes becomes leader; the others follow it', () => {
    const net = new TestNet(3);
    net.elect(1);
    expect(net.raft(1).role).toBe('leader');
    expect(net.raft(1).term).toBe(2);
    for (const id of [2, 3]) {
      expect(net.raft(id).role).toBe('follower');
      expect(net.raft(id).lead).toBe(1);
    }
  });

  it('§5.2: a node grants at most one vote per term', () => {
    const net = new TestNet(3, { preVote: false });
    const r = net.raft(1);
    const ask = (from: number): Message => ({ type: 'vote', term: asTerm(5), from: n(from), to: n(1), lastIndex: asIndex(1), lastTerm: asTerm(1), transfer: false });
    r.step(ask(2));
    r.step(ask(3));
    const replies = r.msgsAfterAppend.filter((m) => m.type === 'voteResp');
    expect(replies.map((m) => [m.to, m.type === 'voteResp' && m.reject])).toEqual([[2, false], [3, true]]);
    expect(r.vote).toBe(2);
  });

  it('§5.4.1: a node refuses to vote for a candidate whose log is behind its own', () => {
    const net = new TestNet(3, { preVote: false, checkQuorum: false });
    net.elect(1);
    net.get(1).node.propose(bytes(1));
    net.stabilize();
    const r = net.raft(2);
    r.step({ type: 'vote', term: asTerm(9), from: n(3), to: n(2), lastIndex: asIndex(2), lastTerm: asTerm(2), transfer: false });
    const reply = r.msgsAfterAppend.find((m) => m.type === 'voteResp');
    expect(reply?.type === 'voteResp' && reply.reject).toBe(true);
  });

  it('§9.6 pre-vote: a partitioned node does not inflate its term, and rejoining disrupts nobody', () => {
    const net = new TestNet(3);
    net.elect(1);
    net.drop = (m) => m.from === 3 || m.to === 3;
    net.tickAll(10 * limits.electionTimeoutTicks);
    expect(net.raft(3).term).toBe(2);
    net.drop = () => false;
    net.tickAll(3 * limits.electionTimeoutTicks);
    expect(net.raft(1).role).toBe('leader');
    expect(net.raft(1).term).toBe(2);
  });

  it('check-quorum: a leader that cannot hear a majority steps down within two election timeouts', () => {
    const net = new TestNet(3);
    net.elect(1);
    net.drop = (m) => m.from === 1 || m.to === 1;
    net.tickAll(2 * limits.electionTimeoutTicks, [1]);
    expect(net.raft(1).role).toBe('follower');
  });
});

describe('log replication', () => {
  it('§5.3: entries proposed to the leader commit and are applied everywhere, in order', () => {
    const net = new TestNet(3);
    net.elect(1);
    for (let i = 1; i <= 5; i += 1) net.get(1).node.propose(bytes(i));
    net.stabilize();
    for (const id of [1, 2, 3]) {
      const applied = net.get(id).applied.filter((e) => e.type === 'normal').map((e) => e.data[0]);
      expect(applied).toEqual([1, 2, 3, 4, 5]);
    }
  });

  it('batches every proposal made between two Readys into one append per follower', () => {
    const net = new TestNet(3);
    net.elect(1);
    for (let i = 0; i < 10; i += 1) net.get(1).node.propose(bytes(i));
    const apps = net.drain(1).filter((m) => m.type === 'app');
    expect(apps.map((m) => m.to).sort()).toEqual([2, 3]);
    for (const m of apps) expect(m.type === 'app' && m.entries.length).toBe(10);
  });

  it('bounds the in-flight window in messages (replicate state)', () => {
    const net = new TestNet(2, { maxInflightMsgs: 2, maxSizePerMsgBytes: 1 });
    net.elect(1);
    net.drop = (m) => m.to === 2; // the follower hears nothing more
    for (let i = 0; i < 6; i += 1) {
      net.get(1).node.propose(bytes(i));
      net.drain(1);
    }
    const apps = net.inbox.filter((m) => m.type === 'app' && m.entries.length > 0);
    expect(apps).toHaveLength(2);
    expect(net.get(1).node.status().progress?.get(n(2))?.inflightMsgs).toBe(2);
  });

  it('§5.3: a follower with a conflicting tail is repaired, with fast backtracking', () => {
    const net = new TestNet(3, { preVote: false, checkQuorum: false });
    net.elect(1);
    net.drop = (m) => m.from === 1; // n1 writes 20 entries nobody sees
    for (let i = 0; i < 20; i += 1) net.get(1).node.propose(bytes(i));
    net.stabilize();
    net.drop = (m) => m.from === 1 || m.to === 1;
    net.elect(2);
    expect(net.raft(2).role).toBe('leader');
    net.get(2).node.propose(bytes(99));
    net.stabilize();
    let rejects = 0;
    net.drop = (m) => {
      if (m.type === 'appResp' && m.reject) rejects += 1;
      return false;
    };
    net.tickAll(3);
    expect(rejects).toBeLessThanOrEqual(2);
    expect(net.raft(1).log.lastIndex()).toBe(net.raft(2).log.lastIndex());
    expect(net.get(1).applied.at(-1)?.data[0]).toBe(99);
  });

  it('§5.4.2 / Figure 8: a leader never commits an entry of an earlier term by counting replicas', () => {
    const storages = [1, 2, 3].map(() => bootedStorage([n(1), n(2), n(3)]));
    for (const s of storages) {
      s.append([{ index: asIndex(2), term: asTerm(2), type: 'normal', data: bytes(7) }]);
      s.setHardState({ term: asTerm(3), vote: n(0), commit: asIndex(1) });
    }
    const net = new TestNet(0, { preVote: false });
    storages.forEach((s, i) => net.add(n(i + 1), s));
    net.drop = (m) => m.type === 'app'; // elect n1 (term 4) without replicating its no-op
    net.elect(1);
    const r = net.raft(1);
    expect(r.role).toBe('leader');
    const ack = (from: number, index: number): AppendResponse =>
      ({ type: 'appResp', term: r.term, from: n(from), to: n(1), index: asIndex(index), reject: false, rejectHint: asIndex(0), logTerm: asTerm(0) });
    r.step(ack(2, 2));
    r.step(ack(3, 2));
    expect(r.log.committed).toBe(1); // entry 2 (term 2) sits on all three nodes, still uncommitted
    r.step(ack(2, 3));
    expect(r.log.committed).toBe(3); // the no-op of term 4 commits, and entry 2 with it
  });
});

describe('durability (promise 1)', () => {
  it('a follower acknowledges an append only in the Ready after the one that persists it', () => {
    const net = new TestNet(2);
    net.elect(1);
    net.get(1).node.propose(bytes(1));
    net.drain(1);
    const app = net.inbox.find((m) => m.type === 'app')!;
    const f = net.get(2).node;
    f.step(app);
    const rd1 = f.ready();
    expect(rd1.entries).toHaveLength(1);
    expect(rd1.mustSync).toBe(true);
    expect(rd1.messages.filter((m) => m.type === 'appResp')).toHaveLength(0);
    f.advance(rd1);
    const rd2 = f.ready();
    expect(rd2.messages.filter((m) => m.type === 'appResp')).toHaveLength(1);
    f.advance(rd2);
  });

  it('a vote is persisted (mustSync) before the vote response leaves', () => {
    const net = new TestNet(2, { preVote: false });
    const f = net.get(2).node;
    f.step({ type: 'vote', term: asTerm(2), from: n(1), to: n(2), lastIndex: asIndex(1), lastTerm: asTerm(1), transfer: false });
    const rd1 = f.ready();
    expect(rd1.hardState?.vote).toBe(1);
    expect(rd1.mustSync).toBe(true);
    expect(rd1.messages).toHaveLength(0);
    f.advance(rd1);
    expect(f.ready().messages.map((m) => m.type)).toEqual(['voteResp']);
  });

  it('a single-node leader commits its entry only after advance() confirms its own fsync', () => {
    const net = new TestNet(1);
    net.elect(1);
    const node = net.get(1).node;
    const res = node.propose(bytes(5));
    expect(res.ok).toBe(true);
    const rd = node.ready();
    expect(rd.entries).toHaveLength(1);
    expect(node.raft.log.committed).toBeLessThan(rd.entries[0]!.index);
    net.get(1).storage.append(rd.entries); // the host's write + fsync
    node.advance(rd);
    expect(node.raft.log.committed).toBe(rd.entries[0]!.index);
  });
});

describe('leadership transfer (thesis §3.10)', () => {
  it('hands leadership to an up-to-date follower', () => {
    const net = new TestNet(3);
    net.elect(1);
    expect(net.get(1).node.transferLeadership(n(2)).ok).toBe(true);
    net.stabilize();
    expect(net.raft(2).role).toBe('leader');
    expect(net.raft(1).role).toBe('follower');
  });

  it('refuses proposals while transferring and aborts after an election timeout', () => {
    const net = new TestNet(3);
    net.elect(1);
    net.drop = (m) => m.to === 2 || m.from === 2;
    net.get(1).node.propose(bytes(1));
    net.stabilize();
    net.get(1).node.transferLeadership(n(2));
    const refused = net.get(1).node.propose(bytes(2));
    expect(refused.ok === false && refused.code).toBe('transferring');
    net.tickAll(limits.electionTimeoutTicks, [1]);
    expect(net.raft(1).leadTransferee).toBe(0);
    expect(net.get(1).node.propose(bytes(3)).ok).toBe(true);
  });
});

describe('membership (thesis ch. 4, one server at a time)', () => {
  it('adds a learner, lets it catch up without voting, promotes it, then removes a voter', () => {
    const net = new TestNet(3);
    net.elect(1);
    for (let i = 0; i < 5; i += 1) net.get(1).node.propose(bytes(i));
    net.stabilize();
    const leader = net.get(1).node;
    net.add(n(4), new MemoryStorage()); // an empty replica with no config of its own
    expect(leader.proposeConfChange({ type: 'addLearner', nodeId: n(4) }).ok).toBe(true);
    const pending = leader.proposeConfChange({ type: 'removeNode', nodeId: n(3) });
    expect(pending.ok === false && pending.code).toBe('confChangePending');
    net.stabilize();
    expect(net.raft(1).conf.learners).toEqual([4]);
    expect(leader.status().progress?.get(n(4))?.match).toBe(net.raft(1).log.lastIndex());
    net.tickAll(3 * limits.electionTimeoutTicks, [4]); // a learner never campaigns
    expect(net.raft(4).role).toBe('follower');
    expect(leader.proposeConfChange({ type: 'addVoter', nodeId: n(4) }).ok).toBe(true);
    net.stabilize();
    expect(net.raft(1).conf.voters).toEqual([1, 2, 3, 4]);
    expect(leader.proposeConfChange({ type: 'removeNode', nodeId: n(3) }).ok).toBe(true);
    net.stabilize();
    for (const id of [1, 2, 4]) expect(net.raft(id).conf).toEqual({ voters: [1, 2, 4], learners: [] });
  });

  it('a leader first commits an entry of its own term before accepting a change (raft-dev 2015 fix)', () => {
    const net = new TestNet(3);
    net.drop = (m) => m.type === 'app';
    net.elect(1);
    const res = net.get(1).node.proposeConfChange({ type: 'addLearner', nodeId: n(9) });
    expect(res.ok === false && res.code).toBe('confChangePending');
  });
});

describe('log compaction', () => {
  it('a follower behind the leader\'s log start is brought up by a snapshot (log-start reset)', () => {
    const net = new TestNet(3);
    net.elect(1);
    net.drop = (m) => m.to === 3 || m.from === 3;
    for (let i = 0; i < 20; i += 1) net.get(1).node.propose(bytes(i));
    net.stabilize();
    const leader = net.get(1);
    const applied = leader.node.raft.log.applied;
    leader.storage.compact(applied, net.raft(1).conf);
    net.drop = () => false;
    net.tickAll(2);
    const snapshot = net.get(3).storage.snapshot();
    expect(snapshot.meta.index).toBe(applied);
    expect(net.raft(3).log.committed).toBe(net.raft(1).log.committed);
    expect(net.raft(3).log.firstIndex()).toBe(applied + 1);
  });
});

describe('the host contract', () => {
  it('heartbeats are small and self-contained (the host coalesces them per peer and adds the group)', () => {
    const net = new TestNet(2);
    net.elect(1);
    net.get(1).node.tick();
    const hb = net.drain(1).find((m) => m.type === 'heartbeat')!;
    expect(Object.keys(hb).sort()).toEqual(['commit', 'from', 'term', 'to', 'type']);
  });

  it('an idle follower has nothing ready between ticks', () => {
    const net = new TestNet(3);
    net.elect(1);
    const f = net.get(2).node;
    for (let i = 0; i < limits.electionTimeoutTicks - 1; i += 1) {
      f.tick();
      expect(f.hasReady()).toBe(false);
    }
  });

  it('status() reports role, leader, commit and per-peer progress', () => {
    const net = new TestNet(3);
    net.elect(1);
    const s = net.get(1).node.status();
    expect(s).toMatchObject({ id: 1, role: 'leader', leader: 1, term: 2, commit: 2, lastIndex: 2 });
    expect([...s.progress!.keys()].sort()).toEqual([1, 2, 3]);
    expect(s.progress!.get(n(2))).toMatchObject({ match: 2, state: 'replicate' });
    expect(net.get(2).node.leader()).toBe(1);
  });

  it('refusals name the leader, for "not leader" hints', () => {
    const net = new TestNet(3);
    net.elect(1);
    const res = net.get(2).node.propose(bytes(1));
    expect(res).toMatchObject({ ok: false, code: 'notLeader', leader: 1 });
  });
});

describe('overload (promise 5: pushed back, not absorbed)', () => {
  it('refuses a proposal past maxUncommittedBytes with "overloaded" and accepts again once entries commit', () => {
    const net = new TestNet(3, { maxUncommittedBytes: 1_000 });
    net.elect(1);
    net.drop = () => true; // the followers hear nothing: nothing commits
    const leader = net.get(1).node;
    expect(leader.propose(new Uint8Array(600))).toMatchObject({ ok: true });
    expect(leader.propose(new Uint8Array(300))).toMatchObject({ ok: true });
    const refused = leader.propose(new Uint8Array(200));
    expect(refused).toMatchObject({ ok: false, code: 'overloaded', leader: 1 });
    const lastBefore = net.raft(1).log.lastIndex();
    net.stabilize();
    expect(net.raft(1).log.lastIndex()).toBe(lastBefore); // the refused entry was never appended
    net.drop = () => false;
    net.tickAll(3); // heartbeats bring the followers up to date; the entries commit
    expect(net.raft(1).log.committed).toBe(lastBefore);
    expect(leader.propose(new Uint8Array(200))).toMatchObject({ ok: true });
  });
});
