import { describe, expect, it } from 'vitest';
import { crc32c } from '@node-rs/crc32';
import { encodeBatch, errorCodes, isLogError, PartitionLog, type ErrorCode } from '../../log/index.js';
import { listFiles, makeBatch, readAll, withTempDir } from './helpers.js';

const ts = 1_700_000_000_000;

/** Recomputes the CRC so that a mutation is judged by the check it targets, not by the CRC. */
function recrc(buf: Buffer): Buffer {
  buf.writeUInt32BE(crc32c(buf.subarray(21)) >>> 0, 17);
  return buf;
}

const cases: [string, ErrorCode, () => Buffer][] = [
  ['oversized batch', 'BATCH_TOO_LARGE', () => makeBatch(4, 'big', ts, { valueBytes: 3000 })],
  ['wrong magic', 'INVALID_MAGIC', () => {
    const b = makeBatch(2, 'm', ts);
    b.writeInt8(1, 16);
    return b;
  }],
  ['bad CRC', 'CRC_MISMATCH', () => {
    const b = makeBatch(2, 'c', ts);
    b[b.length - 3] = (b[b.length - 3] as number) ^ 1;
    return b;
  }],
  ['length field larger than the buffer', 'INVALID_LENGTH', () => {
    const b = makeBatch(2, 'l', ts);
    b.writeInt32BE(b.readInt32BE(8) + 1, 8);
    return b;
  }],
  ['truncated buffer', 'INVALID_LENGTH', () => makeBatch(2, 't', ts).subarray(0, 70)],
  ['shorter than a header', 'INVALID_LENGTH', () => makeBatch(1, 's', ts).subarray(0, 40)],
  ['two batches in one buffer', 'INVALID_LENGTH', () => Buffer.concat([makeBatch(1, 'x', ts), makeBatch(1, 'y', ts)])],
  ['record count too high', 'RECORD_COUNT_MISMATCH', () => {
    const b = makeBatch(2, 'n', ts);
    b.writeInt32BE(3, 23); // lastOffsetDelta 2 so the count itself is plausible
    b.writeInt32BE(3, 57);
    return recrc(b);
  }],
  ['record count too low', 'RECORD_COUNT_MISMATCH', () => {
    const b = makeBatch(3, 'n', ts);
    b.writeInt32BE(2, 57);
    return recrc(b);
  }],
  ['offsets out of order', 'OFFSETS_OUT_OF_ORDER', () =>
    encodeBatch({
      records: [
        { key: null, value: Buffer.from('a'), timestamp: ts, offsetDelta: 1 },
        { key: null, value: Buffer.from('b'), timestamp: ts, offsetDelta: 0 },
        { key: null, value: Buffer.from('c'), timestamp: ts, offsetDelta: 2 },
      ],
    })],
  ['record length overruns the batch', 'MALFORMED_RECORD', () => {
    const b = makeBatch(1, 'r', ts);
    b.writeUInt8(0x7e, 61); // record length varint 63 > remaining bytes
    return recrc(b);
  }],
  ['compressed batch', 'UNSUPPORTED_COMPRESSION', () => {
    const b = makeBatch(1, 'z', ts);
    b.writeInt16BE(1, 21); // gzip
    return recrc(b);
  }],
];

describe('bad input', () => {
  it.each(cases)('%s → %s, and the log and its files are unchanged', (_name, code, make) =>
    withTempDir(async (dir) => {
      const log = await PartitionLog.open(dir, { maxBatchBytes: 8192 });
      log.append(makeBatch(2, 'ok', ts));
      await log.flush();
      const filesBefore = listFiles(dir);
      const end = log.logEndOffset;
      const bad = make();
      const badCopy = Buffer.from(bad);
      let caught: unknown;
      try {
        log.append(bad);
      } catch (err) {
        caught = err;
      }
      expect(isLogError(caught, code)).toBe(true);
      expect(errorCodes).toContain(code);
      expect((caught as Error).message.length).toBeGreaterThan(10);
      expect(log.logEndOffset).toBe(end);
      expect(bad.equals(badCopy)).toBe(true); // the caller's buffer is not patched either
      expect(listFiles(dir)).toEqual(filesBefore);
      // and the log still works
      expect(log.append(makeBatch(1, 'after', ts)).baseOffset).toBe(end);
      expect(readAll(log)).toHaveLength(2);
      await log.close();
    }),
  );
});
