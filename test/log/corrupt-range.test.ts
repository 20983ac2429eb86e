import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLogError, PartitionLog, type CorruptRangeDetails } from '../../log/index.js';
import { makeBatch, readAll, withTempDir } from './helpers.js';

const ts = 1_700_000_000_000;
const config = { segmentBytes: 4000, indexIntervalBytes: 300 };

/** A log of 3+ segments, cleanly closed, so the sealed ones are trusted (not rescanned) at open. */
async function buildLog(dir: string): Promise<{ batches: Buffer[]; firstSegmentFile: string }> {
  const log = await PartitionLog.open(dir, config);
  const batches: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    const b = makeBatch(3, `m${i}`, ts + i, { valueBytes: 60 });
    log.append(b, { leaderEpoch: 1 });
    batches.push(Buffer.from(b));
  }
  await log.close();
  return { batches, firstSegmentFile: path.join(dir, '00000000000000000000.log') };
}

function flipBit(file: string, at: number): void {
  const bytes = fs.readFileSync(file);
  bytes[at] = (bytes[at] as number) ^ 0x10;
  fs.writeFileSync(file, bytes);
}

describe('corrupt range in a sealed segment', () => {
  it('is reported as CORRUPT_RANGE, never served, and can be repaired from a healthy copy', () =>
    withTempDir(async (dir) => {
      const { batches, firstSegmentFile } = await buildLog(dir);
      const size = (batches[0] as Buffer).length;
      flipBit(firstSegmentFile, 5 * size + 100); // inside the value of batch 5 (offsets 15..17)

      const log = await PartitionLog.open(dir, config);
      expect(log.recovery.segmentsScanned).toBe(0); // trusted: the damage is found on read
      const first = log.read(0, 1 << 20);
      expect(first.nextOffset).toBe(15); // healthy batches before the damage are served
      expect(first.records.equals(Buffer.concat(batches.slice(0, 5)))).toBe(true);
      let range: CorruptRangeDetails | undefined;
      try {
        log.read(15, 1 << 20);
        expect.unreachable();
      } catch (err) {
        expect(isLogError(err, 'CORRUPT_RANGE')).toBe(true);
        range = (err as { details: CorruptRangeDetails }).details;
      }
      expect(range?.startOffset).toBe(15);
      expect(range?.endOffset).toBeGreaterThanOrEqual(17);
      expect(() => log.read(16, 10)).toThrow(expect.objectContaining({ code: 'CORRUPT_RANGE' }));
      expect(log.damagedRanges()).toHaveLength(1);

      // The healthy replica's bytes for exactly that range (identical batches in Raft).
      const end = (range?.endOffset ?? 0) + 1;
      const good = Buffer.concat(batches.slice(5, end / 3));
      expect(() => log.repairRange(15, good.subarray(0, good.length - 1))).toThrow(
        expect.objectContaining({ code: 'REPAIR_MISMATCH' }),
      );
      log.repairRange(15, good);
      expect(log.damagedRanges()).toHaveLength(0);
      expect(Buffer.concat(readAll(log)).equals(Buffer.concat(batches))).toBe(true);
      await log.close();
    }));

  it('the alternative without repair: truncate at the damage and re-append from a peer', () =>
    withTempDir(async (dir) => {
      const { batches, firstSegmentFile } = await buildLog(dir);
      flipBit(firstSegmentFile, 3 * (batches[0] as Buffer).length + 70);
      const log = await PartitionLog.open(dir, config);
      expect(() => readAll(log)).toThrow(expect.objectContaining({ code: 'CORRUPT_RANGE' }));
      log.truncateFrom(9);
      for (const b of batches.slice(3)) log.append(Buffer.from(b), { expectedBaseOffset: log.logEndOffset });
      expect(Buffer.concat(readAll(log)).equals(Buffer.concat(batches))).toBe(true);
      await log.flush();
      await log.close();
    }));
});
