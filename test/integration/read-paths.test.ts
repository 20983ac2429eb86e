import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch, readBatchHeader } from '../../log/index.js';
import type { FetchStreamResponse__Output } from '../../proto/gen/ferry/v1/FetchStreamResponse.js';
import type { ListOffsetsResponse__Output } from '../../proto/gen/ferry/v1/ListOffsetsResponse.js';
import * as http2 from 'node:http2';
import { http2FrameBytesMax, http2WindowBytes } from '../../node/http2-windows.js';
import { startCluster, until, type Fixture } from './cluster-fixture.js';
import { call, rawClient } from './raw-client.js';

let f: Fixture;
beforeAll(async () => {
  f = await startCluster(3);
});
afterAll(async () => {
  await f?.stop();
});

async function leaderOf(topic: string): Promise<number> {
  return until(`a leader for ${topic}`, async () => {
    const id = (await f.client.admin.describeTopic(topic))[0]!.leaderId;
    return id > 0 ? id : undefined;
  });
}

describe('read paths and shutdown', () => {
  it('offers clients and peers wide HTTP/2 windows and large frames (a 1 MiB batch is not 64 frames)', async () => {
    const session = http2.connect(`http://${f.cluster.addresses.get(1)!}`);
    try {
      let timer: NodeJS.Timeout | undefined;
      const settings = await new Promise<http2.Settings>((resolve, reject) => {
        session.once('error', reject);
        // The server's own settings arrive first, then (once the connection is up) the widened ones.
        const check = (s: http2.Settings): void => {
          if (s.maxFrameSize === http2FrameBytesMax) resolve(s);
          else session.once('remoteSettings', check);
        };
        session.once('remoteSettings', check);
        timer = setTimeout(() => reject(new Error(`no widened settings; last: ${JSON.stringify(session.remoteSettings)}`)), 5_000);
      }).finally(() => clearTimeout(timer));
      expect(settings).toMatchObject({ maxFrameSize: http2FrameBytesMax, initialWindowSize: http2WindowBytes });
    } finally {
      session.destroy();
    }
  });

  it('FetchStream pushes committed batches as they commit, from the requested offset', async () => {
    await f.client.admin.createTopic('tail', { partitions: 1 });
    const producer = f.client.producer({ lingerMs: 0 });
    for (let i = 0; i < 3; i += 1) await producer.send('tail', { value: `before-${i}`, partition: 0 });
    const c = rawClient(f.cluster.addresses.get(await leaderOf('tail'))!);
    const seen: string[] = [];
    const stream = c.FetchStream({ topic: 'tail', partition: 0, startOffset: 2 });
    stream.on('data', (msg: FetchStreamResponse__Output) => {
      const records = msg.result!.records;
      for (let pos = 0; pos < records.length;) {
        const h = readBatchHeader(records, pos);
        if (!h.isControl) for (const r of decodeBatch(records.subarray(pos, pos + h.sizeBytes)).records) seen.push(`${r.offset}:${r.value}`);
        pos += h.sizeBytes;
      }
    });
    stream.on('error', () => undefined); // cancelled below
    for (let i = 0; i < 3; i += 1) await producer.send('tail', { value: `after-${i}`, partition: 0 });
    await until('the streamed records', () => (seen.length >= 5 ? seen : undefined));
    stream.cancel();
    c.close();
    expect(seen).toEqual(['2:before-1', '3:before-2', '4:after-0', '5:after-1', '6:after-2']);
  });

  it('ListOffsets finds the first offset at or after a timestamp; the consumer starts there', async () => {
    await f.client.admin.createTopic('times', { partitions: 1 });
    const producer = f.client.producer({ lingerMs: 0 });
    const base = 1_700_000_000_000;
    for (let i = 0; i < 10; i += 1) await producer.send('times', { value: `t${i}`, partition: 0, timestamp: base + i * 1000 });
    const c = rawClient(f.cluster.addresses.get(await leaderOf('times'))!);
    const lo = await call<ListOffsetsResponse__Output>(c, 'ListOffsets', { partitions: [
      { topic: 'times', partition: 0, spec: 'OFFSET_SPEC_TIMESTAMP', timestampMs: base + 4500 },
      { topic: 'times', partition: 0, spec: 'OFFSET_SPEC_EARLIEST' },
      { topic: 'times', partition: 0, spec: 'OFFSET_SPEC_LATEST' },
      { topic: 'times', partition: 0, spec: 'OFFSET_SPEC_TIMESTAMP', timestampMs: base + 99_000 },
    ] });
    c.close();
    // Offset 0 is the leader's no-op; t5 (base + 5000) sits at offset 6.
    expect(lo.results.map((r) => r.offset)).toEqual([6, 0, 11, 11]);
    const consumer = f.client.consumer({ topic: 'times', from: { timestamp: base + 4500 } });
    const first = await until('a record', async () => (await consumer.poll(200))[0]);
    consumer.close();
    expect([first.offset, first.value?.toString()]).toEqual([6, 't5']);
  });

  it('a node stopped with SIGTERM hands its leaderships to another replica first', async () => {
    await f.client.admin.createTopic('handoff', { partitions: 3 });
    const producer = f.client.producer();
    await Promise.all([0, 1, 2].map((p) => producer.send('handoff', { value: 'x', partition: p })));
    const before = await f.client.admin.describeTopic('handoff');
    const victim = before.find((p) => p.leaderId > 0)!.leaderId;
    const led = before.filter((p) => p.leaderId === victim).map((p) => p.partition);
    await f.cluster.stopNode(victim);
    const after = await f.client.admin.describeTopic('handoff');
    for (const p of led) {
      expect(after[p]!.leaderId, `partition ${p}`).toBeGreaterThan(0);
      expect(after[p]!.leaderId).not.toBe(victim);
    }
    // The hand-off happened before the node went away: its log says so, with no warning.
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(f.cluster.logFile(victim), 'utf8')).not.toContain('shutting down while still leading');
    f.cluster.startNode(victim);
  });
});
