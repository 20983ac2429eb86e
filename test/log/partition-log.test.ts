import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeBatch, isLogError, PartitionLog, readBatchHeader } from '../../log/index.js';
import { makeBatch, readAll, splitBatches, withTempDir } from './helpers.js';

const ts = 1_700_000_000_000;

describe('PartitionLog', () => {
  it('assigns offsets, serves whole batches, and reports bounds', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir);
      expect([log.logStartOffset, log.logEndOffset, log.flushedOffset]).toEqual([0, 0, 0]);
      expect(log.append(makeBatch(3, 'a', ts))).toEqual({ baseOffset: 0, lastOffset: 2 });
      expect(log.append(makeBatch(2, 'b', ts + 10), { leaderEpoch: 7 })).toEqual({ baseOffset: 3, lastOffset: 4 });
      expect(log.logEndOffset).toBe(5);
      expect(log.flushedOffset).toBe(0); // nothing is durable before flush()
      expect(await log.flush()).toBe(5);
      const all = log.read(0, 1 << 20);
      const batches = splitBatches(all.records).map((b) => decodeBatch(b));
      expect(batches.map((b) => [b.baseOffset, b.lastOffset, b.partitionLeaderEpoch])).toEqual([
        [0, 2, -1],
        [3, 4, 7],
      ]);
      expect(all.nextOffset).toBe(5);
      // an offset inside a batch returns that whole batch; maxBytes 0 still returns one batch
      const inside = log.read(4, 0);
      expect([inside.firstOffset, inside.nextOffset, splitBatches(inside.records).length]).toEqual([3, 5, 1]);
      // the high watermark bounds what is served
      expect(log.read(0, 1 << 20, 3).nextOffset).toBe(3);
      expect(log.read(0, 1 << 20, 2).records.length).toBe(0);
      expect(log.read(5, 100).records.length).toBe(0);
      expect(() => log.read(6, 100)).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));
      await log.close();
      expect(() => log.read(0, 1)).toThrow(expect.objectContaining({ code: 'LOG_CLOSED' }));
    }));

  it('coalesces concurrent flushes into few fdatasyncs and never reports unflushed appends', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir);
      const flushes: Promise<number>[] = [];
      for (let i = 0; i < 20; i++) {
        log.append(makeBatch(1, `r${i}`, ts + i));
        flushes.push(log.flush());
      }
      const results = await Promise.all(flushes);
      // each flush covers at least the append made before it was called
      results.forEach((r, i) => expect(r).toBeGreaterThanOrEqual(i + 1));
      expect(log.flushedOffset).toBe(20);
      // 20 calls, but the first runs alone and the other 19 share one follow-up flush
      expect(new Set(flushes.slice(1)).size).toBe(1);
      await log.close();
    }));

  it('a flush covers only what was appended before it started', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir);
      log.append(makeBatch(3, 'a', ts));
      const first = log.flush();
      log.append(makeBatch(2, 'b', ts)); // lands while the fdatasync is in flight
      expect(await first).toBe(3);
      expect(log.flushedOffset).toBe(3);
      expect(await log.flush()).toBe(5);
      await log.close();
    }));

  it('header-only scan yields every batch with its epoch, size and control flag', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir, { segmentBytes: 400 });
      const sizes: number[] = [];
      for (let i = 0; i < 12; i++) {
        const b = makeBatch(1 + (i % 3), `s${i}`, ts + i * 100, { isControl: i % 4 === 0 });
        sizes.push(b.length);
        log.append(b, { leaderEpoch: Math.floor(i / 5) });
      }
      const headers = [...log.batchHeaders()];
      expect(headers.map((h) => h.sizeBytes)).toEqual(sizes);
      expect(headers.map((h) => h.isControl)).toEqual(sizes.map((_, i) => i % 4 === 0));
      expect(headers.map((h) => h.partitionLeaderEpoch)).toEqual(sizes.map((_, i) => Math.floor(i / 5)));
      headers.slice(1).forEach((h, i) => expect(h.baseOffset).toBe((headers[i] as (typeof headers)[0]).lastOffset + 1));
      expect(new Set(headers.map((h) => h.segmentBaseOffset)).size).toBeGreaterThan(2); // it rolled
      expect(log.segmentCount).toBe(new Set(headers.map((h) => h.segmentBaseOffset)).size);
      expect(log.sizeBytes).toBe(sizes.reduce((a, b) => a + b, 0));
      const from7 = [...log.batchHeaders(headers[5]?.baseOffset, headers[9]?.baseOffset)];
      expect(from7.map((h) => h.baseOffset)).toEqual(headers.slice(5, 9).map((h) => h.baseOffset));
      await log.close();
    }));

  it('reopens after a clean close without scanning, and after a crash by scanning the tail only', () =>
    withTempDir(async (dir) => {
      let log = await PartitionLog.open(dir, { segmentBytes: 1000 });
      for (let i = 0; i < 30; i++) log.append(makeBatch(2, `c${i}`, ts + i));
      await log.close();
      log = await PartitionLog.open(dir, { segmentBytes: 1000 });
      expect(log.recovery.cleanShutdown).toBe(true);
      expect(log.recovery.segmentsScanned).toBe(0);
      expect(log.recovery.segmentsLoaded).toBeGreaterThanOrEqual(3);
      expect(log.logEndOffset).toBe(60);
      for (let i = 0; i < 5; i++) log.append(makeBatch(2, `d${i}`, ts + 100 + i));
      await log.flush();
      // "crash": drop the object without close(); the checkpoint vouches for sealed segments only
      const before = Buffer.concat(readAll(log));
      const reopened = await PartitionLog.open(dir, { segmentBytes: 1000 });
      expect(reopened.recovery.cleanShutdown).toBe(false);
      expect(reopened.recovery.segmentsScanned).toBe(1);
      expect(reopened.recovery.truncated).toBeNull();
      expect(reopened.logEndOffset).toBe(70);
      expect(Buffer.concat(readAll(reopened)).equals(before)).toBe(true);
      await reopened.close();
    }));

  it('rolls by age using record timestamps, like Kafka', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir, { segmentMs: 1000 });
      log.append(makeBatch(1, 'a', ts));
      log.append(makeBatch(1, 'b', ts + 999));
      log.append(makeBatch(1, 'c', ts + 1000));
      expect([...log.batchHeaders()].map((h) => h.segmentBaseOffset)).toEqual([0, 0, 2]);
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.log'))).toEqual([
        '00000000000000000000.log',
        '00000000000000000002.log',
      ]);
      await log.close();
      expect(fs.readdirSync(dir)).toContain('00000000000000000000.index');
    }));

  it('truncates a suffix at batch boundaries only, across segments', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir, { segmentBytes: 300 });
      for (let i = 0; i < 10; i++) log.append(makeBatch(2, `t${i}`, ts + i));
      await log.flush();
      expect(() => log.truncateFrom(5)).toThrow(expect.objectContaining({ code: 'NOT_BATCH_BOUNDARY' }));
      expect(() => log.truncateFrom(21)).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));
      expect(log.logEndOffset).toBe(20);
      log.truncateFrom(6);
      expect([log.logEndOffset, log.flushedOffset]).toEqual([6, 6]);
      expect(log.append(makeBatch(1, 'new', ts))).toEqual({ baseOffset: 6, lastOffset: 6 });
      const values = readAll(log).map((b) => decodeBatch(b).records.map((r) => r.value?.toString().split('|')[0]));
      expect(values.flat()).toEqual(['t0-0', 't0-1', 't1-0', 't1-1', 't2-0', 't2-1', 'new-0']);
      await log.close();
      const again = await PartitionLog.open(dir, { segmentBytes: 300 });
      expect(again.logEndOffset).toBe(7);
      await again.close();
    }));

  it('a flush after cutting back to the flushed offset waits for the queued cut (write-behind)', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir);
      const kept = makeBatch(1, 'kept', ts);
      log.append(kept);
      await log.flush();
      log.append(makeBatch(1, 'cut', ts, { valueBytes: 4 * 1024 * 1024 })); // its write is queued
      log.truncateFrom(1); // flushed == logEnd again: only the queued cut differs
      await log.flush();
      // Spin on this thread (no completion can run): if the cut were still queued, the big write
      // would land meanwhile and stay, and a crash would keep the cut batch.
      const file = path.join(dir, '00000000000000000000.log');
      const until = Date.now() + 300;
      while (Date.now() < until && fs.statSync(file).size === kept.length) {
        // waiting for a write that must not come
      }
      expect(fs.statSync(file).size).toBe(kept.length);
      await log.close();
    }));

  it('deletes whole segments before an offset and keeps the end offset', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir, { segmentBytes: 300 });
      for (let i = 0; i < 10; i++) log.append(makeBatch(2, `p${i}`, ts + i));
      const start = log.deleteBefore(7);
      expect(start).toBeLessThanOrEqual(7);
      expect(start).toBeGreaterThan(0);
      expect(() => log.read(start - 1, 10)).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));
      expect(log.deleteBefore(20)).toBe(20);
      expect([log.logStartOffset, log.logEndOffset]).toEqual([20, 20]);
      expect(log.append(makeBatch(1, 'x', ts))).toEqual({ baseOffset: 20, lastOffset: 20 });
      await log.close();
      const again = await PartitionLog.open(dir, { segmentBytes: 300 });
      expect([again.logStartOffset, again.logEndOffset]).toEqual([20, 21]);
      await again.close();
    }));

  it('finds the first offset at or after a timestamp (record level)', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir, { segmentBytes: 500, indexIntervalBytes: 100 });
      for (let i = 0; i < 20; i++) log.append(makeBatch(3, `ts${i}`, ts + i * 10)); // records at ts+10i+{0,1,2}
      expect(log.offsetForTimestamp(0)).toBe(0);
      expect(log.offsetForTimestamp(ts + 51)).toBe(16);
      expect(log.offsetForTimestamp(ts + 53)).toBe(18);
      expect(log.offsetForTimestamp(ts + 192)).toBe(59);
      expect(log.offsetForTimestamp(ts + 193)).toBeNull();
      await log.close();
    }));

  it('accepts follower appends that carry their own offset, and rejects a mismatch', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir);
      const b = makeBatch(2, 'f', ts);
      expect(() => log.append(b, { expectedBaseOffset: 1 })).toThrow(expect.objectContaining({ code: 'BASE_OFFSET_MISMATCH' }));
      expect(log.append(b, { expectedBaseOffset: 0 })).toEqual({ baseOffset: 0, lastOffset: 1 });
      const c = makeBatch(1, 'g', ts); // carries base offset 0, log end is 2
      expect(() => log.append(c, { expectedBaseOffset: 2 })).toThrow(expect.objectContaining({ code: 'BASE_OFFSET_MISMATCH' }));
      expect(readBatchHeader(c).baseOffset).toBe(0); // untouched on error
      await log.close();
    }));

  it('checks its configuration', async () => {
    await expect(PartitionLog.open(path.join('/nonexistent-ferry', 'x'), { segmentBytes: 0 })).rejects.toSatisfy((e) =>
      isLogError(e, 'INVALID_CONFIG'),
    );
  });
});

describe('PartitionLog.resetTo', () => {
  it('empties the log and restarts it at a new offset, durably', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir, { segmentBytes: 300 });
      for (let i = 0; i < 8; i++) log.append(makeBatch(2, `r${i}`, ts + i));
      const pending = log.flush(); // a flush in flight must not be confused by the reset
      log.resetTo(1000);
      await pending;
      expect([log.logStartOffset, log.logEndOffset, log.flushedOffset]).toEqual([1000, 1000, 1000]);
      expect(log.append(makeBatch(1, 'after', ts))).toEqual({ baseOffset: 1000, lastOffset: 1000 });
      await log.flush();
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.log'))).toEqual(['00000000000000001000.log']);
      const again = await PartitionLog.open(dir, { segmentBytes: 300 }); // crash-reopen
      expect([again.logStartOffset, again.logEndOffset]).toEqual([1000, 1001]);
      expect(readAll(again)).toHaveLength(1);
      await again.close();
    }));
});

describe('PartitionLog.setRollPolicy', () => {
  it('changes when segments roll without reopening, and refuses bad values without changing anything', async () => {
    await withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir, { segmentBytes: 1 << 30 });
      for (let i = 0; i < 10; i += 1) log.append(makeBatch(1, `a${i}`, 1_700_000_000_000, { valueBytes: 4000 }));
      expect(log.segmentCount).toBe(1);
      log.setRollPolicy({ segmentBytes: 10_000, segmentMs: 7 * 24 * 3600 * 1000 });
      for (let i = 0; i < 10; i += 1) log.append(makeBatch(1, `b${i}`, 1_700_000_000_000, { valueBytes: 4000 }));
      expect(log.segmentCount).toBeGreaterThan(3);
      const before = log.segmentCount;
      expect(() => log.setRollPolicy({ segmentBytes: 0, segmentMs: 1 })).toThrow(/segmentBytes must be an integer/);
      log.append(makeBatch(1, 'c', 1_700_000_000_000, { valueBytes: 4000 }));
      expect(log.segmentCount).toBe(before + 1); // the 10,000-byte policy still holds
      await log.close();
    });
  });
});
