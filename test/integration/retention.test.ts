import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

async function describeOn(nodeId: number): Promise<DescribeTopicResponse__Output> {
  const c = rawClient(f.cluster.addresses.get(nodeId)!);
  try {
    return await call<DescribeTopicResponse__Output>(c, 'DescribeTopic', { name: 'ret' });
  } finally {
    c.close();
  }
}

describe('retention (cleanup.policy delete)', () => {
  it('moves every replica\'s log start to the same offset, by whole segments, and consumers start there', async () => {
    await f.client.admin.createTopic('ret', { partitions: 1, replicationFactor: 3, configs: { 'segment.bytes': '65536', 'retention.bytes': '150000' } });
    const producer = f.client.producer({ maxBatchBytes: 16 * 1024, lingerMs: 1 });
    const sent = await Promise.all(Array.from({ length: 600 }, (_, i) => producer.send('ret', { value: Buffer.alloc(1000, i % 256), partition: 0 })));
    const lastOffset = sent[sent.length - 1]!.offset;

    const starts = await until('every replica to cut at the same log start', async () => {
      const views = await Promise.all(f.cluster.ids.map(describeOn));
      const s = views.map((v) => v.partitions[0]!.logStartOffset);
      return s.every((x) => x > 0 && x === s[0]) ? s : undefined;
    }, 30_000);
    const logStart = starts[0]!;
    const leader = (await f.client.admin.describeTopic('ret'))[0]!;
    expect(leader.highWatermark).toBeGreaterThan(lastOffset);
    // Size-based: what is left is at least retention.bytes and less than one more segment over it.
    expect(leader.sizeBytes).toBeGreaterThanOrEqual(150_000);

    const consumer = f.client.consumer({ topic: 'ret', from: 'earliest' });
    const first = await until('a record', async () => (await consumer.poll(500))[0]);
    consumer.close();
    expect(first.offset).toBeGreaterThanOrEqual(logStart);

    const c = rawClient(f.cluster.addresses.get(leader.leaderId)!);
    const res = await call<FetchResponse__Output>(c, 'Fetch', { partitions: [{ topic: 'ret', partition: 0, fetchOffset: 0 }] });
    c.close();
    const err = res.results[0]!.error!;
    expect(err.code).toBe('ERROR_CODE_OFFSET_OUT_OF_RANGE');
    // Retention may have cut again since (it runs every 300 ms here); never below what we saw.
    const bound = /outside \[(\d+), \d+\]/.exec(err.message);
    expect(bound, err.message).not.toBeNull();
    expect(Number(bound![1])).toBeGreaterThanOrEqual(logStart);
  });
});
