/**
 * The queue side of a group coordinator over an in-memory group-state partition and in-memory
 * topics: receive/ack through the log, a new coordinator (failover) replaying it, dead letters
 * appended exactly once through a lost answer, and checkpoints keeping queue state.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeBatch } from '../../../log/index.js';
import { GroupCoordinator } from '../../../node/consumer-groups/coordinator.js';
import { MemoryPartition } from '../consumer-groups/memory-partition.js';
import { MemoryTopics } from './memory-topics.js';

const clock = { now: 1_000_000 };

function coordinator(state: MemoryPartition, topics: MemoryTopics, checkpointRecordsMin = 1_000_000): GroupCoordinator {
  return new GroupCoordinator(0, {
    nodeId: 1, partition: state, partitionsOf: (t) => topics.partitionCount(t) ?? 0, log: pino({ level: 'silent' }), nowMs: () => clock.now,
    logRecordCount: () => state.nextOffset - state.logStartOffset, checkpointRecordsMin, topics,
  });
}

async function loaded(c: GroupCoordinator): Promise<GroupCoordinator> {
  c.refresh();
  for (let i = 0; i < 100 && !c.isActive; i += 1) await new Promise((r) => setTimeout(r, 5));
  expect(c.isActive).toBe(true);
  return c;
}

async function settled(p: Promise<unknown>): Promise<void> {
  await p;
  for (let i = 0; i < 20; i += 1) await new Promise((r) => setImmediate(r));
}

function setup(): { state: MemoryPartition; topics: MemoryTopics } {
  const topics = new MemoryTopics();
  topics.create('jobs', 2);
  topics.append('jobs', 0, [{ key: 'a', value: 'j0' }, { key: 'b', value: 'j1' }, { key: 'a', value: 'j2' }]);
  topics.append('jobs', 1, [{ key: 'c', value: 'j3' }]);
  return { state: new MemoryPartition(), topics };
}

const values = (rs: ReadonlyArray<{ record: { value: Buffer | null } }>): string[] => rs.map((r) => r.record.value!.toString()).sort();

describe('queue coordinator', () => {
  it('hands out every record once, and after a failover never again what was acked, but again what timed out', async () => {
    const { state, topics } = setup();
    const c1 = await loaded(coordinator(state, topics));
    const got = await c1.queues.receive('w', 'jobs', 10, 5_000, 0);
    if (!got.ok) throw new Error(got.error.message);
    expect(values(got.value)).toEqual(['j0', 'j1', 'j2', 'j3']);
    const acked = got.value.filter((r) => ['j0', 'j3'].includes(r.record.value!.toString()));
    const ack = await c1.queues.settle('w', { op: 'ack' }, acked);
    expect(ack.ok && ack.value.every((o) => o.ok)).toBe(true);
    // The coordinator's node dies: a new leader (term 2) replays the log.
    c1.unload('killed');
    state.term = 2;
    const c2 = await loaded(coordinator(state, topics));
    const none = await c2.queues.receive('w', 'jobs', 10, 5_000, 0);
    expect(none.ok && none.value.length).toBe(0);
    clock.now += 5_001 + 2_000; // past the lock and the first backoff (1 s base, jitter only shortens it)
    const again = await c2.queues.receive('w', 'jobs', 10, 5_000, 0);
    if (!again.ok) throw new Error(again.error.message);
    expect(values(again.value)).toEqual(['j1', 'j2']);
    expect(again.value.every((r) => r.deliveries === 2)).toBe(true);
    // A stale receipt (delivery 1) is refused now that delivery 2 holds the lock.
    const stale = await c2.queues.settle('w', { op: 'ack' }, [got.value.find((r) => r.record.value!.toString() === 'j1')!]);
    expect(stale.ok && !stale.value[0]!.ok && stale.value[0]!.code).toBe('RECEIPT_EXPIRED');
  });

  it('dead-letters a poison record after maxDeliveries with its history, exactly once through a lost append answer', async () => {
    const { state, topics } = setup();
    const c = await loaded(coordinator(state, topics));
    const conf = await c.queues.configure('p', { topic: 'jobs', maxDeliveries: 2, backoff: { baseMs: 0 } });
    expect(conf.ok).toBe(true);
    for (let i = 0; i < 2; i += 1) {
      const r = await c.queues.receive('p', 'jobs', 10, 1_000, 0);
      if (!r.ok) throw new Error(r.error.message);
      expect(r.value).toHaveLength(4);
      clock.now += 1_001;
    }
    topics.loseProduceAnswers = 1;
    c.queues.tick(); // housekeeping decides the four dead letters and appends them
    await settled(new Promise((r) => setTimeout(r, 50)));
    c.queues.tick();
    clock.now += 1_001;
    c.queues.tick();
    await settled(new Promise((r) => setTimeout(r, 100)));
    const dlq = topics.topics.get('jobs.p.dlq')![0]!;
    const letters = dlq.batches.flatMap((b) => decodeBatch(b).records);
    expect(letters.map((r) => r.value!.toString()).sort()).toEqual(['j0', 'j1', 'j2', 'j3']);
    const header = (name: string) => letters[0]!.headers.find((h) => h.key === name)?.value?.toString();
    expect(header('ferry-dlq-reason')).toBe('max-deliveries');
    expect(header('ferry-dlq-deliveries')).toBe('2');
    expect(header('ferry-dlq-source-topic')).toBe('jobs');
    const stats = await c.queues.stats('p');
    expect(stats.ok && stats.value.deadLetterDepth).toBe(4);
    expect(stats.ok && stats.value.deadLettersPending).toBe(0);
  });

  it('keeps queue state through a checkpoint of the group-state log', async () => {
    const { state, topics } = setup();
    const c = await loaded(coordinator(state, topics, 20));
    const r0 = await c.queues.receive('w', 'jobs', 10, 60_000, 0);
    if (!r0.ok) throw new Error(r0.error.message);
    const j1 = r0.value.filter((r) => r.record.value!.toString() === 'j1');
    await c.queues.settle('w', { op: 'ack' }, r0.value.filter((r) => r.record.value!.toString() !== 'j1'));
    // A long job: its lock is extended again and again, one record each time.
    for (let i = 0; i < 40; i += 1) expect(await c.queues.settle('w', { op: 'extend', lockMs: 60_000 }, j1)).toMatchObject({ ok: true, value: [{ ok: true }] });
    await settled(new Promise((r) => setTimeout(r, 20)));
    expect(state.logStartOffset).toBeGreaterThan(0);
    c.unload('killed');
    state.term = 2;
    const c2 = await loaded(coordinator(state, topics));
    const s = await c2.queues.stats('w');
    if (!s.ok) throw new Error(s.error.message);
    // Only j1 is left, locked (the window is read again on the next receive).
    expect(s.value.partitions.map((p) => p.ackFloor)).toEqual([1, 1]);
    const r = await c2.queues.receive('w', 'jobs', 10, 1_000, 0);
    expect(r.ok && r.value.length).toBe(0);
    const s2 = await c2.queues.stats('w');
    expect(s2.ok && s2.value.partitions.map((p) => p.inFlight)).toEqual([1, 0]);
  });

  it('deletes a group: its receipts are refused, a replay does not bring it back, and a new group starts afresh', async () => {
    const { state, topics } = setup();
    const c = await loaded(coordinator(state, topics));
    const got = await c.queues.receive('w', 'jobs', 10, 60_000, 0);
    if (!got.ok) throw new Error(got.error.message);
    await c.queues.settle('w', { op: 'ack' }, got.value.slice(0, 2));
    expect(await c.queues.deleteGroup('w')).toEqual({ ok: true, value: 0 });
    expect(await c.queues.settle('w', { op: 'ack' }, got.value.slice(2))).toMatchObject({ ok: false, error: { code: 'QUEUE_GROUP_NOT_FOUND' } });
    c.unload('killed');
    state.term = 2;
    const c2 = await loaded(coordinator(state, topics));
    expect(c2.queues.groupIds()).toEqual([]);
    const again = await c2.queues.receive('w', 'jobs', 10, 60_000, 0);
    if (!again.ok) throw new Error(again.error.message);
    expect(values(again.value)).toEqual(['j0', 'j1', 'j2', 'j3']);
    expect(again.value.every((r) => r.deliveries === 1)).toBe(true);
  });

  it('answers a receive whose records cannot all be read back with the rest; the others come back after their lock', async () => {
    const { state, topics } = setup();
    const c = await loaded(coordinator(state, topics));
    // Partition 1 is read fine into the window, then fails when its locked record is read back.
    topics.failRead = (topic, partition, n) => topic === 'jobs' && partition === 1 && n === 1;
    const got = await c.queues.receive('w', 'jobs', 10, 1_000, 0);
    if (!got.ok) throw new Error(got.error.message);
    expect(values(got.value)).toEqual(['j0', 'j1', 'j2']);
    topics.failRead = undefined;
    clock.now += 1_000 + 1_000;
    const again = await c.queues.receive('w', 'jobs', 10, 1_000, 0);
    if (!again.ok) throw new Error(again.error.message);
    expect(again.value.map((r) => [r.record.value!.toString(), r.deliveries])).toContainEqual(['j3', 2]);
  });

  it('refuses bad input with a specific error and changes nothing', async () => {
    const { state, topics } = setup();
    const c = await loaded(coordinator(state, topics));
    const before = state.nextOffset;
    expect(await c.queues.receive('w', 'nope', 1, 1_000, 0)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_TOPIC_OR_PARTITION' } });
    expect(await c.queues.configure('w', { topic: 'jobs', maxDeliveries: 0 })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    expect(await c.queues.settle('w', { op: 'ack' }, [{ partition: 0, offset: 0, deliveries: 1 }])).toMatchObject({ ok: false, error: { code: 'QUEUE_GROUP_NOT_FOUND' } });
    expect(state.nextOffset).toBe(before);
  });
});
