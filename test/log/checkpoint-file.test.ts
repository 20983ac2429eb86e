import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMetadata, encodeMetadata, readMetadataFile, writeMetadataFileSync } from '../../log/checkpoint-file.js';
import { logLimits, PartitionLog } from '../../log/index.js';
import { makeBatch, withTempDir } from './helpers.js';

describe('metadata files (version + length + CRC, atomic replace)', () => {
  it('round-trip, and any single-byte change is detected', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (payload, at, xor) => {
        const file = encodeMetadata(3, Buffer.from(payload));
        expect(decodeMetadata('f', file, 3).equals(Buffer.from(payload))).toBe(true);
        const bad = Buffer.from(file);
        const i = at % bad.length;
        bad[i] = (bad[i] as number) ^ xor;
        expect(() => decodeMetadata('f', bad, 3)).toThrow(expect.objectContaining({ code: 'CORRUPT_METADATA' }));
        expect(() => decodeMetadata('f', file.subarray(0, file.length - 1), 3)).toThrow(
          expect.objectContaining({ code: 'CORRUPT_METADATA' }),
        );
        expect(() => decodeMetadata('f', file, 4)).toThrow(expect.objectContaining({ code: 'CORRUPT_METADATA' }));
      }),
    );
  });

  it('replaces the file atomically and leaves no temp file behind', () =>
    withTempDir((dir) => {
      expect(readMetadataFile(dir, 'meta', 1)).toBeNull();
      writeMetadataFileSync(dir, 'meta', 1, Buffer.from('one'));
      writeMetadataFileSync(dir, 'meta', 1, Buffer.from('two'));
      expect(readMetadataFile(dir, 'meta', 1)?.toString()).toBe('two');
      expect(fs.readdirSync(dir)).toEqual(['meta']);
    }));

  it('a damaged recovery checkpoint costs a full scan, not the log', () =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir, { segmentBytes: 500 });
      for (let i = 0; i < 20; i++) log.append(makeBatch(2, `c${i}`, 1_700_000_000_000 + i));
      await log.close();
      const cp = path.join(dir, logLimits.recoveryCheckpointFileName);
      const bytes = fs.readFileSync(cp);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
      fs.writeFileSync(cp, bytes);
      const again = await PartitionLog.open(dir, { segmentBytes: 500 });
      expect(again.recovery.checkpointProblem).toMatch(/CRC/);
      expect(again.recovery.segmentsScanned).toBe(again.recovery.segmentsLoaded);
      expect(again.recovery.truncated).toBeNull();
      expect(again.logEndOffset).toBe(40);
      await again.close();
    }));
});
