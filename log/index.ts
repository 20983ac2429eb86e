// Public surface of log/: the partition log, the RecordBatch v2 codec, and the error vocabulary.
export { PartitionLog } from './partition-log.js';
export type { AppendOptions, AppendResult, CleanableSegment, PartitionLogConfig, ReadResult } from './partition-log.js';
export { cleanLog, cleanerKeyMapEntriesMaxDefault } from './log-cleaner.js';
export type { CleanerOptions, CleanerResult, CleanerStep } from './log-cleaner.js';
export { cleanerStagingDirName } from './cleaner-swap.js';
export { IoThrottle } from './io-throttle.js';
export type { ThrottleClock } from './io-throttle.js';
export { firstKeylessRecord } from './batch-records.js';
export type { LogLogger, RecoveryCut, RecoveryReport } from './log-recovery.js';
export type { StoredBatchHeader } from './segment.js';
export { errorCodes, isLogError, LogError } from './errors.js';
export type { CorruptRangeDetails, ErrorCode } from './errors.js';
export {
  attributeBits,
  batchPos,
  batchCrcValid,
  magicV2,
  patchBaseOffset,
  patchLeaderEpoch,
  offsetAfterBatches,
  readBatchHeader,
  validateBatch,
} from './record-batch.js';
export type { BatchHeader, ValidateOptions } from './record-batch.js';
export { decodeBatch, encodeBatch, forEachRecord } from './record-codec.js';
export type { BatchInput, DecodedBatch, DecodedRecord, RecordHeader, RecordInput, RecordVisitor } from './record-codec.js';
export * as logLimits from './constants.js';
export { readUnsigned as readUnsignedVarint, sizeOfUnsigned as sizeOfUnsignedVarint, writeUnsigned as writeUnsignedVarint } from './varint.js';
