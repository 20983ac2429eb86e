/**
 * The idempotent producer on a real cluster whose nodes drop 25% of produce answers after the
 * append (FERRY_FAULT_LOSE_PRODUCE_REPLIES): every retry after a lost answer would write a
 * duplicate without idempotence. With it, and through a kill -9 of the partition leader in the
 * middle, the log holds every value exactly once, in the order the producer sent them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FerryClient } from '../../client/index.js';
import { startCluster, until, type Fixture } from './cluster-fixture.js';

let f: Fixture;
beforeAll(async () => {
  f = await startCluster(3, { FERRY_FAULT_LOSE_PRODUCE_REPLIES: '25' });
});
afterAll(async () => {
  await f?.stop();
});

/** Every data record of partition 0 below the high watermark, in offset order. */
async function readPartition(client: FerryClient, topic: string): Promise<Array<{ offset: number; value: string }>> {
  const hw = await until('a leader with a high watermark', async () => {
    const d = (await client.admin.describeTopic(topic))[0]!;
    return d.leaderId > 0 ? d.highWatermark : undefined;
  });
  const consumer = client.consumer({ topic, partitions: [0], from: 'earliest' });
  const out: Array<{ offset: number; value: string }> = [];
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      for (const r of await consumer.poll(300)) out.push({ offset: r.offset, value: r.value!.toString() });
      if (out.length > 0 && out[out.length - 1]!.offset >= hw - 1) break;
      if (out.length === 0 && hw <= 1) break;
    }
  } finally {
    consumer.close();
  }
  return out;
}

describe('idempotent producer on a cluster that loses produce answers', () => {
  it('writes each value exactly once, in send order, through lost answers and a leader kill -9', async () => {
    await f.client.admin.createTopic('exactly-once', { partitions: 1, replicationFactor: 3 });
    const producer = f.client.producer({ lingerMs: 2, maxBatchBytes: 4096, retryBackoffMs: 20 });
    expect(producer.idempotent).toBe(true);
    const values = Array.from({ length: 600 }, (_, i) => `v${String(i).padStart(5, '0')}`);
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < values.length; i += 1) {
      sends.push(producer.send('exactly-once', { value: values[i]!, partition: 0 }));
      if (i === 300) {
        const leader = (await f.client.admin.describeTopic('exactly-once'))[0]!.leaderId;
        await f.cluster.kill(leader);
        f.cluster.startNode(leader);
      }
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    const sent = await Promise.all(sends) as Array<{ offset: number }>;
    await producer.close();
    expect(producer.stats.retries).toBeGreaterThan(0);
    const log = await readPartition(f.client, 'exactly-once');
    expect(log.map((r) => r.value)).toEqual(values);
    const byOffset = new Map(log.map((r) => [r.offset, r.value]));
    sent.forEach((m, i) => expect(byOffset.get(m.offset), `record ${i}`).toBe(values[i]));
  }, 120_000);

  it('without idempotence the same faults write duplicates (what the producer id prevents)', async () => {
    await f.client.admin.createTopic('at-least-once', { partitions: 1, replicationFactor: 3 });
    const producer = f.client.producer({ idempotent: false, lingerMs: 0, retryBackoffMs: 20 });
    for (let i = 0; i < 60; i += 1) await producer.send('at-least-once', { value: `w${i}`, partition: 0 });
    await producer.close();
    const log = await readPartition(f.client, 'at-least-once');
    expect(new Set(log.map((r) => r.value)).size).toBe(60);
    expect(log.length).toBeGreaterThan(60);
  }, 60_000);

  it('hands out distinct producer ids from every node', async () => {
    const { ConnectionPool, unary } = await import('../../client/connection-pool.js');
    const pool = new ConnectionPool();
    try {
      const ids: number[] = [];
      for (const address of f.cluster.addresses.values()) {
        for (let i = 0; i < 3; i += 1) {
          const r = await unary<object, { producerId: number; producerEpoch: number; error: { code: string } }>(pool.get(address), 'InitProducerId', {}, 10_000);
          expect(r.error.code).toBe('ERROR_CODE_NONE');
          expect(r.producerEpoch).toBe(0);
          ids.push(r.producerId);
        }
      }
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      pool.close();
    }
  }, 30_000);
});
