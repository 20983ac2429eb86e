// Promise 1 under `--fsync never` with the log's write-behind on, end to end: kill -9 of every node
// (which keeps the page cache) loses no acknowledged record, and the restarted logs recover with
// the write-behind's files. Large records make the batches go through the threadpool. That the
// acknowledgement waits for the kernel (PartitionLog.settle) is pinned in multi-raft.test.ts: here
// the writes land long before the kill, so only that unit test sees the wait go missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, until, type Fixture } from './cluster-fixture.js';

let f: Fixture;
beforeAll(async () => {
  f = await startCluster(3, { FERRY_FSYNC: 'never', FERRY_WRITE_BEHIND: 'on' });
});
afterAll(async () => {
  await f?.stop();
});

describe('--fsync never --write-behind on', () => {
  it('keeps every acknowledged record through kill -9 of every node', async () => {
    await f.client.admin.createTopic('nofsync', { partitions: 1, replicationFactor: 3 });
    const producer = f.client.producer({ lingerMs: 5 });
    const value = (i: number): Buffer => Buffer.concat([Buffer.from(`v${i}|`), Buffer.alloc(16 * 1024, i & 0xff)]);
    const count = 300;
    const acked = await Promise.all(Array.from({ length: count }, (_, i) => producer.send('nofsync', { value: value(i) })));
    expect(acked).toHaveLength(count);
    for (const id of f.cluster.ids) await f.cluster.kill(id);
    for (const id of f.cluster.ids) f.cluster.startNode(id);
    await f.cluster.waitReady();

    const consumer = f.client.consumer({ topic: 'nofsync', from: 'earliest' });
    const seen: string[] = [];
    await until('every acknowledged record after the restart', async () => {
      for (const r of await consumer.poll(500, 1_000)) seen.push(r.value!.subarray(0, r.value!.indexOf(0x7c)).toString());
      return seen.length >= count ? true : undefined;
    }, 60_000);
    consumer.close();
    expect(seen).toEqual(Array.from({ length: count }, (_, i) => `v${i}`));
  });
});
