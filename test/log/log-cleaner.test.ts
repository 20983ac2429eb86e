import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cleanerStagingDirName, cleanLog, decodeBatch, encodeBatch, IoThrottle, PartitionLog, readBatchHeader, validateBatch,
  type CleanerOptions, type CleanerStep,
} from '../../log/index.js';
import { kafka, listFiles, readAll, withTempDir } from './helpers.js';

const ts = 1_700_000_000_000;
// One batch per segment (each batch is ~90-120 bytes), so segment boundaries are predictable.
const config = { segmentBytes: 130, indexIntervalBytes: 50 };
const unlimited = new IoThrottle(null);

function keyed(pairs: Array<[string | null, string | null]>, at = ts, header: { producerId?: number; baseSequence?: number } = {}): Buffer {
  return encodeBatch({
    producerId: header.producerId ?? 42, producerEpoch: 3, baseSequence: header.baseSequence ?? 0,
    records: pairs.map(([k, v], i) => ({ key: k === null ? null : Buffer.from(k), value: v === null ? null : Buffer.from(v), timestamp: at + i })),
  });
}

function options(log: PartitionLog, extra: Partial<CleanerOptions> = {}): CleanerOptions {
  return { cleanableEndOffset: log.logEndOffset, tombstoneHorizonOffset: log.logEndOffset, deleteRetentionMs: 1_000, nowMs: ts + 100, throttle: unlimited, ...extra };
}

/** key → [offset, value] of every data record served, in offset order. */
function served(log: PartitionLog): Array<[number, string, string | null]> {
  return readAll(log).flatMap((b) => {
    const d = decodeBatch(b);
    return d.isControl ? [] : d.records.map((r): [number, string, string | null] => [r.offset, r.key?.toString() ?? '<none>', r.value?.toString() ?? null]);
  });
}

async function openWith(dir: string, batches: Buffer[]): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, config);
  batches.forEach((b, i) => log.append(b, { leaderEpoch: 10 + i }));
  await log.flush();
  return log;
}

describe('log cleaner', () => {
  it('keeps the latest record per key at its offset, every batch and header, and leaves empty batches', () =>
    withTempDir(async (dir) => {
      const log = await openWith(dir, [
        keyed([['a', 'a1'], ['b', 'b1']], ts, { baseSequence: 0 }),
        keyed([['a', 'a2'], ['a', 'a3']], ts + 10, { baseSequence: 2 }),
        encodeBatch({ isControl: true, records: [{ key: Buffer.from('a'), value: null, timestamp: -1 }] }),
        keyed([['b', 'b2']], ts + 20, { baseSequence: 4 }),
        keyed([['c', 'c1']], ts + 30), // active segment: never cleaned
      ]);
      const before = readAll(log).map((b) => readBatchHeader(b));
      const r = await cleanLog(log, options(log));
      expect(r).toMatchObject({ outcome: 'cleaned', cleanedThroughOffset: 6, segmentsRewritten: 2, recordsRemoved: 3 });
      expect(r.bytesAfter).toBeLessThan(r.bytesBefore);
      expect(served(log)).toEqual([[3, 'a', 'a3'], [5, 'b', 'b2'], [6, 'c', 'c1']]);
      const after = readAll(log).map((b) => readBatchHeader(b));
      const same = (h: ReturnType<typeof readBatchHeader>): unknown[] => [h.baseOffset, h.lastOffset, h.partitionLeaderEpoch, h.attributes,
        h.baseTimestamp, h.maxTimestamp, h.producerId, h.producerEpoch, h.baseSequence];
      expect(after.map(same)).toEqual(before.map(same));
      expect(after.map((h) => h.recordCount)).toEqual([0, 1, 1, 1, 1]);
      // The emptied batch is a valid RecordBatch v2 for an independent reader too (kafkajs).
      const empty = readAll(log)[0]!;
      const k = await kafka.decodeBatch(new kafka.Decoder(empty));
      expect([k.firstOffset, k.lastOffsetDelta, k.records.length, k.producerId]).toEqual(['0', 1, 0, '42']);
      expect(() => validateBatch(empty, 1 << 20)).toThrow(expect.objectContaining({ code: 'RECORD_COUNT_MISMATCH' }));
      await log.close();
    }));

  it('survives a reopen: cleaned segments load with their rebuilt indexes and serve every offset', () =>
    withTempDir(async (dir) => {
      const batches = Array.from({ length: 12 }, (_, i) => keyed([[`k${i % 3}`, `v${i}`], [`k${(i + 1) % 3}`, `w${i}`]], ts + i * 10));
      const log = await openWith(dir, batches);
      expect((await cleanLog(log, options(log))).outcome).toBe('cleaned');
      const expected = served(log);
      await log.close();
      const reopened = await PartitionLog.open(dir, { ...config });
      expect(reopened.recovery.truncated).toBeNull();
      expect(served(reopened)).toEqual(expected);
      for (let o = 0; o < reopened.logEndOffset; o++) expect(reopened.read(o, 0).firstOffset).toBeLessThanOrEqual(o);
      // batch 11 holds records at ts+110 (offset 22, kept) and ts+111; nothing is at or after ts+112
      expect([reopened.offsetForTimestamp(ts + 105), reopened.offsetForTimestamp(ts + 112)]).toEqual([22, null]);
      await reopened.close();
    }));

  it('keeps a tombstone until delete.retention.ms after its batch and below the horizon, then drops it with the values it shadowed', () =>
    withTempDir(async (dir) => {
      const log = await openWith(dir, [keyed([['a', 'a1']], ts), keyed([['a', null]], ts + 10), keyed([['z', 'z1']], ts + 20)]);
      await cleanLog(log, options(log, { nowMs: ts + 10 + 999 }));
      expect(served(log)).toEqual([[1, 'a', null], [2, 'z', 'z1']]);
      // Expired, but not below the tombstone horizon (some replica may not have it yet): kept.
      const held = await cleanLog(log, options(log, { nowMs: ts + 10 + 1_000, tombstoneHorizonOffset: 1 }));
      expect(held).toMatchObject({ tombstonesRemoved: 0, heldBackTombstoneOffset: 1 });
      expect(served(log)).toEqual([[1, 'a', null], [2, 'z', 'z1']]);
      const r = await cleanLog(log, options(log, { nowMs: ts + 10 + 1_000, tombstoneHorizonOffset: 2 }));
      expect(r).toMatchObject({ outcome: 'cleaned', tombstonesRemoved: 1, heldBackTombstoneOffset: null });
      expect(served(log)).toEqual([[2, 'z', 'z1']]);
      await log.close();
    }));

  it('drops keyless records (they have no latest value to keep), as Kafka\'s cleaner does', () =>
    withTempDir(async (dir) => {
      const log = await openWith(dir, [keyed([[null, 'x'], ['a', 'a1']]), keyed([['b', 'b1']])]);
      expect(await cleanLog(log, options(log))).toMatchObject({ keylessRemoved: 1, recordsRemoved: 0 });
      expect(served(log)).toEqual([[1, 'a', 'a1'], [2, 'b', 'b1']]);
      await log.close();
    }));

  it('cleans nothing at or above the high watermark, and uncommitted records shadow nothing', () =>
    withTempDir(async (dir) => {
      const log = await openWith(dir, [keyed([['a', 'a1']]), keyed([['a', 'a2']]), keyed([['a', 'a3']]), keyed([['b', 'b1']])]);
      // High watermark 2: a2 (committed) shadows a1; a3 (uncommitted) must not shadow a2.
      const r = await cleanLog(log, options(log, { cleanableEndOffset: 2 }));
      expect(r).toMatchObject({ outcome: 'cleaned', cleanedThroughOffset: 2, segmentsRewritten: 1, recordsRemoved: 1 });
      expect(served(log).map(([o]) => o)).toEqual([1, 2, 3]);
      expect(await cleanLog(log, options(log, { cleanableEndOffset: 0 }))).toMatchObject({ outcome: 'nothing-to-clean' });
      await log.close();
    }));

  it('abandons a pass when the log changes under it, leaving the log and directory as they were', () =>
    withTempDir(async (dir) => {
      const log = await openWith(dir, Array.from({ length: 6 }, (_, i) => keyed([['a', `a${i}`]], ts + i)));
      const files = listFiles(dir);
      let calls = 0;
      // The throttle's sleep is where the pass yields; retention deletes the first segment there.
      const throttle = new IoThrottle(1, { nowMs: () => 0, sleepMs: async () => {
        if (calls++ === 1) log.deleteBefore(1);
      } });
      const r = await cleanLog(log, options(log, { throttle }));
      expect(r).toMatchObject({ outcome: 'abandoned', segmentsRewritten: 0 });
      expect(r.reason).toMatch(/changed/);
      expect(fs.existsSync(path.join(dir, cleanerStagingDirName))).toBe(false);
      const left = listFiles(dir);
      for (const name of Object.keys(left).filter((n) => n.endsWith('.log'))) expect(left[name]).toEqual(files[name]);
      expect(served(log).map(([o]) => o)).toEqual([1, 2, 3, 4, 5]);
      await log.close();
    }));

  it('a crash at any step of the swap leaves all old segments or all cleaned ones, never a mix', async () => {
    const steps: Array<[CleanerStep, number]> = [['segment-staged', 0], ['staged', 0], ['manifest-written', 0], ['file-renamed', 0],
      ['file-renamed', 4], ['renames-done', 0]];
    for (const [step, nth] of steps) {
      await withTempDir(async (dir) => {
        // a1 is shadowed by a tombstone two segments later: a mix of old and new could serve a1 again.
        const log = await openWith(dir, [keyed([['a', 'a1']]), keyed([['b', 'b1']]), keyed([['a', null]]), keyed([['b', 'b2']]), keyed([['c', 'c1']])]);
        const old = listFiles(dir);
        let seen = 0;
        const onStep = (s: CleanerStep): void => {
          if (s === step && seen++ === nth) throw new Error(`killed at ${s}`);
        };
        await expect(cleanLog(log, options(log, { nowMs: ts + 10_000, onStep }))).rejects.toThrow(/killed at/);
        const reopened = await PartitionLog.open(dir, config); // the dead process's log object is dropped
        const completed = reopened.recovery.cleanerSwap === 'completed';
        expect(served(reopened)).toEqual(completed ? [[3, 'b', 'b2'], [4, 'c', 'c1']] : [[0, 'a', 'a1'], [1, 'b', 'b1'], [2, 'a', null], [3, 'b', 'b2'], [4, 'c', 'c1']]);
        expect(completed).toBe(step === 'manifest-written' || step === 'file-renamed' || step === 'renames-done');
        const now = listFiles(dir);
        const logs = Object.keys(old).filter((n) => n.endsWith('.log'));
        expect(logs.filter((n) => !now[n]!.equals(old[n]!)).length).toBe(completed ? 3 : 0);
        expect(fs.existsSync(path.join(dir, cleanerStagingDirName))).toBe(false);
        await reopened.close();
      });
    }
  });

  it('paces its I/O through the throttle: bytes accounted, waits proportional to the limit', () =>
    withTempDir(async (dir) => {
      const log = await openWith(dir, Array.from({ length: 20 }, (_, i) => keyed([['a', `a${i}`.padEnd(40, '.')]], ts + i)));
      let clockMs = 0;
      const throttle = new IoThrottle(1_000, { nowMs: () => clockMs, sleepMs: async (ms) => {
        clockMs += ms;
      } });
      await cleanLog(log, options(log, { throttle, readChunkBytes: 1 }));
      // Every sealed byte is read twice (key map, then copy) and the cleaned copy is written.
      expect(throttle.bytesTotal).toBeGreaterThan(2 * log.sizeBytes);
      expect(clockMs).toBeGreaterThanOrEqual((throttle.bytesTotal - 100) / 1_000 * 1000 - 1);
      expect(() => new IoThrottle(0)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      await log.close();
    }));

  it('accepts an emptied batch only on the replication path, never from a producer', () =>
    withTempDir(async (dir) => {
      const source = await openWith(dir, [keyed([['a', 'a1']]), keyed([['a', 'a2']]), keyed([['b', 'b1']])]);
      await cleanLog(source, options(source));
      const emptied = Buffer.from(readAll(source)[0]!);
      await source.close();
      await withTempDir(async (dir2) => {
        const follower = await PartitionLog.open(dir2, config);
        expect(() => follower.append(Buffer.from(emptied), { expectedBaseOffset: 0 })).toThrow(expect.objectContaining({ code: 'RECORD_COUNT_MISMATCH' }));
        expect(follower.logEndOffset).toBe(0);
        expect(follower.append(Buffer.from(emptied), { expectedBaseOffset: 0, allowEmpty: true })).toEqual({ baseOffset: 0, lastOffset: 0 });
        await follower.close();
      });
    }));
});
