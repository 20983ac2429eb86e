// Limits and defaults of queue groups, one place, units last in every name (STYLE.md). Each limit
// bounds memory or work on the coordinator; a request past one gets a specific error and changes
// nothing.

/** Deliveries before a message is dead-lettered (SQS's maxReceiveCount; the default). */
export const maxDeliveriesDefault = 5;
export const maxDeliveriesMax = 1_000;
/** Records tracked per partition between the ack floor and the read position. */
export const maxInFlightPerPartitionDefault = 1_000;
export const maxInFlightPerPartitionMax = 100_000;
/** Visibility timeout bounds (SQS allows 0 s-12 h; a zero lock would be a redelivery loop). */
export const visibilityTimeoutMsMin = 100;
export const visibilityTimeoutMsMax = 12 * 3_600_000;
export const visibilityTimeoutMsDefault = 30_000;
/** Retry backoff of nacks and timeouts: base * 2^(deliveries-1), capped, minus up to `jitter`. */
export const backoffBaseMsDefault = 1_000;
export const backoffMaxMsDefault = 60_000;
export const backoffJitterDefault = 0.2;
export const backoffMsMax = 12 * 3_600_000;
/** A nack's explicit delay and a message's delayed delivery are bounded like SQS's (15 min) x 4. */
export const delayMsMax = 3_600_000;
/** Records one receive may return. */
export const receiveRecordsMax = 1_000;
/** Bytes of record data one receive may return. */
export const receiveBytesMax = 16 * 1024 * 1024;
/** Longest a receive may wait for a record (long poll). */
export const receiveWaitMsMax = 20_000;
/** Receipts one ack / nack / extend / reject may name. */
export const receiptsPerRequestMax = 1_000;
/** Queue groups one coordinator (one group-state partition) keeps. */
export const queueGroupsPerCoordinatorMax = 1_000;
/** Partitions of one queue group's topic the coordinator tracks. */
export const queuePartitionsMax = 1_000;
/** Bytes of a record key kept to tell FIFO groups apart (longer keys are hashed). */
export const fifoKeyBytesMax = 128;
/** Bytes read from a source partition per window fill step. */
export const windowReadBytes = 1024 * 1024;
/** Dead letters appended per coordinator pass. */
export const deadLettersPerPassMax = 100;
