// The closed error vocabulary of log/. Every error that leaves this module is a LogError whose
// code is one of these, with a message that says what was wrong and what to do.

export const errorCodes = [
  'BATCH_TOO_LARGE', // batch exceeds maxBatchBytes
  'INVALID_LENGTH', // batch length field disagrees with the bytes, or is out of bounds
  'INVALID_MAGIC', // not a RecordBatch v2
  'CRC_MISMATCH', // CRC-32C over attributes..end does not match
  'UNSUPPORTED_COMPRESSION', // compression codec bits set (Ferry stores uncompressed batches only)
  'RECORD_COUNT_MISMATCH', // record count field disagrees with the records present
  'OFFSETS_OUT_OF_ORDER', // record offset deltas not strictly increasing within lastOffsetDelta
  'MALFORMED_RECORD', // a record's varints or lengths run past its bounds
  'BASE_OFFSET_MISMATCH', // follower append whose base offset is not the log end offset
  'OFFSET_OVERFLOW', // an offset or timestamp beyond what a JS number holds exactly
  'OFFSET_OUT_OF_RANGE', // read/truncate outside [logStartOffset, logEndOffset]
  'NOT_BATCH_BOUNDARY', // truncateFrom at an offset inside a batch
  'CORRUPT_RANGE', // stored bytes failed verification; the range must be re-fetched
  'CORRUPT_METADATA', // a small metadata file failed its version/length/CRC check
  'INVALID_CONFIG', // a configuration value outside its documented bounds
  'INVALID_ARGUMENT', // an argument outside its documented domain
  'REPAIR_MISMATCH', // repair bytes do not exactly cover the damaged range
  'LOG_CLOSED', // operation on a closed log
  'STORAGE_FAILED', // a write/fsync failed; the log is fail-stopped and must be reopened
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export interface CorruptRangeDetails {
  /** First offset that cannot be served. */
  readonly startOffset: number;
  /** Last offset (inclusive) that cannot be served. */
  readonly endOffset: number;
  readonly segmentBaseOffset: number;
  readonly filePosition: number;
}

export class LogError extends Error {
  override readonly name = 'LogError';
  readonly code: ErrorCode;
  /** Structured context (bounds, offsets, positions) for the host to act on. */
  readonly details: Readonly<Record<string, number | string>>;

  constructor(code: ErrorCode, message: string, details: Record<string, number | string> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.details = details;
  }
}

export function isLogError(err: unknown, code?: ErrorCode): err is LogError {
  return err instanceof LogError && (code === undefined || err.code === code);
}

/** Fail fast on an impossible state: a broken invariant is a bug, not bad input. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`log/ invariant violated: ${message}`);
}

export function corruptRangeError(range: CorruptRangeDetails, reason: string): LogError {
  return new LogError(
    'CORRUPT_RANGE',
    `offsets ${range.startOffset}..${range.endOffset} (segment ${range.segmentBaseOffset}, byte ${range.filePosition}) ` +
      `failed verification (${reason}); re-fetch them from a healthy replica and repairRange() or truncateFrom()`,
    { ...range, reason },
  );
}
