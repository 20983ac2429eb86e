// Record-level views of a validated batch, for the two places that look inside records without
// decoding them all: the cleaner (which keeps a subset of a batch's records) and the produce gate
// of a compacted topic (which needs every record to have a key).
//
// A record's bytes are self-contained relative to its batch (timestamp and offset are deltas from
// the batch header), so a subset of records copied verbatim behind the unchanged header is a valid
// batch once the length, record count and CRC are rewritten.
import { crc32cOf } from './crc.js';
import { assert } from './errors.js';
import { batchHeaderBytes, logOverheadBytes } from './constants.js';
import { batchPos, type BatchHeader } from './record-batch.js';
import { ByteReader } from './varint.js';

/** Where one record sits in its batch, with what the cleaner decides on. */
export interface RecordSpan {
  /** Byte range [start, end) of the whole record (its length varint included) in the batch. */
  readonly start: number;
  readonly end: number;
  readonly offset: number;
  /** A view into the batch; null for a keyless record. */
  readonly key: Buffer | null;
  /** A null value: a tombstone on a compacted topic. */
  readonly isTombstone: boolean;
}

/**
 * The records of one batch at `buf[0..]` that already passed validateBatch (or a stored-batch CRC
 * check plus walk). Allocates one object per record: this is the cleaner's path, not the fetch path.
 */
export function recordSpans(buf: Buffer, header: BatchHeader): RecordSpan[] {
  const out: RecordSpan[] = [];
  const reader = new ByteReader(buf, batchPos.records, header.sizeBytes);
  for (let i = 0; i < header.recordCount; i++) {
    const start = reader.pos;
    const len = reader.readVarint();
    const end = reader.pos + len;
    reader.pos += 1; // record attributes
    reader.skipVarlong(); // timestampDelta
    const offsetDelta = reader.readVarint();
    const key = reader.readBytes();
    const valueLength = reader.readVarint();
    out.push({ start, end, offset: header.baseOffset + offsetDelta, key, isTombstone: valueLength === -1 });
    reader.pos = end;
  }
  assert(reader.pos === header.sizeBytes, `record walk ended at ${reader.pos} of ${header.sizeBytes}`);
  return out;
}

/** Offset delta of the first record without a key, or null when every record has one. */
export function firstKeylessRecord(buf: Buffer, header: BatchHeader): number | null {
  for (const r of recordSpans(buf, header)) if (r.key === null) return r.offset - header.baseOffset;
  return null;
}

/**
 * The batch with only `kept` records (a subsequence of recordSpans(buf)), every header field
 * preserved: base offset, lastOffsetDelta, leader epoch, timestamps, producer id/epoch/sequence
 * and attributes. Only length, record count and CRC change. Keeping nothing yields a valid empty
 * batch (record count 0) that still spans its offsets. Returns `buf` itself when all are kept.
 */
export function batchWithRecords(buf: Buffer, header: BatchHeader, kept: readonly RecordSpan[]): Buffer {
  assert(kept.length <= header.recordCount, `kept ${kept.length} of ${header.recordCount} records`);
  if (kept.length === header.recordCount) return buf;
  const size = batchHeaderBytes + kept.reduce((n, r) => n + (r.end - r.start), 0);
  const out = Buffer.allocUnsafe(size);
  buf.copy(out, 0, 0, batchHeaderBytes);
  let pos = batchHeaderBytes;
  let prevEnd = batchHeaderBytes;
  for (const r of kept) {
    assert(r.start >= prevEnd && r.end <= header.sizeBytes, `record span [${r.start}, ${r.end}) out of order or bounds`);
    pos += buf.copy(out, pos, r.start, r.end);
    prevEnd = r.end;
  }
  out.writeInt32BE(size - logOverheadBytes, batchPos.length);
  out.writeInt32BE(kept.length, batchPos.recordCount);
  out.writeUInt32BE(crc32cOf(out, batchPos.attributes, size), batchPos.crc);
  return out;
}
