import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetadataResponse__Output } from '../../proto/gen/ferry/v1/MetadataResponse.js';
import { startCluster, until, type Fixture } from './cluster-fixture.js';
import { call, rawClient } from './raw-client.js';

let f: Fixture;
beforeAll(async () => {
  // A snapshot every 20 metadata entries, so a few topic creations compact the controller log.
  f = await startCluster(3, { FERRY_CONTROLLER_SNAPSHOT_ENTRIES: '20', FERRY_BROKER_SESSION_MS: '1500' });
});
afterAll(async () => {
  await f?.stop();
});

async function metadataFrom(nodeId: number): Promise<MetadataResponse__Output> {
  const c = rawClient(f.cluster.addresses.get(nodeId)!);
  try {
    return await call<MetadataResponse__Output>(c, 'Metadata', { topics: [] }, 3_000);
  } finally {
    c.close();
  }
}

const logLines = (id: number, message: string): Array<Record<string, unknown>> => readFileSync(f.cluster.logFile(id), 'utf8')
  .split('\n').filter((l) => l.includes(message)).map((l) => JSON.parse(l) as Record<string, unknown>);

const topicNames = (md: MetadataResponse__Output): string[] => md.topics.map((t) => t.name).sort();

describe('controller snapshots', () => {
  it('bring a node that was down past the compaction back through the snapshot, and survive a restart of every node', async () => {
    const lagging = 3;
    await f.cluster.kill(lagging);
    const names = Array.from({ length: 30 }, (_, i) => `snap-${String(i).padStart(2, '0')}`);
    for (const name of names) await f.client.admin.createTopic(name, { partitions: 1, replicationFactor: 1 });
    const taken = await until('the live nodes to snapshot and compact', () => {
      const lines = [1, 2].map((id) => logLines(id, 'controller snapshot taken'));
      return lines.every((l) => l.length >= 1) ? lines : undefined;
    }, 20_000);
    const last = taken[0]!.at(-1)!;
    expect(last.imageBytes).toBeGreaterThan(0);

    f.cluster.startNode(lagging);
    const installed = await until(`node ${lagging} to install the leader's snapshot`, () => logLines(lagging, 'controller snapshot installed from the leader')[0]);
    expect(installed.index).toBeGreaterThanOrEqual(20);
    const expected = topicNames(await metadataFrom(1));
    await until(`node ${lagging} to list every topic`, async () => (topicNames(await metadataFrom(lagging)).join() === expected.join() ? true : undefined));

    // Every node restarts from its own snapshot plus the log after it.
    const before = await metadataFrom(1);
    await f.cluster.stop();
    for (const id of f.cluster.ids) f.cluster.startNode(id);
    await f.cluster.waitReady();
    for (const id of f.cluster.ids) {
      const md = await until(`node ${id} to answer metadata after the restart`, async () => {
        const m = await metadataFrom(id);
        return m.metadataVersion >= before.metadataVersion ? m : undefined;
      });
      expect(topicNames(md)).toEqual(topicNames(before));
      expect(md.topics.map((t) => t.partitions.map((p) => p.replicas))).toEqual(before.topics.map((t) => t.partitions.map((p) => p.replicas)));
    }
    const c = rawClient(f.cluster.addresses.get(2)!);
    const created = await call<{ error: { code: string } }>(c, 'CreateTopic', { name: 'after-restart', partitions: 1, replicationFactor: 2 });
    c.close();
    expect(created.error.code).toBe('ERROR_CODE_NONE');
  });
});
