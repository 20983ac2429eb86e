// Compaction property: random keyed writes, tombstones, control batches, time passing and cleaner
// passes, some of them "killed" at a random step (the hook throws and the log object is dropped
// without close(), as a crashed process would leave it), with reopens in between. Afterwards:
// * every batch is still there with its offsets and header (one Raft entry per batch);
// * control batches are byte for byte as written;
// * every record served is one that was written, at the offset it was given;
// * for every key, the latest record served is exactly the latest one written (value at its
//   original offset), or, for a tombstone, the tombstone or nothing once it could have expired
//   and lay below a tombstone horizon some pass was given;
// * below the end of the last completed pass, no key has two records (compaction did its job).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cleanLog, decodeBatch, encodeBatch, IoThrottle, PartitionLog, readBatchHeader, type CleanerStep,
} from '../../log/index.js';
import { readAll, removeDir, tempDir } from './helpers.js';

const config = { segmentBytes: 350, indexIntervalBytes: 120 };
const deleteRetentionMs = 50;
const keys = ['a', 'b', 'c', 'd', 'e'];

type Op =
  | { kind: 'write'; records: Array<{ key: number; value: string | null }> }
  | { kind: 'control' }
  | { kind: 'tick'; ms: number }
  | { kind: 'clean'; crash: { step: CleanerStep; nth: number } | null; horizonPick: number }
  | { kind: 'reopen' };

const steps: CleanerStep[] = ['segment-staged', 'staged', 'manifest-written', 'file-renamed', 'renames-done'];
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({
    kind: fc.constant('write' as const),
    records: fc.array(fc.record({ key: fc.nat({ max: keys.length - 1 }), value: fc.option(fc.string({ maxLength: 40 }), { freq: 5 }) }), { minLength: 1, maxLength: 3 }),
  }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('control' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 80 }) }) },
  { weight: 3, arbitrary: fc.record({
    kind: fc.constant('clean' as const),
    crash: fc.option(fc.record({ step: fc.constantFrom(...steps), nth: fc.nat({ max: 3 }) }), { freq: 2 }),
    horizonPick: fc.nat(),
  }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

interface Written {
  readonly offset: number;
  readonly key: string;
  readonly value: string | null;
  readonly batchMaxTimestamp: number;
}

class CrashHere extends Error {}

interface RunState {
  log: PartitionLog;
  nowMs: number;
  readonly written: Written[];
  readonly batches: Array<{ baseOffset: number; lastOffset: number; control: Buffer | null }>;
  /** End of the last pass that completed (everything below it is compacted as of that pass). */
  cleanedThrough: number;
  /** Highest tombstone horizon any pass was given: no tombstone at or above it may go. */
  horizonMax: number;
}

const throttle = new IoThrottle(null);

/** A pass with the tombstone horizon at `horizonPick` mod (log end + 1). */
async function clean(s: RunState, dir: string, crash: { step: CleanerStep; nth: number } | null, horizonPick: number): Promise<void> {
  const tombstoneHorizonOffset = horizonPick % (s.log.logEndOffset + 1);
  s.horizonMax = Math.max(s.horizonMax, tombstoneHorizonOffset);
  let seen = 0;
  const onStep = (step: CleanerStep): void => {
    if (crash !== null && step === crash.step && seen++ === crash.nth) throw new CrashHere(step);
  };
  try {
    const r = await cleanLog(s.log, { cleanableEndOffset: s.log.logEndOffset, tombstoneHorizonOffset, deleteRetentionMs, nowMs: s.nowMs, throttle, onStep });
    expect(r.outcome).not.toBe('abandoned');
    if (r.outcome === 'cleaned') s.cleanedThrough = r.cleanedThroughOffset;
  } catch (err) {
    if (!(err instanceof CrashHere) && !(err instanceof Error && err.cause instanceof CrashHere)) throw err;
    // Killed. A crash inside the swap fail-stopped the log, so close() only releases its fds;
    // before the swap the log is fine and is dropped without close(), as a dead process leaves it.
    if (err instanceof Error && err.cause instanceof CrashHere) await s.log.close();
    s.log = await PartitionLog.open(dir, config);
    expect(['completed', 'discarded']).toContain(s.log.recovery.cleanerSwap);
  }
}

async function apply(s: RunState, dir: string, o: Op, i: number): Promise<void> {
  if (o.kind === 'write') {
    const records = o.records.map((r) => ({ key: Buffer.from(keys[r.key] as string), value: r.value === null ? null : Buffer.from(r.value), timestamp: s.nowMs }));
    const { baseOffset, lastOffset } = s.log.append(encodeBatch({ records, producerId: 7, producerEpoch: 1, baseSequence: i }), { leaderEpoch: i });
    o.records.forEach((r, k) => s.written.push({ offset: baseOffset + k, key: keys[r.key] as string, value: r.value, batchMaxTimestamp: s.nowMs }));
    s.batches.push({ baseOffset, lastOffset, control: null });
  } else if (o.kind === 'control') {
    const batch = encodeBatch({ isControl: true, records: [{ key: Buffer.from('a'), value: null, timestamp: s.nowMs }] });
    const { baseOffset, lastOffset } = s.log.append(batch);
    s.batches.push({ baseOffset, lastOffset, control: Buffer.from(batch) });
  } else if (o.kind === 'tick') {
    s.nowMs += o.ms;
  } else if (o.kind === 'clean') {
    await clean(s, dir, o.crash, o.horizonPick);
  } else {
    await s.log.close();
    s.log = await PartitionLog.open(dir, config);
  }
  await s.log.flush();
}

function check(s: RunState): void {
  const batches = readAll(s.log);
  expect(batches.map((b) => [readBatchHeader(b).baseOffset, readBatchHeader(b).lastOffset])).toEqual(s.batches.map((b) => [b.baseOffset, b.lastOffset]));
  const byOffset = new Map(s.written.map((w) => [w.offset, w]));
  const served: Written[] = [];
  batches.forEach((b, i) => {
    const expected = s.batches[i]!;
    if (expected.control !== null) {
      expect(b.subarray(12).equals(expected.control.subarray(12))).toBe(true); // all but offset and epoch
      return;
    }
    const decoded = decodeBatch(b);
    expect([decoded.producerId, decoded.producerEpoch]).toEqual([7, 1]);
    for (const r of decoded.records) {
      const w = byOffset.get(r.offset);
      expect(w, `record at ${r.offset} was never written there`).toBeDefined();
      expect([r.key?.toString(), r.value?.toString() ?? null]).toEqual([w!.key, w!.value]);
      served.push(w!);
    }
  });
  for (const key of keys) {
    const latest = s.written.filter((w) => w.key === key).at(-1);
    const seen = served.filter((w) => w.key === key).at(-1);
    if (latest === undefined) expect(seen).toBeUndefined();
    else if (latest.value !== null || seen !== undefined) expect(seen).toEqual(latest);
    else {
      expect(latest.batchMaxTimestamp + deleteRetentionMs).toBeLessThanOrEqual(s.nowMs);
      expect(latest.offset).toBeLessThan(s.horizonMax);
    }
  }
  const compacted = served.filter((w) => w.offset < s.cleanedThrough).map((w) => w.key);
  expect(new Set(compacted).size).toBe(compacted.length);
}

describe('compaction property', () => {
  it('keeps exactly the latest record per key at its offset, through cleaner crashes at any step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 80, size: 'max' }), fc.nat(), async (ops, finalHorizon) => {
        const dir = tempDir('ferry-compact-');
        try {
          const s: RunState = {
            log: await PartitionLog.open(dir, config), nowMs: 1_700_000_000_000, written: [], batches: [], cleanedThrough: 0, horizonMax: 0,
          };
          for (const [i, o] of ops.entries()) await apply(s, dir, o, i);
          await clean(s, dir, null, finalHorizon); // a final uninterrupted pass
          check(s);
          await s.log.close();
        } finally {
          removeDir(dir);
        }
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
