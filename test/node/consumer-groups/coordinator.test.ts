import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { GroupCoordinator } from '../../../node/consumer-groups/coordinator.js';
import { MemoryTopics } from '../queues/memory-topics.js';
import { MemoryPartition } from './memory-partition.js';

function coordinator(partition: MemoryPartition, checkpointRecordsMin = 1_000_000): GroupCoordinator {
  return new GroupCoordinator(0, {
    nodeId: 1, partition, partitionsOf: (t) => (t === 't' ? 4 : 0), log: pino({ level: 'silent' }), nowMs: () => Date.now(),
    logRecordCount: () => partition.nextOffset - partition.logStartOffset, checkpointRecordsMin, topics: new MemoryTopics(),
  });
}

async function loaded(c: GroupCoordinator): Promise<void> {
  c.refresh();
  for (let i = 0; i < 100 && !c.isActive; i += 1) await new Promise((r) => setTimeout(r, 5));
  expect(c.isActive).toBe(true);
}

/** Joins and drives the coordinator's deadlines (the node's timer does it for real) until answered. */
async function joinTicking(c: GroupCoordinator, group: string) {
  const timer = setInterval(() => c.tick(), 10);
  try {
    return await c.join(group, { memberId: '', clientId: 'x', topics: ['t'], assignor: 'range', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, owned: [] });
  } finally {
    clearInterval(timer);
  }
}

const commitFromOutside = (c: GroupCoordinator, group: string, partition: number, offset: number) =>
  c.commit(group, '', -1, [{ topic: 't', partition, offset, metadata: '' }]);

describe('GroupCoordinator over a group-state partition', () => {
  it('answers NOT_COORDINATOR before loading and when not the leader', async () => {
    const p = new MemoryPartition();
    const c = coordinator(p);
    expect((await commitFromOutside(c, 'g', 0, 1))).toMatchObject({ ok: false, error: { code: 'NOT_COORDINATOR' } });
    await loaded(c);
    p.isLeader = false;
    c.refresh();
    expect(c.fetchOffsets('g')).toMatchObject({ ok: false, error: { code: 'NOT_COORDINATOR' } });
  });

  it('a new coordinator rebuilds committed offsets and groups from the log', async () => {
    const p = new MemoryPartition();
    const c = coordinator(p);
    await loaded(c);
    expect((await commitFromOutside(c, 'g', 1, 17)).ok).toBe(true);
    const joined = await joinTicking(c, 'h');
    expect(joined.ok).toBe(true);
    const next = coordinator(p);
    p.term = 2;
    await loaded(next);
    expect(next.fetchOffsets('g')).toMatchObject({ ok: true, value: [{ topic: 't', partition: 1, offset: 17 }] });
    expect(next.describe('h')).toMatchObject({ ok: true, value: { state: 'Stable', generation: 1 } });
  });

  it('reloads after a write whose outcome is unknown, and then knows the outcome from the log', async () => {
    const p = new MemoryPartition();
    const c = coordinator(p);
    await loaded(c);
    p.failNext = 'TIMEOUT';
    expect(await commitFromOutside(c, 'g', 0, 5)).toMatchObject({ ok: false, error: { code: 'NOT_COORDINATOR' } });
    await loaded(c);
    expect(c.fetchOffsets('g')).toMatchObject({ ok: true, value: [{ offset: 5 }] });
  });

  it('checkpoints: the log keeps O(state) records however many commits there were, and reloads the same state', async () => {
    const p = new MemoryPartition();
    const c = coordinator(p, 200);
    await loaded(c);
    for (let i = 0; i < 1_000; i += 1) expect((await commitFromOutside(c, `g${i % 3}`, i % 4, i)).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(p.logStartOffset).toBeGreaterThan(0);
    expect(p.nextOffset - p.logStartOffset).toBeLessThan(250);
    const again = coordinator(p);
    p.term = 2;
    await loaded(again);
    for (const g of ['g0', 'g1', 'g2']) expect(again.fetchOffsets(g)).toEqual(c.fetchOffsets(g));
    expect(again.fetchOffsets('g0')).toMatchObject({ ok: true });
  });

  it('deletes only an empty group, with tombstones for its snapshot and offsets', async () => {
    const p = new MemoryPartition();
    const c = coordinator(p);
    await loaded(c);
    await commitFromOutside(c, 'g', 2, 9);
    const j = await joinTicking(c, 'g');
    expect(await c.deleteGroup('g')).toMatchObject({ ok: false, error: { code: 'GROUP_NOT_EMPTY' } });
    if (!j.ok) throw new Error('join');
    expect(c.leave('g', j.value.memberId).ok).toBe(true);
    expect((await c.deleteGroup('g')).ok).toBe(true);
    expect(p.keys().slice(-2)).toEqual(['group:g=tombstone', 'offset:g:t:2=tombstone']);
    expect(c.describe('g')).toMatchObject({ ok: false, error: { code: 'GROUP_ID_NOT_FOUND' } });
    expect(await c.deleteGroup('g')).toMatchObject({ ok: false, error: { code: 'GROUP_ID_NOT_FOUND' } });
  });

  it('refuses commits from outside to partitions that do not exist, changing nothing', async () => {
    const p = new MemoryPartition();
    const c = coordinator(p);
    await loaded(c);
    const before = p.nextOffset;
    expect(await commitFromOutside(c, 'g', 9, 1)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_TOPIC_OR_PARTITION' } });
    expect(p.nextOffset).toBe(before);
  });
});
