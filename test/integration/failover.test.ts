import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch, readBatchHeader } from '../../log/index.js';
import { createClient } from '../../client/index.js';
import type { DescribeTopicResponse__Output } from '../../proto/gen/ferry/v1/DescribeTopicResponse.js';
import type { FetchResponse__Output } from '../../proto/gen/ferry/v1/FetchResponse.js';
import { startCluster, until, type Fixture } from './cluster-fixture.js';
import { call, rawClient } from './raw-client.js';

let f: Fixture;
beforeAll(async () => {
  f = await startCluster(3);
});
afterAll(async () => {
  await f?.stop();
});

/** Every data record in whole batches: offset → value. */
function recordsOf(records: Buffer): Map<number, string> {
  const out = new Map<number, string>();
  for (let pos = 0; pos < records.length;) {
    const h = readBatchHeader(records, pos);
    if (!h.isControl) for (const r of decodeBatch(records.subarray(pos, pos + h.sizeBytes)).records) out.set(r.offset, r.value!.toString());
    pos += h.sizeBytes;
  }
  return out;
}

async function describeOn(nodeId: number, topic: string): Promise<DescribeTopicResponse__Output> {
  const c = rawClient(f.cluster.addresses.get(nodeId)!);
  try {
    return await call<DescribeTopicResponse__Output>(c, 'DescribeTopic', { name: topic });
  } finally {
    c.close();
  }
}

async function readAll(nodeId: number, topic: string, upTo: number): Promise<Map<number, string>> {
  const c = rawClient(f.cluster.addresses.get(nodeId)!);
  const all = new Map<number, string>();
  try {
    let offset = 0;
    while (offset < upTo) {
      const res = await call<FetchResponse__Output>(c, 'Fetch', { maxWaitMs: 0, partitions: [{ topic, partition: 0, fetchOffset: offset, maxBytes: 1 << 20 }] });
      const r = res.results[0]!;
      expect(r.error?.code).toBe('ERROR_CODE_NONE');
      if (r.records.length === 0) break;
      for (const [o, v] of recordsOf(r.records)) all.set(o, v);
      let pos = 0;
      while (pos < r.records.length) {
        const h = readBatchHeader(r.records, pos);
        offset = h.lastOffset + 1;
        pos += h.sizeBytes;
      }
    }
    return all;
  } finally {
    c.close();
  }
}

describe('a 3-node cluster over gRPC (real processes)', () => {
  it('keeps every acks=all record at its offset through kill -9 of the leader; the killed node catches up', async () => {
    await f.client.admin.createTopic('failover', { partitions: 1, replicationFactor: 3 });
    const producer = f.client.producer({ lingerMs: 0 });
    const acked = new Map<number, string>();
    for (let i = 0; i < 100; i += 1) acked.set((await producer.send('failover', { value: `v${i}`, partition: 0 })).offset, `v${i}`);
    const leader = (await f.client.admin.describeTopic('failover'))[0]!.leaderId;
    expect(leader).toBeGreaterThan(0);

    await f.cluster.kill(leader);
    const survivors = createClient({ bootstrap: f.cluster.bootstrap([leader]), requestTimeoutMs: 3_000 });
    try {
      const p2 = survivors.producer({ lingerMs: 0 });
      for (let i = 100; i < 150; i += 1) acked.set((await p2.send('failover', { value: `v${i}`, partition: 0 })).offset, `v${i}`);
      const newLeader = (await survivors.admin.describeTopic('failover'))[0]!;
      expect(newLeader.leaderId).not.toBe(leader);
      const served = await readAll(newLeader.leaderId, 'failover', newLeader.highWatermark);
      for (const [offset, value] of acked) expect(served.get(offset), `offset ${offset}`).toBe(value);
      expect(served.size).toBe(150);

      f.cluster.startNode(leader);
      const caughtUp = await until('the restarted node to catch up', async () => {
        const d = await describeOn(leader, 'failover');
        const p = d.partitions[0];
        return p && p.highWatermark === newLeader.highWatermark ? p : undefined;
      }, 30_000);
      expect(caughtUp.logEndOffset).toBeGreaterThanOrEqual(newLeader.highWatermark);
      expect(await readAll(leader, 'failover', newLeader.highWatermark)).toEqual(served);
    } finally {
      survivors.close();
    }
  });

  it('never serves a follower read above the high watermark, even with a paused follower', async () => {
    await f.client.admin.createTopic('hw', { partitions: 1, replicationFactor: 3 });
    const producer = f.client.producer({ lingerMs: 1 });
    await producer.send('hw', { value: 'first', partition: 0 });
    const leader = (await f.client.admin.describeTopic('hw'))[0]!.leaderId;
    const followers = f.cluster.ids.filter((id) => id !== leader);
    const clients = followers.map((id) => rawClient(f.cluster.addresses.get(id)!));
    const servedByFollowers = new Map<number, string>();
    let stop = false;
    let responses = 0;
    const reader = (async () => {
      while (!stop) {
        for (const c of clients) {
          const res = await call<FetchResponse__Output>(c, 'Fetch', { maxWaitMs: 20, partitions: [{ topic: 'hw', partition: 0, fetchOffset: 0, maxBytes: 4 << 20 }] })
            .catch(() => undefined);
          const r = res?.results[0];
          if (!r || r.error?.code !== 'ERROR_CODE_NONE') continue;
          responses += 1;
          for (const [o, v] of recordsOf(r.records)) {
            expect(o).toBeLessThan(r.highWatermark);
            servedByFollowers.set(o, v);
          }
        }
      }
    })();
    f.cluster.pause(followers[0]!);
    const sends = Array.from({ length: 300 }, (_, i) => producer.send('hw', { value: `w${i}`, partition: 0 }));
    await Promise.all(sends.slice(0, 150));
    f.cluster.resume(followers[0]!);
    await Promise.all(sends);
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await reader;
    for (const c of clients) c.close();
    const final = await readAll(leader, 'hw', (await describeOn(leader, 'hw')).partitions[0]!.highWatermark);
    expect(final.size).toBe(301);
    expect(responses).toBeGreaterThan(5);
    expect(servedByFollowers.size).toBeGreaterThan(0);
    for (const [o, v] of servedByFollowers) expect(v, `follower offset ${o}`).toBe(final.get(o));
  });

  it('answers a produce to a follower with NOT_LEADER and the leader address', async () => {
    await f.client.admin.createTopic('hint', { partitions: 1, replicationFactor: 3 });
    await f.client.producer().send('hint', { value: 'x', partition: 0 });
    const d = (await f.client.admin.describeTopic('hint'))[0]!;
    const follower = f.cluster.ids.find((id) => id !== d.leaderId && f.cluster.isRunning(id))!;
    const c = rawClient(f.cluster.addresses.get(follower)!);
    const res = await call<{ results: Array<{ error: { code: string; leaderHintNodeId: number; leaderHintAddress: string; retriable: boolean } }> }>(
      c, 'Produce', { partitions: [{ topic: 'hint', partition: 0, batch: encodeBatch({ records: [{ key: null, value: Buffer.from('y'), timestamp: 1 }] }) }] });
    c.close();
    expect(res.results[0]!.error).toMatchObject({
      code: 'ERROR_CODE_NOT_LEADER', retriable: true, leaderHintNodeId: d.leaderId, leaderHintAddress: f.cluster.addresses.get(d.leaderId),
    });
  });
});
