import { describe, expect, it } from 'vitest';
import { cleanLog, encodeBatch, IoThrottle, PartitionLog, readBatchHeader } from '../../log/index.js';
import { Consumer } from '../../client/consumer.js';
import { readAll, withTempDir } from '../log/helpers.js';
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

describe('consumer on a compacted log', () => {
  it('skips offset gaps and emptied batches, and its position moves past each batch', () =>
    withTempDir(async (dir) => {
      // Three 3-record batches, one per segment; the cleaner empties the first and thins the others.
      const log = await PartitionLog.open(dir, { segmentBytes: 150 });
      const rec = (key: string, value: string) => ({ key: Buffer.from(key), value: Buffer.from(value), timestamp: 1 });
      log.append(encodeBatch({ records: [rec('a', 'a0'), rec('b', 'b0'), rec('a', 'a00')] }));
      log.append(encodeBatch({ records: [rec('a', 'a1'), rec('b', 'b1'), rec('a', 'a2')] }));
      log.append(encodeBatch({ records: [rec('b', 'b2'), rec('c', 'c1'), rec('d', 'd0')] }));
      await log.flush();
      await cleanLog(log, { cleanableEndOffset: log.logEndOffset, tombstoneHorizonOffset: log.logEndOffset, deleteRetentionMs: 0, nowMs: 2, throttle: new IoThrottle(null) });
      const batches = readAll(log);
      await log.close();
      expect(batches.map((b) => readBatchHeader(b).recordCount)).toEqual([0, 2, 3]); // the last segment is active
      const { pool, metadata } = fakeNode({
        Fetch(req: { partitions: Array<{ fetchOffset: number }> }, _o, cb) {
          const from = req.partitions[0]!.fetchOffset;
          const records = Buffer.concat(batches.filter((b) => readBatchHeader(b).lastOffset >= from).slice(0, 1)); // one batch per fetch
          setTimeout(() => cb(null, { results: [{ error: okError, highWatermark: 9, logStartOffset: 0, records }] }), from >= 9 ? 20 : 0);
        },
      });
      const c = new Consumer(pool, metadata, { topic: 't', from: { offset: 0 } });
      const got: Array<[number, string]> = [];
      while (got.length < 5) for (const r of await c.poll(1_000)) got.push([r.offset, r.value!.toString()]);
      expect(c.position(0)).toBe(9);
      c.close();
      expect(got).toEqual([[4, 'b1'], [5, 'a2'], [6, 'b2'], [7, 'c1'], [8, 'd0']]);
    }));
});
