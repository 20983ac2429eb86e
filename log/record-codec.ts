// Building and decoding whole RecordBatch v2 batches with their records (layout: record-batch.ts).
// This is the client/test side of the codec; the storage hot path never decodes records.
import { crc32cOf } from './crc.js';
import { LogError } from './errors.js';
import { batchHeaderBytes, logOverheadBytes, maxBatchBytesLimit } from './constants.js';
import {
  attributeBits,
  batchPos,
  magicV2,
  readBatchHeader,
  validateBatch,
  writeInt64,
  type BatchHeader,
} from './record-batch.js';
import { ByteReader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

export interface RecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

export interface RecordInput {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: readonly RecordHeader[];
  /** Absolute timestamp (ms); stored as a delta from the batch base timestamp. */
  readonly timestamp: number;
  /** Defaults to the record's index in the batch. */
  readonly offsetDelta?: number;
}

export interface BatchInput {
  readonly records: readonly RecordInput[];
  readonly baseOffset?: number;
  readonly partitionLeaderEpoch?: number;
  readonly isControl?: boolean;
  readonly isTransactional?: boolean;
  readonly producerId?: number;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  /** Defaults to the first record's timestamp (as Kafka producers do). */
  readonly baseTimestamp?: number;
}

export interface DecodedRecord {
  readonly offset: number;
  readonly offsetDelta: number;
  readonly timestamp: number;
  readonly timestampDelta: number;
  readonly attributes: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
}

export interface DecodedBatch extends BatchHeader {
  readonly records: readonly DecodedRecord[];
}

function bytesField(b: Buffer | null): number {
  return b === null ? sizeOfVarint(-1) : sizeOfVarint(b.length) + b.length;
}

function recordBodySize(r: RecordInput, timestampDelta: number, offsetDelta: number): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta) + bytesField(r.key) + bytesField(r.value);
  const headers = r.headers ?? [];
  size += sizeOfVarint(headers.length);
  for (const h of headers) {
    size += bytesField(Buffer.from(h.key, 'utf8')) + bytesField(h.value);
  }
  return size;
}

function writeBytesField(buf: Buffer, pos: number, b: Buffer | null): number {
  if (b === null) return writeVarint(buf, pos, -1);
  pos = writeVarint(buf, pos, b.length);
  return pos + b.copy(buf, pos);
}

/** Encodes a batch (magic 2, uncompressed) with a valid CRC. */
export function encodeBatch(input: BatchInput): Buffer {
  const { records } = input;
  if (records.length === 0) throw new LogError('INVALID_ARGUMENT', 'a record batch needs at least one record');
  const baseTimestamp = input.baseTimestamp ?? (records[0] as RecordInput).timestamp;
  let maxTimestamp = -1;
  const bodySizes: number[] = [];
  let total = batchHeaderBytes;
  records.forEach((r, i) => {
    const body = recordBodySize(r, r.timestamp - baseTimestamp, r.offsetDelta ?? i);
    bodySizes.push(body);
    total += sizeOfVarint(body) + body;
    maxTimestamp = Math.max(maxTimestamp, r.timestamp);
  });
  if (total > maxBatchBytesLimit) {
    throw new LogError('BATCH_TOO_LARGE', `encoded batch of ${total} bytes exceeds ${maxBatchBytesLimit}`);
  }
  const buf = Buffer.alloc(total);
  writeInt64(buf, batchPos.baseOffset, input.baseOffset ?? 0);
  buf.writeInt32BE(total - logOverheadBytes, batchPos.length);
  buf.writeInt32BE(input.partitionLeaderEpoch ?? -1, batchPos.leaderEpoch);
  buf.writeInt8(magicV2, batchPos.magic);
  const attributes =
    (input.isControl === true ? attributeBits.control : 0) | (input.isTransactional === true ? attributeBits.transactional : 0);
  buf.writeInt16BE(attributes, batchPos.attributes);
  buf.writeInt32BE((records[records.length - 1] as RecordInput).offsetDelta ?? records.length - 1, batchPos.lastOffsetDelta);
  writeInt64(buf, batchPos.baseTimestamp, baseTimestamp);
  writeInt64(buf, batchPos.maxTimestamp, maxTimestamp);
  writeInt64(buf, batchPos.producerId, input.producerId ?? -1);
  buf.writeInt16BE(input.producerEpoch ?? -1, batchPos.producerEpoch);
  buf.writeInt32BE(input.baseSequence ?? -1, batchPos.baseSequence);
  buf.writeInt32BE(records.length, batchPos.recordCount);
  let pos: number = batchPos.records;
  records.forEach((r, i) => {
    pos = writeVarint(buf, pos, bodySizes[i] as number);
    buf.writeInt8(0, pos++);
    pos = writeVarlong(buf, pos, r.timestamp - baseTimestamp);
    pos = writeVarint(buf, pos, r.offsetDelta ?? i);
    pos = writeBytesField(buf, pos, r.key);
    pos = writeBytesField(buf, pos, r.value);
    const headers = r.headers ?? [];
    pos = writeVarint(buf, pos, headers.length);
    for (const h of headers) {
      pos = writeBytesField(buf, pos, Buffer.from(h.key, 'utf8'));
      pos = writeBytesField(buf, pos, h.value);
    }
  });
  if (pos !== total) throw new Error(`log/ invariant violated: encoded ${pos} bytes, sized ${total}`);
  buf.writeUInt32BE(crc32cOf(buf, batchPos.attributes, total), batchPos.crc);
  return buf;
}

/** Fields of one record as stored, relative to its batch. Keys/values are views into the batch. */
type RecordFieldsVisitor = (
  offsetDelta: number,
  timestampDelta: number,
  attributes: number,
  key: Buffer | null,
  value: Buffer | null,
  headers: readonly RecordHeader[],
) => void;

const noHeaders: readonly RecordHeader[] = Object.freeze([]);

/** Walks the records of a batch that validateBatch accepted. */
function visitRecords(buf: Buffer, header: BatchHeader, visit: RecordFieldsVisitor): void {
  const reader = new ByteReader(buf, batchPos.records, buf.length);
  for (let i = 0; i < header.recordCount; i++) {
    const len = reader.readVarint();
    const end = reader.pos + len;
    const attributes = buf.readInt8(reader.pos);
    reader.pos += 1;
    const timestampDelta = reader.readVarlong();
    const offsetDelta = reader.readVarint();
    const key = reader.readBytes();
    const value = reader.readBytes();
    const headerCount = reader.readVarint();
    let headers = noHeaders;
    if (headerCount > 0) {
      const list: RecordHeader[] = [];
      for (let h = 0; h < headerCount; h++) {
        const hk = reader.readBytes() as Buffer; // validateBatch guarantees non-null header keys
        list.push({ key: hk.toString('utf8'), value: reader.readBytes() });
      }
      headers = list;
    }
    reader.pos = end;
    visit(offsetDelta, timestampDelta, attributes, key, value, headers);
  }
}

/**
 * Validates and decodes one batch. Keys/values are views into `buf` (copy them to keep). A batch
 * emptied by compaction decodes to no records (readers skip to its lastOffset + 1).
 */
export function decodeBatch(buf: Buffer, maxBatchBytes = maxBatchBytesLimit): DecodedBatch {
  validateBatch(buf, maxBatchBytes, { allowEmpty: true });
  const header = readBatchHeader(buf, 0);
  const records: DecodedRecord[] = [];
  visitRecords(buf, header, (offsetDelta, timestampDelta, attributes, key, value, headers) => {
    records.push({
      offset: header.baseOffset + offsetDelta,
      offsetDelta,
      timestamp: header.baseTimestamp + timestampDelta,
      timestampDelta,
      attributes,
      key,
      value,
      headers: headers === noHeaders ? [] : (headers as RecordHeader[]),
    });
  });
  return { ...header, records };
}

/** One record as a reader sees it; key/value are views into the batch (copy them to keep). */
export type RecordVisitor = (offset: number, timestamp: number, key: Buffer | null, value: Buffer | null, headers: readonly RecordHeader[]) => void;

/**
 * Validates one batch and hands each record at or after `fromOffset` to `visit`, building no
 * per-record objects of its own (a consumer's hot path). `headers` is one shared frozen empty
 * array for records without headers. Returns the batch header.
 */
export function forEachRecord(buf: Buffer, fromOffset: number, visit: RecordVisitor, maxBatchBytes = maxBatchBytesLimit): BatchHeader {
  validateBatch(buf, maxBatchBytes, { allowEmpty: true });
  const header = readBatchHeader(buf, 0);
  const { baseOffset, baseTimestamp } = header;
  visitRecords(buf, header, (offsetDelta, timestampDelta, _attributes, key, value, headers) => {
    const offset = baseOffset + offsetDelta;
    if (offset >= fromOffset) visit(offset, baseTimestamp + timestampDelta, key, value, headers);
  });
  return header;
}
