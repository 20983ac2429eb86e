import { describe, expect, it } from 'vitest';
import { decodeBatch, readBatchHeader } from '../../log/index.js';
import { fakeNode, okError } from './fakes.js';
import { Producer } from '../../client/producer.js';

/** A fake node that accepts batches up to `limit` bytes and assigns offsets like a leader. */
function fakeCluster(limit: number) {
  const batches: Buffer[] = [];
  let next = 0;
  const { pool, metadata } = fakeNode({
    Produce(req: { partitions: Array<{ batch: Buffer }> }, _o, cb) {
      const batch = req.partitions[0]!.batch;
      batches.push(batch);
      const tooBig = batch.length > limit;
      const base = next;
      if (!tooBig) next += readBatchHeader(batch).recordCount;
      const error = tooBig ? { ...okError, code: 'ERROR_CODE_MESSAGE_TOO_LARGE', message: `batch of ${batch.length} > ${limit}` } : okError;
      setImmediate(() => cb(null, { results: [{ baseOffset: tooBig ? -1 : base, error }] }));
    },
  });
  return { pool, metadata, batches };
}

describe('producer batching', () => {
  it('never builds a batch larger than maxBatchBytes, whatever the record size, and keeps offsets dense', async () => {
    for (const valueBytes of [100, 1024, 10 * 1024, 100 * 1024]) {
      const limit = 1024 * 1024 + 12; // Kafka's default max.message.bytes
      const { pool, metadata, batches } = fakeCluster(limit);
      const producer = new Producer(pool, metadata, { maxBatchBytes: 1024 * 1024, lingerMs: 1 });
      const headers = { trace: 'x'.repeat(40) };
      const sent = await Promise.all(Array.from({ length: 300 }, (_, i) =>
        producer.send('t', { value: Buffer.alloc(valueBytes, i % 256), headers, partition: 0 })));
      expect(sent.map((m) => m.offset)).toEqual(Array.from({ length: 300 }, (_, i) => i));
      for (const b of batches) expect(b.length, `${valueBytes} B values`).toBeLessThanOrEqual(1024 * 1024);
      expect(batches.reduce((n, b) => n + decodeBatch(b).records.length, 0)).toBe(300);
    }
  });

  it('flush/close wait for sends that were still looking up metadata', async () => {
    const { pool, metadata, batches } = fakeCluster(1 << 20);
    const producer = new Producer(pool, metadata, { lingerMs: 50 });
    const sent = producer.send('t', { value: 'last words', partition: 0 });
    await producer.close();
    expect(batches).toHaveLength(1);
    await expect(sent).resolves.toMatchObject({ offset: 0 });
  });

  it('sends a record too large for any batch alone, so only it fails', async () => {
    const { pool, metadata, batches } = fakeCluster(64 * 1024);
    const producer = new Producer(pool, metadata, { maxBatchBytes: 64 * 1024, lingerMs: 1 });
    const results = await Promise.allSettled([
      producer.send('t', { value: 'small-1', partition: 0 }),
      producer.send('t', { value: Buffer.alloc(100 * 1024), partition: 0 }),
      producer.send('t', { value: 'small-2', partition: 0 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    expect(batches).toHaveLength(3);
  });
});
