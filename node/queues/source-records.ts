/**
 * Source records as a queue sees them: the window's RecordMeta of a record (FIFO key, delivery
 * time, expiry), and the records of a read, by offset. Delivery-shaping headers hold decimal ASCII
 * milliseconds; a header that is not a non-negative integer is ignored (the record is delivered as
 * if it were absent), never a reason to stall the partition.
 */
import { crc32c } from '@node-rs/crc32';
import { decodeBatch, readBatchHeader, type DecodedRecord } from '../../log/index.js';
import { deliveryHeaders } from '../../proto/queue-headers.js';
import { fifoKeyBytesMax } from './constants.js';
import type { QueueConfig } from './queue-config.js';
import type { RecordMeta } from './queue-partition.js';

function headerMs(r: DecodedRecord, name: string): number | undefined {
  const h = r.headers.find((x) => x.key === name);
  if (!h?.value) return undefined;
  const text = h.value.toString('ascii');
  const n = Number(text);
  return /^\d{1,15}$/.test(text) && Number.isSafeInteger(n) ? n : undefined;
}

function fifoKeyOf(r: DecodedRecord): string | null {
  const raw = r.headers.find((x) => x.key === deliveryHeaders.fifoGroup)?.value ?? r.key;
  if (raw === null) return null;
  // Long keys are kept as length + CRC-32C: the window stays small, and a collision only orders
  // two keys together (never reorders one).
  return raw.length <= fifoKeyBytesMax ? raw.toString('base64') : `#${raw.length}:${crc32c(raw) >>> 0}`;
}

export function recordMetaOf(r: DecodedRecord, config: QueueConfig): RecordMeta {
  const deliverAt = headerMs(r, deliveryHeaders.deliverAtMs);
  const delay = headerMs(r, deliveryHeaders.delayMs);
  const ttl = headerMs(r, deliveryHeaders.ttlMs) ?? (config.messageTtlMs > 0 ? config.messageTtlMs : undefined);
  let size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers) size += h.key.length + (h.value?.length ?? 0);
  return {
    offset: r.offset,
    timestampMs: r.timestamp,
    fifoKey: fifoKeyOf(r),
    visibleFromMs: deliverAt ?? (delay !== undefined ? r.timestamp + delay : 0),
    expiresAtMs: ttl !== undefined ? r.timestamp + ttl : Infinity,
    sizeBytes: size,
  };
}

/** Data records of concatenated batches (control batches skipped) and the offset after the last batch. */
export function recordsOfBatches(buf: Buffer): { records: DecodedRecord[]; nextOffset: number | undefined } {
  const records: DecodedRecord[] = [];
  let nextOffset: number | undefined;
  for (let pos = 0; pos < buf.length;) {
    const h = readBatchHeader(buf, pos);
    const bytes = buf.subarray(pos, pos + h.sizeBytes);
    pos += h.sizeBytes;
    nextOffset = h.lastOffset + 1;
    if (!h.isControl) records.push(...decodeBatch(bytes).records);
  }
  return { records, nextOffset };
}

/** Records (not offsets: control batches take offsets too) in concatenated batches, from headers only. */
export function countRecords(buf: Buffer): { records: number; nextOffset: number | undefined } {
  let records = 0;
  let nextOffset: number | undefined;
  for (let pos = 0; pos < buf.length;) {
    const h = readBatchHeader(buf, pos);
    pos += h.sizeBytes;
    nextOffset = h.lastOffset + 1;
    if (!h.isControl) records += h.recordCount;
  }
  return { records, nextOffset };
}
