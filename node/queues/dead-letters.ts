/**
 * The dead-letter record: the source record's key, value and headers, plus headers saying why,
 * from where and after how many deliveries. Appended as an idempotent batch (the group's dead-letter
 * producer id and epoch, the decision's sequence number), so a coordinator that retries an append
 * whose answer it never saw (its predecessor's, after a failover) is answered with the original's
 * offset instead of writing a second copy.
 */
import { encodeBatch, type DecodedRecord, type RecordHeader } from '../../log/index.js';
import { deadLetterHeaderPrefix, deadLetterHeaders as dlqHeaders } from '../../proto/queue-headers.js';

export interface DeadLetter {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly deliveries: number;
  readonly reason: string;
  readonly seq: number;
}

export function deadLetterBatch(d: DeadLetter, source: DecodedRecord | undefined, producer: { producerId: number; producerEpoch: number }, nowMs: number): Buffer {
  const text = (key: string, value: string | number): RecordHeader => ({ key, value: Buffer.from(String(value)) });
  const headers: RecordHeader[] = [
    ...(source?.headers ?? []).filter((h) => !h.key.startsWith(deadLetterHeaderPrefix)),
    text(dlqHeaders.reason, source ? d.reason : `${d.reason}; the source record was gone (retention) when it was dead-lettered`),
    text(dlqHeaders.group, d.group),
    text(dlqHeaders.topic, d.topic),
    text(dlqHeaders.partition, d.partition),
    text(dlqHeaders.offset, d.offset),
    text(dlqHeaders.deliveries, d.deliveries),
    text(dlqHeaders.sourceTimestampMs, source?.timestamp ?? -1),
    text(dlqHeaders.deadLetteredAtMs, nowMs),
  ];
  return encodeBatch({
    producerId: producer.producerId, producerEpoch: producer.producerEpoch, baseSequence: d.seq,
    records: [{ key: source?.key ?? null, value: source?.value ?? null, headers, timestamp: nowMs }],
  });
}
