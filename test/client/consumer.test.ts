import { describe, expect, it } from 'vitest';
import { encodeBatch, readBatchHeader } from '../../log/index.js';
import { Consumer } from '../../client/consumer.js';
import { fakeNode, okError } from './fakes.js';

/** A fake one-partition leader holding `count` single-record batches at offsets 0..count-1. */
function fakeLeader(count: number) {
  const batches = Array.from({ length: count }, (_, i) => {
    const b = encodeBatch({ records: [{ key: null, value: Buffer.from(`v${i}`), timestamp: 1 }] });
    b.writeBigInt64BE(BigInt(i), 0);
    return b;
  });
  const { pool, metadata } = fakeNode({
    ListOffsets(_r, _o, cb) {
      setImmediate(() => cb(null, { results: [{ error: okError, offset: 0, timestampMs: -1 }] }));
    },
    Fetch(req: { partitions: Array<{ fetchOffset: number }> }, _o, cb) {
      const from = req.partitions[0]!.fetchOffset;
      const records = Buffer.concat(batches.slice(from, from + 3)); // a few batches per fetch
      setTimeout(() => cb(null, { results: [{ error: okError, highWatermark: count, logStartOffset: 0, records }] }), from >= count ? 20 : 0);
    },
  });
  return { pool, metadata, batches };
}

describe('consumer positions', () => {
  it('keeps a seek made before the first poll', async () => {
    const { pool, metadata } = fakeLeader(20);
    const c = new Consumer(pool, metadata, { topic: 't', from: 'earliest' });
    c.seek(0, 12);
    const got = await c.poll(1_000);
    c.close();
    expect(got[0]?.offset).toBe(12);
  });

  it('does not stall when a seek empties a full buffer', async () => {
    const { pool, metadata, batches } = fakeLeader(40);
    expect(readBatchHeader(batches[5]!).baseOffset).toBe(5);
    const c = new Consumer(pool, metadata, { topic: 't', from: 'earliest', bufferRecords: 5 });
    expect((await c.poll(1_000, 1))[0]?.offset).toBe(0);
    await new Promise((r) => setTimeout(r, 50)); // the fetcher fills the buffer and parks
    c.seek(0, 30);
    const got = await c.poll(1_000);
    c.close();
    expect(got[0]?.offset).toBe(30);
  });
});
