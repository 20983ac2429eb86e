/**
 * The RecordBatch v2 codec, for SDK users who talk to the gRPC API directly (and for chaos/):
 * Ferry moves Kafka RecordBatch v2 bytes end to end, so a client encodes and decodes them itself.
 */
export { decodeBatch, encodeBatch, offsetAfterBatches, readBatchHeader } from '../log/index.js';
export type { BatchHeader, BatchInput, DecodedBatch, DecodedRecord, RecordInput } from '../log/index.js';
