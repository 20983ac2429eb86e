/**
 * A replica whose disk lost part of its log (found at restart) must neither help elect a leader
 * that lacks an entry it had acknowledged nor lead itself, and must be brought back by the leader
 * even though the leader's progress still says it holds everything.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage, RawNode, Xoshiro128, asIndex, asNodeId, asTerm, type Message } from '../../raft/index.js';
import { TestNet } from './harness.js';

function damagedCopy(s: MemoryStorage, keepThrough: number): MemoryStorage {
  const d = new MemoryStorage();
  d.applySnapshot(s.snapshot());
  d.append(s.entries(s.firstIndex(), asIndex(keepThrough + 1), Number.MAX_SAFE_INTEGER)!);
  const init = s.initialState();
  d.setHardState({ ...init.hardState, commit: asIndex(Math.min(init.hardState.commit, keepThrough)) });
  d.setConfState(init.confState);
  return d;
}

describe('a replica that lost part of its log', () => {
  it('votes as if it still held it, does not campaign, and is re-replicated by the leader', () => {
    const net = new TestNet(3);
    net.elect(1);
    for (let i = 0; i < 6; i += 1) net.get(1).node.propose(Uint8Array.of(i));
    net.stabilize();
    const held = net.raft(3).log.lastIndex();
    const term = net.raft(3).log.lastTerm();
    expect(net.raft(1).log.committed).toBe(held);

    // Node 3 restarts with its log cut after index 3, knowing where it ended before.
    const cut = damagedCopy(net.get(3).storage, 3);
    const node = new RawNode({ id: asNodeId(3), storage: cut, random: new Xoshiro128(3), lostLogEnd: { index: held, term } });
    net.nodes.set(asNodeId(3), { node, storage: cut, applied: [] });
    expect(node.raft.lostLogEnd()).toEqual({ index: held, term });

    // It will not campaign...
    node.campaign();
    expect(node.raft.role).toBe('follower');
    // ...and grants only candidates at least as up to date as the log it lost.
    const ask = (lastIndex: number): boolean => {
      node.step({ type: 'preVote', term: asTerm(node.raft.term + 1), from: asNodeId(2), to: asNodeId(3), lastIndex: asIndex(lastIndex), lastTerm: term, transfer: false });
      const out = net.drain(3).filter((m) => m.type === 'preVoteResp');
      net.inbox = [];
      return out.length === 1 && !(out[0] as Extract<Message, { reject: boolean }>).reject;
    };
    expect(ask(held - 1)).toBe(false);
    expect(ask(held)).toBe(true);

    // The leader believes node 3 holds everything; a heartbeat reveals the loss and it catches up.
    net.tickAll(3);
    expect(node.raft.log.lastIndex()).toBe(held);
    expect(node.raft.log.committed).toBe(held);
    expect(node.raft.lostLogEnd()).toBeUndefined();
    const terms = (id: number) => {
      const s = net.get(id).storage;
      return s.entries(s.firstIndex(), asIndex(held + 1), Number.MAX_SAFE_INTEGER)!.map((e) => [e.index, e.term]);
    };
    expect(terms(3)).toEqual(terms(1));
  });
});
