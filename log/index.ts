// Public surface of log/: the partition log, the RecordBatch v2 codec, and the error vocabulary.
export { PartitionLog } from './partition-log.js';
export type { AppendOptions, AppendResult, PartitionLogConfig, ReadResult } from './partition-log.js';
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
export type { BatchHeader } from './record-batch.js';
export { decodeBatch, encodeBatch } from './record-codec.js';
export type { BatchInput, DecodedBatch, DecodedRecord, RecordHeader, RecordInput } from './record-codec.js';
export * as logLimits from './constants.js';
