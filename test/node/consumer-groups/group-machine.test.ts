import { describe, expect, it } from 'vitest';
import type { AssignorName } from '../../../node/consumer-groups/assignors.js';
import { GroupMachine, type GroupEvent, type JoinRequest } from '../../../node/consumer-groups/group-machine.js';
import { refOfKey } from '../../../node/consumer-groups/partition-ref.js';

const counts: Record<string, number> = { t: 4 };
function machine(membersMax = 10): GroupMachine {
  let n = 0;
  return new GroupMachine('g', { partitionsOf: (t) => counts[t] ?? 0, newMemberId: (c) => `${c}-${n++}`, membersMax, initialRebalanceDelayMs: 10 });
}
function req(over: Partial<JoinRequest> = {}, assignor: AssignorName = 'range'): JoinRequest {
  return { memberId: '', clientId: 'c', topics: ['t'], assignor, sessionTimeoutMs: 1_000, rebalanceTimeoutMs: 5_000, owned: [], ...over };
}
function completed(events: GroupEvent[]): Map<string, number> {
  return new Map(events.flatMap((e) => (e.type === 'joinCompleted' ? [[e.memberId, e.result.generation] as const] : [])));
}

/** Two members joined and synced: a Stable group at generation 1. */
function stableTwo(assignor: AssignorName = 'range') {
  const g = machine();
  const a = g.join(req({}, assignor), 0);
  const b = g.join(req({}, assignor), 0);
  if (!a.ok || !b.ok) throw new Error('join failed');
  g.tick(10); // the initial delay lets both join generation 1
  const ev = completed(g.drainEvents());
  expect(ev.size).toBe(2);
  const ra = g.sync(a.value.memberId, 1, 10);
  const rb = g.sync(b.value.memberId, 1, 10);
  if (!ra.ok || !rb.ok) throw new Error('sync failed');
  expect(g.state).toBe('Stable');
  return { g, a: a.value.memberId, b: b.value.memberId, aParts: ra.value.assignment, bParts: rb.value.assignment };
}

describe('GroupMachine', () => {
  it('forms generation 1 with every partition assigned once, then stays stable on heartbeats', () => {
    const { g, a, b, aParts, bParts } = stableTwo();
    expect([...aParts, ...bParts].map((p) => `${p.topic}/${p.partition}`).sort()).toEqual(['t/0', 't/1', 't/2', 't/3']);
    expect(g.heartbeat(a, 1, 500)).toEqual({ ok: true, value: undefined });
    expect(g.heartbeat(b, 1, 500).ok).toBe(true);
    g.tick(1_400);
    expect(g.state).toBe('Stable');
  });

  it('removes a member that misses its session timeout and rebalances the rest', () => {
    const { g, a, b } = stableTwo();
    g.heartbeat(a, 1, 900);
    g.tick(1_010); // b's session (from its sync at 10) ran out at 1_010
    expect(g.hasMember(b)).toBe(false);
    expect(g.state).toBe('PreparingRebalance');
    expect(g.heartbeat(a, 1, 1_100)).toMatchObject({ ok: false, error: { code: 'REBALANCE_IN_PROGRESS' } });
    expect(g.join(req({ memberId: a }), 1_100).ok).toBe(true);
    expect(completed(g.drainEvents()).get(a)).toBe(2);
    expect(g.sync(a, 2, 1_100)).toMatchObject({ ok: true, value: { assignment: [0, 1, 2, 3].map((p) => ({ topic: 't', partition: p })) } });
  });

  it('rejects commits from a stale generation, an unknown member, or a member that does not own the partition', () => {
    const { g, a, b, aParts, bParts } = stableTwo();
    const key = (p: { topic: string; partition: number }) => `${p.topic}/${p.partition}`;
    expect(g.checkCommit(a, 1, aParts.map(key)).ok).toBe(true);
    expect(g.checkCommit(a, 0, aParts.map(key))).toMatchObject({ ok: false, error: { code: 'ILLEGAL_GENERATION' } });
    expect(g.checkCommit('ghost', 1, aParts.map(key))).toMatchObject({ ok: false, error: { code: 'UNKNOWN_MEMBER' } });
    const r = g.checkCommit(a, 1, [key(bParts[0]!)]);
    expect(r).toMatchObject({ ok: false, error: { code: 'PARTITION_NOT_OWNED' } });
    expect(!r.ok && r.error.message).toContain(key(bParts[0]!));
    expect(g.checkCommit('', -1, ['t/0'])).toMatchObject({ ok: false, error: { code: 'GROUP_NOT_EMPTY' } });
    g.leave(a, 10);
    g.leave(b, 10);
    expect(g.state).toBe('Empty');
    expect(g.checkCommit('', -1, ['t/0']).ok).toBe(true);
  });

  it('a lone member completes its generation once the initial delay is over', () => {
    const g = machine();
    const a = g.join(req(), 0);
    g.tick(5);
    expect(g.drainEvents().filter((e) => e.type === 'joinCompleted')).toHaveLength(0);
    g.tick(10);
    expect(a.ok && completed(g.drainEvents()).get(a.value.memberId)).toBe(1);
  });

  it('eager: a member that rejoins has released everything, so its commits are refused until it syncs again', () => {
    const { g, a, aParts } = stableTwo('range');
    expect(g.join(req({ memberId: a, owned: aParts }), 10).ok).toBe(true);
    expect(g.checkCommit(a, 1, [`t/${aParts[0]!.partition}`])).toMatchObject({ ok: false, error: { code: 'PARTITION_NOT_OWNED' } });
  });

  it('cooperative: a joining member takes partitions in two rounds, and owners keep the rest throughout', () => {
    const { g, a, b, aParts, bParts } = stableTwo('cooperative-sticky');
    const c = g.join(req({}, 'cooperative-sticky'), 10);
    if (!c.ok) throw new Error('join');
    // a and b rejoin listing what they own; nothing was revoked yet.
    g.join(req({ memberId: a, owned: aParts }, 'cooperative-sticky'), 20);
    g.join(req({ memberId: b, owned: bParts }, 'cooperative-sticky'), 20);
    expect(completed(g.drainEvents()).get(c.value.memberId)).toBe(2);
    const sa = g.sync(a, 2, 30);
    const sb = g.sync(b, 2, 30);
    const sc = g.sync(c.value.memberId, 2, 30);
    if (!sa.ok || !sb.ok || !sc.ok) throw new Error('sync');
    expect(sc.value.assignment).toEqual([]); // nothing is free yet
    expect(sa.value.rejoin && sb.value.rejoin).toBe(true);
    const revoked = [...aParts, ...bParts].length - sa.value.assignment.length - sb.value.assignment.length;
    expect(revoked).toBe(1); // 4 partitions over 3 members: exactly one moves
    g.join(req({ memberId: a, owned: sa.value.assignment }, 'cooperative-sticky'), 40);
    g.join(req({ memberId: b, owned: sb.value.assignment }, 'cooperative-sticky'), 40);
    g.join(req({ memberId: c.value.memberId }, 'cooperative-sticky'), 40);
    const gen3 = completed(g.drainEvents());
    expect(gen3.get(a)).toBe(3);
    const sa3 = g.sync(a, 3, 50);
    const sc3 = g.sync(c.value.memberId, 3, 50);
    g.sync(b, 3, 50);
    if (!sa3.ok || !sc3.ok) throw new Error('sync');
    expect(sa3.value.assignment).toEqual(sa.value.assignment);
    expect(sc3.value.assignment).toHaveLength(1);
    expect(sc3.value.rejoin).toBe(false);
    expect(g.state).toBe('Stable');
  });

  it('rebalances when a subscribed topic gains partitions', () => {
    const { g } = stableTwo();
    counts.t = 6;
    try {
      g.onMetadataChange(100);
      expect(g.state).toBe('PreparingRebalance');
    } finally {
      counts.t = 4;
    }
  });

  it('refuses a different assignor, an unknown member id and a full group with specific errors, changing nothing', () => {
    const { g } = stableTwo('range');
    const before = JSON.stringify(g.snapshot());
    expect(g.join(req({}, 'round-robin'), 5)).toMatchObject({ ok: false, error: { code: 'INCONSISTENT_GROUP_PROTOCOL' } });
    expect(g.join(req({ memberId: 'nobody' }), 5)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_MEMBER' } });
    expect(JSON.stringify(g.snapshot())).toBe(before);
    expect(g.state).toBe('Stable');
    const full = machine(1);
    expect(full.join(req(), 0).ok).toBe(true);
    expect(full.join(req(), 0)).toMatchObject({ ok: false, error: { code: 'GROUP_MAX_SIZE_REACHED' } });
  });

  it('a restored group carries on at its generation without a rebalance', () => {
    const { g, a, b, aParts } = stableTwo('cooperative-sticky');
    const snap = g.snapshot();
    const r = GroupMachine.restore('g', { partitionsOf: (t) => counts[t] ?? 0, newMemberId: () => 'x', membersMax: 10 }, snap, 5_000);
    expect(r.state).toBe('Stable');
    expect(r.generation).toBe(1);
    expect(r.heartbeat(a, 1, 5_100).ok).toBe(true);
    expect(r.heartbeat(b, 1, 5_100).ok).toBe(true);
    expect(r.checkCommit(a, 1, aParts.map((p) => `${p.topic}/${p.partition}`)).ok).toBe(true);
    expect(refOfKey('t/3')).toEqual({ topic: 't', partition: 3 });
  });
});
