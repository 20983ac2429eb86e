import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch, FerryError, readBatchHeader } from '../../client/index.js';
import type { DescribeTopicResponse__Output } from '../../proto/gen/ferry/v1/DescribeTopicResponse.js';
import type { FetchResponse__Output } from '../../proto/gen/ferry/v1/FetchResponse.js';
import { startCluster, until, type Fixture } from './cluster-fixture.js';
import { call, rawClient } from './raw-client.js';

let f: Fixture;
beforeAll(async () => {
  f = await startCluster(3, { FERRY_RETENTION_CHECK_MS: '300' });
});
afterAll(async () => {
  await f?.stop();
});

const topic = 'kv';

async function describeOn(nodeId: number): Promise<DescribeTopicResponse__Output['partitions'][number]> {
  const c = rawClient(f.cluster.addresses.get(nodeId)!);
  try {
    return (await call<DescribeTopicResponse__Output>(c, 'DescribeTopic', { name: topic })).partitions[0]!;
  } finally {
    c.close();
  }
}

/** key → [offset, value] of the latest record per key as one node serves them (tombstones: value null). */
async function latestOn(nodeId: number, highWatermark: number): Promise<Map<string, [number, string | null]>> {
  const c = rawClient(f.cluster.addresses.get(nodeId)!);
  const latest = new Map<string, [number, string | null]>();
  try {
    for (let offset = 0; offset < highWatermark;) {
      const res = await call<FetchResponse__Output>(c, 'Fetch', { maxWaitMs: 0, minBytes: 1, partitions: [{ topic, partition: 0, fetchOffset: offset, maxBytes: 256 * 1024 }] });
      const r = res.results[0]!;
      expect(r.error?.code, r.error?.message).toBe('ERROR_CODE_NONE');
      expect(r.records.length, `node ${nodeId} served nothing at ${offset}`).toBeGreaterThan(0);
      for (let pos = 0; pos < r.records.length;) {
        const h = readBatchHeader(r.records, pos);
        const batch = decodeBatch(r.records.subarray(pos, pos + h.sizeBytes));
        if (!batch.isControl) for (const rec of batch.records) latest.set(rec.key!.toString(), [rec.offset, rec.value?.toString().slice(0, 12) ?? null]);
        offset = h.lastOffset + 1;
        pos += h.sizeBytes;
      }
    }
  } finally {
    c.close();
  }
  return latest;
}

/** The view a consumer of a compacted topic ends with: tombstoned keys are gone. */
function liveValues(latest: Map<string, [number, string | null]>): Map<string, [number, string]> {
  return new Map([...latest].filter((e): e is [string, [number, string]] => e[1][1] !== null));
}

describe('compaction (cleanup.policy compact) on a 3-node cluster', () => {
  it('refuses keyless records, compacts every replica, and every replica serves the same latest value per key', async () => {
    await f.client.admin.createTopic(topic, { partitions: 1, replicationFactor: 3, configs: {
      'cleanup.policy': 'compact', 'segment.bytes': '65536', 'delete.retention.ms': '0', 'min.cleanable.dirty.ratio': '0.01',
    } });
    const producer = f.client.producer({ maxBatchBytes: 16 * 1024, lingerMs: 1 });
    const keyless = await producer.send(topic, { value: 'no key', partition: 0 }).catch((e: unknown) => e);
    expect(keyless).toBeInstanceOf(FerryError);
    expect(keyless).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/topic "kv" is compacted/) });

    const expected = new Map<string, [number, string]>();
    const write = async (records: Array<{ key: string; value: string | null }>): Promise<void> => {
      for (let i = 0; i < records.length; i += 40) {
        const chunk = records.slice(i, i + 40);
        const sent = await Promise.all(chunk.map((w) => producer.send(topic, { ...w, partition: 0 })));
        sent.forEach((m, k) => {
          const w = chunk[k]!;
          if (w.value === null) expected.delete(w.key);
          else expected.set(w.key, [m.offset, w.value.slice(0, 12)]);
        });
      }
    };
    const value = (i: number): string => `v${String(i).padStart(4, '0')}`.padEnd(1000, '.');
    const filler = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${2 + ((from + i) % 10)}`, value: value(from + i) }));
    const leaderId = await until('a leader', async () => {
      const id = (await f.client.admin.describeTopic(topic))[0]!.leaderId;
      return id > 0 ? id : undefined;
    });
    const lagging = f.cluster.ids.find((id) => id !== leaderId)!;
    const live = f.cluster.ids.filter((id) => id !== lagging);

    // Every replica holds a first value of every key; then one follower goes down while k0 and k1
    // are deleted and the rest is rewritten and compacted. It must not bring k0/k1 back later.
    await write(Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, value: value(i) })));
    const firstHw = Number((await describeOn(leaderId)).highWatermark);
    await until('every replica to hold the first values', async () =>
      ((await Promise.all(f.cluster.ids.map(describeOn))).every((d) => Number(d.highWatermark) >= firstHw) ? true : undefined));
    await f.cluster.kill(lagging);
    const writes = Array.from({ length: 360 }, (_, i) => ({ key: `k${i % 12}`, value: i % 17 === 5 ? null : value(i) }));
    await write([...writes, { key: 'k0', value: null }, { key: 'k1', value: null }, ...filler(1000, 80)]);
    const written = writes.reduce((n, w) => n + (w.value?.length ?? 0), 0);
    await until('the live replicas to compact', async () => {
      const sizes = await Promise.all(live.map(async (id) => Number((await describeOn(id)).sizeBytes)));
      return sizes.every((s) => s < written / 2) ? sizes : undefined;
    }, 30_000);
    // Expired (delete.retention.ms 0), but the down replica never got them: the tombstones stay.
    const liveHw = Number((await describeOn(leaderId)).highWatermark);
    for (const id of live) expect((await latestOn(id, liveHw)).get('k0')?.[1], `node ${id}`).toBeNull();

    f.cluster.startNode(lagging);
    const hw = Number((await describeOn(leaderId)).highWatermark);
    await until('the restarted follower to catch up', async () => (Number((await describeOn(lagging)).highWatermark) >= hw ? true : undefined), 30_000);
    // New data rolls segments, so every replica cleans again, now below an advanced horizon.
    await write(filler(2000, 80));
    const finalHw = Number((await describeOn(leaderId)).highWatermark);
    await until('every replica to drop the k0/k1 tombstones', async () => {
      const views = await Promise.all(f.cluster.ids.map((id) => latestOn(id, finalHw)));
      return views.every((v) => !v.has('k0') && !v.has('k1')) ? true : undefined;
    }, 30_000);

    for (const id of f.cluster.ids) {
      const latest = await latestOn(id, finalHw);
      expect(liveValues(latest), `node ${id}`).toEqual(expected);
    }
    // Replication carried compacted bytes: the restarted follower holds far less than was written.
    expect(Number((await describeOn(lagging)).sizeBytes)).toBeLessThan(written / 2);
  });
});
