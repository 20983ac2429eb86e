/**
 * Record headers that are part of the queue contract (proto/ferry/v1/queues.proto): the ones a
 * producer sets to shape delivery, and the ones the coordinator puts on a dead letter. Shared by
 * the node and the SDK so the two can never disagree on a name.
 */

/** Set by producers; values are decimal ASCII milliseconds (a bad value is ignored). */
export const deliveryHeaders = {
  /** Not delivered before this time (ms since the epoch). */
  deliverAtMs: 'ferry-deliver-at-ms',
  /** Not delivered before the record's timestamp plus this. */
  delayMs: 'ferry-delay-ms',
  /** Skipped (or dead-lettered) from the record's timestamp plus this. */
  ttlMs: 'ferry-ttl-ms',
  /** FIFO message-group key instead of the record key (SQS's MessageGroupId). */
  fifoGroup: 'ferry-fifo-group',
} as const;

/** Set by the coordinator on a dead letter; all start with `deadLetterHeaderPrefix`. */
export const deadLetterHeaderPrefix = 'ferry-dlq-';
export const deadLetterHeaders = {
  reason: 'ferry-dlq-reason',
  group: 'ferry-dlq-group',
  topic: 'ferry-dlq-source-topic',
  partition: 'ferry-dlq-source-partition',
  offset: 'ferry-dlq-source-offset',
  deliveries: 'ferry-dlq-deliveries',
  sourceTimestampMs: 'ferry-dlq-source-timestamp-ms',
  deadLetteredAtMs: 'ferry-dlq-time-ms',
} as const;
