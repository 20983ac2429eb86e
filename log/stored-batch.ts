// Checks of batches read back from our own files. Stored bytes are verified as strictly as input,
// but a failure here means damage on disk (a torn tail or a flipped bit), so it is reported as a
// reason string for recovery or a CORRUPT_RANGE, never as bad input.
import { batchHeaderBytes, logOverheadBytes } from './constants.js';
import { batchCrcValid, batchPos, batchSizeAt, magicV2 } from './record-batch.js';

/**
 * Verifies the header of the batch at `buf[index]` that should start at offset `expectedOffset`.
 * `headerAvailable` bytes are in `buf`; `fileRemaining` bytes are left in the file from there.
 * Returns the batch size, or why the bytes cannot be a good batch.
 */
export function checkStoredHeader(
  buf: Buffer,
  index: number,
  headerAvailable: number,
  fileRemaining: number,
  expectedOffset: number,
  maxBatchBytes: number,
): number | string {
  if (fileRemaining < batchHeaderBytes) return `torn batch header (${fileRemaining} bytes at end of file)`;
  if (headerAvailable < batchHeaderBytes) return `header not readable (${headerAvailable} bytes)`;
  const size = batchSizeAt(buf, index);
  if (size < batchHeaderBytes || size > maxBatchBytes) return `batch length ${size - logOverheadBytes} out of bounds`;
  if (size > fileRemaining) return `torn batch (${size} bytes declared, ${fileRemaining} in file)`;
  const magic = buf.readInt8(index + batchPos.magic);
  if (magic !== magicV2) return `magic ${magic}`;
  const base = buf.readInt32BE(index) * 2 ** 32 + buf.readUInt32BE(index + 4);
  if (base !== expectedOffset) return `base offset ${base}, expected ${expectedOffset}`;
  const lastOffsetDelta = buf.readInt32BE(index + batchPos.lastOffsetDelta);
  const recordCount = buf.readInt32BE(index + batchPos.recordCount);
  // recordCount 0 is legal on disk: the cleaner keeps every batch and may empty one (log-cleaner.ts).
  if (lastOffsetDelta < 0 || recordCount < 0 || recordCount > lastOffsetDelta + 1) {
    return `impossible lastOffsetDelta ${lastOffsetDelta} / record count ${recordCount}`;
  }
  return size;
}

/** Header check plus CRC-32C over the whole batch (which must be fully inside `buf`). */
export function checkStoredBatch(
  buf: Buffer,
  index: number,
  available: number,
  fileRemaining: number,
  expectedOffset: number,
  maxBatchBytes: number,
): number | string {
  const size = checkStoredHeader(buf, index, available, fileRemaining, expectedOffset, maxBatchBytes);
  if (typeof size === 'string') return size;
  if (size > available) return `batch not readable (${available} of ${size} bytes)`;
  return batchCrcValid(buf, index, size) ? size : 'CRC-32C mismatch';
}

export function lastOffsetDeltaAt(buf: Buffer, index: number): number {
  return buf.readInt32BE(index + batchPos.lastOffsetDelta);
}

export function maxTimestampAt(buf: Buffer, index: number): number {
  return buf.readInt32BE(index + batchPos.maxTimestamp) * 2 ** 32 + buf.readUInt32BE(index + batchPos.maxTimestamp + 4);
}
