import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ConsumedRecord, type FerryClient, type GroupConsumer } from '../../client/index.js';
import { runCli, startCluster, until, type Fixture } from './cluster-fixture.js';

let f: Fixture;
beforeAll(async () => {
  // Four group-state partitions keep the cluster light; the hashing is the same for any count.
  f = await startCluster(3, { FERRY_GROUP_STATE_PARTITIONS: '4' });
});
afterAll(async () => {
  await f?.stop();
});

let ordersProduced = new Map<string, string>();
const key = (r: { partition: number; offset: number }): string => `${r.partition}/${r.offset}`;

/** Produces `count` records and returns partition/offset → value as acknowledged. */
async function produce(client: FerryClient, topic: string, count: number, prefix: string): Promise<Map<string, string>> {
  const producer = client.producer({ lingerMs: 2 });
  const acked = await Promise.all(Array.from({ length: count }, (_, i) => producer.send(topic, { key: `${prefix}-k${i}`, value: `${prefix}-${i}` })));
  return new Map(acked.map((m, i) => [key(m), `${prefix}-${i}`]));
}

/** Polls `consumers` into one map until `done` or the timeout (records may repeat: at-least-once). */
async function drain(consumers: readonly GroupConsumer[], done: (seen: Map<string, string>) => boolean, timeoutMs = 45_000, seen = new Map<string, string>()): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  while (!done(seen)) {
    if (Date.now() > deadline) throw new Error(`timed out with ${seen.size} records`);
    const batches = await Promise.all(consumers.map((c) => c.poll(200)));
    for (const r of batches.flat()) seen.set(key(r), r.value!.toString());
  }
  return seen;
}

const opts = { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, autoCommitIntervalMs: 200, maxWaitMs: 200 } as const;

describe('consumer groups on a 3-node cluster (real processes)', () => {
  it('two groups on one topic each see every record', async () => {
    await f.client.admin.createTopic('orders', { partitions: 3 });
    const produced = await produce(f.client, 'orders', 300, 'o');
    ordersProduced = produced;
    const a1 = f.client.consumer({ group: 'billing', topics: ['orders'], ...opts });
    const a2 = f.client.consumer({ group: 'billing', topics: ['orders'], ...opts });
    const b = f.client.consumer({ group: 'audit', topics: ['orders'], assignor: 'range', ...opts });
    try {
      const billing = await drain([a1, a2], (s) => s.size >= produced.size);
      const audit = await drain([b], (s) => s.size >= produced.size);
      expect(billing).toEqual(produced);
      expect(audit).toEqual(produced);
      // Both members of billing got partitions, and together all three, each exactly once.
      await until('billing to settle with both members', () => {
        const parts = [...a1.assignment(), ...a2.assignment()].map((p) => p.partition).sort();
        return a1.assignment().length > 0 && a2.assignment().length > 0 && parts.join() === '0,1,2' ? true : undefined;
      });
    } finally {
      await Promise.all([a1.close(), a2.close(), b.close()]);
    }
  });

  it('a killed member\'s partitions move to the survivor, which continues from the last committed offsets', async () => {
    await f.client.admin.createTopic('jobs', { partitions: 4 });
    const produced = await produce(f.client, 'jobs', 400, 'j');
    const victimClient = createClient({ bootstrap: f.cluster.bootstrap(), requestTimeoutMs: 3_000 });
    const victim = victimClient.consumer({ group: 'workers', topics: ['jobs'], autoCommit: false, ...opts });
    const survivor = f.client.consumer({ group: 'workers', topics: ['jobs'], ...opts });
    const seenBySurvivor = new Map<string, string>();
    victim.start();
    survivor.start();
    try {
      await until('both members to own partitions', async () => {
        await drain([survivor], (x) => x.size >= produced.size, 300, seenBySurvivor).catch(() => undefined);
        return victim.assignment().length === 2 && survivor.assignment().length === 2 ? true : undefined;
      }, 30_000);
      const victimParts = victim.assignment().map((p) => p.partition);
      // The victim processes a few records, commits them, and dies without leaving the group.
      const processed: ConsumedRecord[] = [];
      while (processed.length < 20) processed.push(...(await victim.poll(500, 20 - processed.length)));
      await victim.commit();
      const committed = await f.client.groups.committed('workers');
      victimClient.close(); // no LeaveGroup, no more heartbeats: a crash, as the coordinator sees it
      const killedAt = Date.now();

      await until('the survivor to own every partition', async () => {
        await drain([survivor], (x) => x.size >= produced.size, 300, seenBySurvivor).catch(() => undefined);
        return survivor.assignment().length === 4 ? true : undefined;
      }, 30_000);
      const movedAfterMs = Date.now() - killedAt;
      process.stderr.write(`groups: partitions of a killed member moved after ${movedAfterMs} ms (session timeout 3000 ms)\n`);
      expect(movedAfterMs).toBeLessThan(3_000 + 7_000);

      const all = await drain([survivor], (s) => [...produced.keys()].every((k) => s.has(k) || Number(k.split('/')[1]) < (committed.get(`jobs/${k.split('/')[0]}`) ?? 0)), 45_000, seenBySurvivor);
      for (const p of victimParts) {
        const producedOffsets = [...produced.keys()].filter((k) => Number(k.split('/')[0]) === p).map((k) => Number(k.split('/')[1]));
        // The first record at or after the committed offset (offsets of Raft no-ops hold no record).
        const from = Math.min(...producedOffsets.filter((o) => o >= (committed.get(`jobs/${p}`) ?? 0)));
        const offsets = [...all.keys()].filter((k) => Number(k.split('/')[0]) === p).map((k) => Number(k.split('/')[1]));
        expect(Math.min(...offsets), `survivor starts partition ${p} at the committed offset`).toBe(from);
        for (const o of producedOffsets.filter((x) => x >= from)) expect(all.get(`${p}/${o}`), `record ${p}/${o} not skipped`).toBe(produced.get(`${p}/${o}`));
      }
      expect(processed.length).toBe(20);
    } finally {
      await survivor.close();
      victimClient.close();
    }
  });

  it('replays from earliest and from a timestamp: the same records at the same offsets; describe reports lag', async () => {
    await f.client.admin.createTopic('events', { partitions: 2 });
    const first = await produce(f.client, 'events', 100, 'e1');
    await new Promise((r) => setTimeout(r, 50));
    const midpoint = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    const second = await produce(f.client, 'events', 50, 'e2');
    const everything = new Map([...first, ...second]);

    const reader = f.client.consumer({ group: 'replay', topics: ['events'], ...opts });
    const firstRead = await drain([reader], (s) => s.size >= everything.size);
    await reader.close();
    expect(firstRead).toEqual(everything);

    const lagBefore = await f.client.groups.resetOffsets('replay', 'events', 'earliest');
    expect([...lagBefore.values()]).toEqual([0, 0]);
    const described = await f.client.groups.describe('replay');
    expect(described.state).toBe('Empty');
    // Lag counts offsets, as Kafka's does: the Raft no-op a new leader writes takes one too.
    for (const p of described.partitions) expect(p.lagMessages).toBe(p.highWatermark - p.logStartOffset);
    expect(described.partitions.reduce((n, p) => n + p.lagMessages, 0)).toBeGreaterThanOrEqual(150);
    expect(described.partitions.every((p) => p.lagSeconds > 0)).toBe(true);

    const again = f.client.consumer({ group: 'replay', topics: ['events'], ...opts });
    expect(await drain([again], (s) => s.size >= everything.size)).toEqual(firstRead);
    await again.close();

    await f.client.groups.resetOffsets('replay', 'events', { timestamp: midpoint });
    const fromTime = f.client.consumer({ group: 'replay', topics: ['events'], ...opts });
    const late = await drain([fromTime], (s) => s.size >= second.size);
    expect(late).toEqual(second);
    // seek() inside the group: back to offset 0 of one partition replays it exactly.
    await fromTime.seek('events', 0, 0);
    const replayed = await drain([fromTime], (s) => [...first.keys()].filter((k) => k.startsWith('0/')).every((k) => s.has(k)));
    for (const [k, v] of replayed) expect(everything.get(k)).toBe(v);
    await fromTime.close();
    await expect(f.client.groups.delete('replay')).resolves.toBeUndefined();
    expect((await f.client.groups.list()).map((g) => g.group)).not.toContain('replay');
  });

  it('describe reports no lag when only control records (a new leader\'s no-op) follow the committed offset', async () => {
    await f.client.admin.createTopic('lagless', { partitions: 1, replicationFactor: 3 });
    const produced = await produce(f.client, 'lagless', 5, 'l');
    const reader = f.client.consumer({ group: 'lagless-g', topics: ['lagless'], ...opts });
    await drain([reader], (s) => s.size >= produced.size);
    await reader.commit();
    await reader.close();
    const leader = (await f.client.admin.describeTopic('lagless'))[0]!.leaderId;
    await f.cluster.stopNode(leader); // hands leadership over: the new leader writes a no-op
    f.cluster.startNode(leader);
    const p = await until('the new leader\'s no-op to commit', async () => {
      const d = (await f.client.groups.describe('lagless-g')).partitions[0]!;
      return d.highWatermark > d.committedOffset ? d : undefined;
    }, 30_000);
    expect(p.committedOffset).toBe(Math.max(...[...produced.keys()].map((k) => Number(k.split('/')[1]))) + 1);
    expect([p.lagMessages, p.lagSeconds]).toEqual([0, 0]);
  });

  it('growing a topic\'s partitions rebalances its groups onto the new ones; shrinking is refused', async () => {
    await f.client.admin.createTopic('growing', { partitions: 2 });
    const member = f.client.consumer({ group: 'growers', topics: ['growing'], ...opts });
    member.start();
    try {
      await until('the member to own both partitions', () => (member.assignment().length === 2 ? true : undefined), 20_000);
      await expect(f.client.admin.createPartitions('growing', 2)).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/never shrinks/) });
      await expect(f.client.admin.createPartitions('__group_state', 99)).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/internal/) });
      await f.client.admin.createPartitions('growing', 4);
      expect((await f.client.admin.describeTopic('growing')).map((p) => p.partition)).toEqual([0, 1, 2, 3]);
      await until('the member to own all four partitions', () => (member.assignment().length === 4 ? true : undefined), 30_000);
      const producer = f.client.producer();
      const sent = await Promise.all([2, 3].map((partition) => producer.send('growing', { key: `k${partition}`, value: `new-${partition}`, partition })));
      const seen = await drain([member], (s) => sent.every((m) => s.has(key(m))), 30_000);
      expect(sent.map((m) => seen.get(key(m)))).toEqual(['new-2', 'new-3']);
    } finally {
      await member.close();
    }
  });

  it('refuses a reset while the group has members, and stale or foreign commits, with clear errors (onCommit is told either way)', async () => {
    await f.client.admin.createTopic('busy-t', { partitions: 3 });
    const told: Array<{ offsets: unknown; code?: string }> = [];
    const member = f.client.consumer({ group: 'busy', topics: ['busy-t'], ...opts, onCommit: (offsets, err) => told.push({ offsets, code: err?.code }) });
    try {
      await until('the member to join', async () => ((await member.poll(200)) && member.assignment().length === 3 ? true : undefined));
      await expect(f.client.groups.resetOffsets('busy', 'busy-t', 'earliest')).rejects.toMatchObject({ code: 'GROUP_NOT_EMPTY' });
      const foreign = await member.commit([{ topic: 'busy-t', partition: 9, offset: 1 }]).catch((e: unknown) => e);
      expect(foreign, String(foreign)).toMatchObject({ code: 'PARTITION_NOT_OWNED' });
      await member.commit([{ topic: 'busy-t', partition: 0, offset: 0 }]);
      expect(told.slice(-2)).toEqual([
        { offsets: [{ topic: 'busy-t', partition: 9, offset: 1 }], code: 'PARTITION_NOT_OWNED' },
        { offsets: [{ topic: 'busy-t', partition: 0, offset: 0 }], code: undefined },
      ]);
      await expect(f.client.groups.delete('busy')).rejects.toMatchObject({ code: 'GROUP_NOT_EMPTY' });
    } finally {
      await member.close();
    }
  });

  it('the CLI consumes as a group member, then lists, describes, resets and deletes the group', async () => {
    const consumed = await runCli(f.cluster, ['consume', 'orders', '--group', 'cli-g', '--max-messages', '300']);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(new Set(consumed.stdout.trim().split('\n'))).toEqual(new Set(ordersProduced.values()));
    expect((await runCli(f.cluster, ['group', 'list'])).stdout).toMatch(/cli-g\s+Empty\s+0/);
    const described = await runCli(f.cluster, ['group', 'describe', 'cli-g']);
    expect(described.stdout).toContain('group cli-g: Empty');
    expect(described.stdout).toMatch(/orders\s+0\s+\d+\s+\d+\s+\d+\s+[\d.]+\s+-/);
    const reset = await runCli(f.cluster, ['group', 'reset-offsets', 'cli-g', '--topic', 'orders', '--to-earliest']);
    expect(reset.code, reset.stderr).toBe(0);
    expect((await f.client.groups.committed('cli-g')).get('orders/0')).toBe(0);
    expect((await runCli(f.cluster, ['group', 'reset-offsets', 'cli-g', '--topic', 'orders'])).code).toBe(2);
    expect(await runCli(f.cluster, ['group', 'delete', 'cli-g'])).toMatchObject({ code: 0, stdout: 'deleted group cli-g\n' });
    expect((await runCli(f.cluster, ['group', 'describe', 'cli-g'])).stderr).toContain('GROUP_ID_NOT_FOUND');
  });

  it('killing the coordinator\'s node (kill -9) loses no committed offset', async () => {
    const c = f.client.consumer({ group: 'durable', topics: ['orders'], ...opts });
    await drain([c], (s) => s.size >= 300);
    await c.close(); // commits what it processed
    const before = await f.client.groups.committed('durable');
    // Every partition committed just past its last record.
    const ends = new Map<number, number>();
    for (const [k] of ordersProduced) ends.set(Number(k.split('/')[0]), Math.max(ends.get(Number(k.split('/')[0])) ?? 0, Number(k.split('/')[1]) + 1));
    for (const [p, end] of ends) expect(before.get(`orders/${p}`), `partition ${p} committed to its end`).toBe(end);
    const { nodeId } = await f.client.groups.coordinatorOf('durable');
    await f.cluster.kill(nodeId);
    const survivors = createClient({ bootstrap: f.cluster.bootstrap([nodeId]), requestTimeoutMs: 3_000 });
    try {
      const after = await until('a new coordinator to serve the group', () => survivors.groups.committed('durable').then((m) => (m.size > 0 ? m : undefined)), 30_000);
      expect(after).toEqual(before);
      // A member joining now starts exactly where the group left off.
      const extra = await produce(survivors, 'orders', 30, 'x');
      const resumed = survivors.consumer({ group: 'durable', topics: ['orders'], ...opts });
      const got = await drain([resumed], (s) => s.size >= extra.size, 45_000);
      await resumed.close();
      expect(got).toEqual(extra);
    } finally {
      survivors.close();
      f.cluster.startNode(nodeId);
    }
  });
});
