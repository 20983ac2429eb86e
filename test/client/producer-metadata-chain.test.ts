import { describe, expect, it } from 'vitest';
import { readBatchHeader } from '../../log/index.js';
import { FerryError } from '../../client/errors.js';
import { Producer } from '../../client/producer.js';
import type { MetadataCache } from '../../client/metadata-cache.js';
import { fakeNode, okError } from './fakes.js';

describe('producer: sends waiting for metadata', () => {
  it('share one lookup per unknown topic, fail together, and never hold up sends to a known topic', async () => {
    let next = 0;
    const { pool } = fakeNode({
      InitProducerId(_req, _o, cb) { setImmediate(() => cb(null, { error: okError, producerId: 1, producerEpoch: 0 })); },
      Produce(req: { partitions: Array<{ batch: Buffer }> }, _o, cb) {
        const base = next;
        next += readBatchHeader(req.partitions[0]!.batch).recordCount;
        setImmediate(() => cb(null, { results: [{ baseOffset: base, error: okError }] }));
      },
    });
    const view = { name: 't', partitions: [{ partition: 0, replicas: [1] }] };
    let lookups = 0;
    const metadata = {
      knownTopic: (name: string) => (name === 't' ? view : undefined),
      // As MetadataCache.topic() does for a missing topic: ~1.5 s of re-asking, here 100 ms.
      topic: async (name: string) => {
        if (name === 't') return view;
        lookups += 1;
        await new Promise((r) => setTimeout(r, 100));
        throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${name}" does not exist`, false);
      },
      leaderAddress: async () => 'fake:1', anyAddress: () => 'fake:1', learn: () => undefined,
    } as unknown as MetadataCache;
    const producer = new Producer(pool, metadata, { lingerMs: 0 });
    const typos = Array.from({ length: 20 }, () => producer.send('typo', { value: 'x' }).catch((e: FerryError) => e.code));
    const started = Date.now();
    await producer.send('t', { value: 'y', partition: 0 });
    const waited = Date.now() - started;
    // One shared lookup, failing all 20 together (serialized, it took 20 x 100 ms and held 't' up).
    expect(await Promise.all(typos)).toEqual(Array.from({ length: 20 }, () => 'UNKNOWN_TOPIC_OR_PARTITION'));
    expect(lookups).toBe(1);
    expect(waited).toBeLessThan(500);
    await producer.close();
  }, 10_000);
});
