import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatch } from '../../log/index.js';
import type { ProduceResponse__Output } from '../../proto/gen/ferry/v1/ProduceResponse.js';
import { startCluster, until, type Fixture } from './cluster-fixture.js';
import { call, rawClient } from './raw-client.js';

const limitBytes = 4 * 1024 * 1024;
const recordBytes = 900 * 1024;

let f: Fixture;
beforeAll(async () => {
  f = await startCluster(3, { FERRY_MAX_INFLIGHT_PRODUCE_BYTES: String(limitBytes) });
});
afterAll(async () => {
  await f?.stop();
});

const marker = (i: number): string => `big-${i}:`;

describe('produce back-pressure (promise 5: bounded memory)', () => {
  it('answers bytes past a connection\'s in-flight limit with a retriable THROTTLED at once, and never writes a throttled batch', async () => {
    await f.client.admin.createTopic('bp', { partitions: 1, replicationFactor: 3, configs: { 'max.message.bytes': String(2 * 1024 * 1024) } });
    await f.client.producer().send('bp', { value: 'seed', partition: 0 });
    const leaderId = (await f.client.admin.describeTopic('bp'))[0]!.leaderId;
    const leader = rawClient(f.cluster.addresses.get(leaderId)!);
    const followers = f.cluster.ids.filter((id) => id !== leaderId);
    const batches = Array.from({ length: 8 }, (_, i) => encodeBatch({
      records: [{ key: null, value: Buffer.concat([Buffer.from(marker(i)), Buffer.alloc(recordBytes, 0x61)]), timestamp: Date.now() }],
    }));
    // With the followers stopped nothing commits, so every accepted request stays in flight: the
    // first four (3.6 MB) fit under 4 MiB, the other four do not.
    for (const id of followers) f.cluster.pause(id);
    let answers: Array<{ i: number; atMs: number; code: string; retriable: boolean; message: string }>;
    try {
      const started = Date.now();
      let answered = 0;
      const calls = batches.map(async (batch, i) => {
        const res = await call<ProduceResponse__Output>(leader, 'Produce', {
          acks: 'ACKS_ALL', timeoutMs: 10_000, partitions: [{ topic: 'bp', partition: 0, batch }],
        }, 15_000);
        answered += 1;
        const e = res.results[0]!.error!;
        return { i, atMs: Date.now() - started, code: e.code, retriable: e.retriable, message: e.message };
      });
      // The refusals come while nothing can complete; only then do the followers come back.
      await until('four answers while the followers are stopped', () => (answered >= 4 ? true : undefined), 10_000);
      for (const id of followers) f.cluster.resume(id);
      answers = await Promise.all(calls);
    } finally {
      for (const id of followers) f.cluster.resume(id);
      leader.close();
    }
    const throttled = answers.filter((a) => a.code === 'ERROR_CODE_THROTTLED');
    const accepted = answers.filter((a) => a.code !== 'ERROR_CODE_THROTTLED');
    // HTTP/2 interleaves the eight calls, so which four arrive first is not fixed; how many fit is.
    expect([throttled.length, accepted.length]).toEqual([4, 4]);
    for (const a of throttled) expect(a).toMatchObject({ retriable: true, message: expect.stringMatching(/in flight \(limit 4194304\)/) });
    // Throttled at arrival, not after waiting: every refusal came before any accepted answer.
    expect(Math.max(...throttled.map((a) => a.atMs))).toBeLessThan(Math.min(...accepted.map((a) => a.atMs)));
    // The accepted ones commit once the followers are back (or, had leadership moved meanwhile,
    // get a retriable answer); none of them is refused for good.
    for (const a of accepted) expect(a.code === 'ERROR_CODE_NONE' || a.retriable, JSON.stringify(a)).toBe(true);

    // What the partition holds: the seed, the accepted batches that succeeded, no throttled one.
    const written = new Set<number>();
    const consumer = f.client.consumer({ topic: 'bp', from: 'earliest', maxBytes: 8 * 1024 * 1024 });
    try {
      const hw = await until('a settled high watermark', async () => {
        const p = (await f.client.admin.describeTopic('bp'))[0]!;
        return p.leaderId > 0 ? p.highWatermark : undefined;
      });
      let seen = 0;
      const deadline = Date.now() + 10_000;
      while (seen < hw - 1 && Date.now() < deadline) {
        for (const r of await consumer.poll(500, 100)) {
          seen = Math.max(seen, r.offset);
          const m = /^big-(\d+):/.exec(r.value?.subarray(0, 16).toString() ?? '');
          if (m) written.add(Number(m[1]));
        }
      }
    } finally {
      consumer.close();
    }
    const ok = accepted.filter((a) => a.code === 'ERROR_CODE_NONE').map((a) => a.i);
    for (const i of ok) expect(written.has(i), `accepted batch ${i} is in the log`).toBe(true);
    for (const a of throttled) expect(written.has(a.i), `throttled batch ${a.i} is not in the log`).toBe(false);
  }, 60_000);
});
