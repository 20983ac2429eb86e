import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetadataResponse__Output } from '../../proto/gen/ferry/v1/MetadataResponse.js';
import { startCluster, until, type Fixture } from './cluster-fixture.js';
import { call, rawClient } from './raw-client.js';

let f: Fixture;
beforeAll(async () => {
  f = await startCluster(3, { FERRY_BROKER_SESSION_MS: '1500', FERRY_LEADER_BALANCE_MS: '1000' });
});
afterAll(async () => {
  await f?.stop();
});

async function metadataFrom(nodeId: number, topics: string[] = []): Promise<MetadataResponse__Output> {
  const c = rawClient(f.cluster.addresses.get(nodeId)!);
  try {
    return await call<MetadataResponse__Output>(c, 'Metadata', { topics }, 3_000);
  } finally {
    c.close();
  }
}

const running = (): number[] => f.cluster.ids.filter((id) => f.cluster.isRunning(id));

describe('the controller', () => {
  it('lets every node name every partition leader, and moves leadership to the preferred replicas', async () => {
    await f.client.admin.createTopic('pref', { partitions: 3, replicationFactor: 3 });
    const preferred = (await metadataFrom(1, ['pref'])).topics[0]!.partitions.map((p) => p.replicas[0]);
    expect(new Set(preferred).size).toBe(3); // placement spreads preferred leaders
    await until('every node to report the preferred leaders', async () => {
      const views = await Promise.all(running().map((id) => metadataFrom(id, ['pref'])));
      return views.every((v) => v.topics[0]!.partitions.every((p, i) => p.leaderId === preferred[i])) ? views : undefined;
    }, 30_000);
  });

  it('lets a new partition\'s preferred replica win the first election, so the balancer has nothing to move', async () => {
    await f.client.admin.createTopic('first-election', { partitions: 3, replicationFactor: 3 });
    const preferred = (await metadataFrom(1, ['first-election'])).topics[0]!.partitions.map((p) => p.replicas[0]);
    await until('every partition to have a leader', async () => {
      const parts = await f.client.admin.describeTopic('first-election');
      return parts.length === 3 && parts.every((p) => p.leaderId > 0) ? parts : undefined;
    }, 15_000);
    await new Promise((r) => setTimeout(r, 2_500)); // two balancer rounds
    const parts = await f.client.admin.describeTopic('first-election');
    // Term 2: the bootstrap term plus one election, no transfer since.
    expect(parts.map((p) => [p.leaderId, p.leaderEpoch])).toEqual(preferred.map((id) => [id, 2]));
  });

  it('fences a broker that stops heartbeating, unfences it when it returns, and rebalances leadership', async () => {
    const preferred = (await metadataFrom(1, ['pref'])).topics[0]!.partitions.map((p) => p.replicas[0]!);
    const victim = preferred[1]!;
    const other = running().find((id) => id !== victim)!;
    await f.cluster.kill(victim);
    await until(`broker ${victim} to be fenced`, async () => {
      const md = await metadataFrom(other);
      return md.brokers.find((b) => b.nodeId === victim)?.alive === false ? md : undefined;
    }, 15_000);
    // Its partition is led by someone else meanwhile.
    const moved = await until('a new leader for the victim\'s partition', async () => {
      const p = (await metadataFrom(other, ['pref'])).topics[0]!.partitions[1]!;
      return p.leaderId > 0 && p.leaderId !== victim ? p : undefined;
    }, 15_000);
    expect(moved.leaderId).not.toBe(victim);
    // New topics avoid the fenced broker.
    await f.client.admin.createTopic('while-fenced', { partitions: 2, replicationFactor: 2 });
    const placed = (await metadataFrom(other, ['while-fenced'])).topics[0]!.partitions.flatMap((p) => p.replicas);
    expect(placed).not.toContain(victim);

    f.cluster.startNode(victim);
    await until(`broker ${victim} to be alive again and lead its preferred partition`, async () => {
      const md = await metadataFrom(other, ['pref']);
      const alive = md.brokers.find((b) => b.nodeId === victim)?.alive;
      return alive && md.topics[0]!.partitions[1]!.leaderId === victim ? md : undefined;
    }, 30_000);
  });

  it('survives kill -9 of the controller leader: a new one is elected, metadata intact, topics can be created', async () => {
    const before = await metadataFrom(running()[0]!);
    const controllerId = before.controllerId;
    expect(controllerId).toBeGreaterThan(0);
    const started = Date.now();
    await f.cluster.kill(controllerId);
    const survivor = running()[0]!;
    const after = await until('a new controller leader', async () => {
      const md = await metadataFrom(survivor);
      return md.controllerId > 0 && md.controllerId !== controllerId ? md : undefined;
    }, 10_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(after.topics.map((t) => t.name).sort()).toEqual(before.topics.map((t) => t.name).sort());
    const c = rawClient(f.cluster.addresses.get(survivor)!);
    const created = await call<{ error: { code: string } }>(c, 'CreateTopic', { name: 'after-failover', partitions: 1, replicationFactor: 2 });
    c.close();
    expect(created.error.code).toBe('ERROR_CODE_NONE');
    f.cluster.startNode(controllerId);
  });
});
