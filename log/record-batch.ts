// Kafka RecordBatch v2 (magic 2): the unit Ferry stores, replicates and serves, byte for byte.
//
//  pos  size  field                   notes
//    0     8  baseOffset     int64    patched by the leader (not covered by the CRC)
//    8     4  batchLength    int32    bytes after this field = total size - 12
//   12     4  partitionLeaderEpoch    patched by the leader (Raft term in Ferry; not in the CRC)
//   16     1  magic          int8     = 2
//   17     4  crc            uint32   CRC-32C over bytes [21, end)
//   21     2  attributes     int16    bits 0-2 compression, 3 timestamp type, 4 transactional,
//                                     5 control, 6 has-delete-horizon
//   23     4  lastOffsetDelta int32
//   27     8  baseTimestamp  int64
//   35     8  maxTimestamp   int64
//   43     8  producerId     int64
//   51     2  producerEpoch  int16
//   53     4  baseSequence   int32
//   57     4  recordCount    int32
//   61     …  records, each:
//                length varint (bytes after it), attributes int8, timestampDelta varlong,
//                offsetDelta varint, keyLength varint (-1 = null) + key, valueLength varint
//                (-1 = null) + value, headerCount varint, headers: keyLength varint + key (UTF-8,
//                never null), valueLength varint (-1 = null) + value.
//
// This file is the hot path: header reads, framing checks, CRC and offset/epoch patching over
// whole buffers, plus a record *walker* that validates structure without allocating. Building
// and decoding records (for clients and tests) is record-codec.ts.
import { crc32cOf } from './crc.js';
import { LogError } from './errors.js';
import { batchHeaderBytes, logOverheadBytes } from './constants.js';
import { ByteReader } from './varint.js';

export const batchPos = {
  baseOffset: 0,
  length: 8,
  leaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
  records: 61,
} as const;

export const magicV2 = 2;
export const attributeBits = {
  compressionMask: 0x07,
  logAppendTime: 0x08,
  transactional: 0x10,
  control: 0x20,
  deleteHorizon: 0x40,
} as const;

/** Everything in a batch header; `sizeBytes` is the whole batch including the 12-byte overhead. */
export interface BatchHeader {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly sizeBytes: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  readonly crc: number;
  readonly attributes: number;
  readonly isControl: boolean;
  readonly isTransactional: boolean;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

/** Reads an int64 as an exact JS number; anything beyond ±2^53 is OFFSET_OVERFLOW. */
export function readInt64(buf: Buffer, pos: number): number {
  const value = buf.readInt32BE(pos) * 2 ** 32 + buf.readUInt32BE(pos + 4);
  if (!Number.isSafeInteger(value)) {
    throw new LogError('OFFSET_OVERFLOW', `int64 at byte ${pos} does not fit a JS safe integer`);
  }
  return value;
}

export function writeInt64(buf: Buffer, pos: number, value: number): void {
  if (!Number.isSafeInteger(value)) throw new LogError('OFFSET_OVERFLOW', `${value} is not a safe integer`);
  const hi = Math.floor(value / 2 ** 32);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(value - hi * 2 ** 32, pos + 4);
}

/** Total batch size (length field + 12) of the batch at `pos`; no validation. */
export function batchSizeAt(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + batchPos.length) + logOverheadBytes;
}

export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader {
  const baseOffset = readInt64(buf, pos + batchPos.baseOffset);
  const attributes = buf.readInt16BE(pos + batchPos.attributes);
  const lastOffsetDelta = buf.readInt32BE(pos + batchPos.lastOffsetDelta);
  return {
    baseOffset,
    lastOffset: baseOffset + lastOffsetDelta,
    sizeBytes: batchSizeAt(buf, pos),
    partitionLeaderEpoch: buf.readInt32BE(pos + batchPos.leaderEpoch),
    magic: buf.readInt8(pos + batchPos.magic),
    crc: buf.readUInt32BE(pos + batchPos.crc),
    attributes,
    isControl: (attributes & attributeBits.control) !== 0,
    isTransactional: (attributes & attributeBits.transactional) !== 0,
    lastOffsetDelta,
    baseTimestamp: readInt64(buf, pos + batchPos.baseTimestamp),
    maxTimestamp: readInt64(buf, pos + batchPos.maxTimestamp),
    producerId: readInt64(buf, pos + batchPos.producerId),
    producerEpoch: buf.readInt16BE(pos + batchPos.producerEpoch),
    baseSequence: buf.readInt32BE(pos + batchPos.baseSequence),
    recordCount: buf.readInt32BE(pos + batchPos.recordCount),
  };
}

export function batchCrcValid(buf: Buffer, pos: number, sizeBytes: number): boolean {
  return buf.readUInt32BE(pos + batchPos.crc) === crc32cOf(buf, pos + batchPos.attributes, pos + sizeBytes);
}

/**
 * Framing check of the batch at `pos` with `available` bytes after it: length within
 * [header, maxBatchBytes] and inside the bytes at hand, magic 2. Returns the batch size.
 * Used on untrusted input (append) and on stored bytes (recovery, reads).
 */
export function checkBatchFrame(buf: Buffer, pos: number, available: number, maxBatchBytes: number): number {
  if (available < batchHeaderBytes) {
    throw new LogError('INVALID_LENGTH', `${available} bytes cannot hold a ${batchHeaderBytes}-byte batch header`);
  }
  const size = batchSizeAt(buf, pos);
  if (size < batchHeaderBytes) {
    throw new LogError('INVALID_LENGTH', `batch length field ${size - logOverheadBytes} is below the header size`);
  }
  if (size > maxBatchBytes) {
    throw new LogError('BATCH_TOO_LARGE', `batch of ${size} bytes exceeds maxBatchBytes ${maxBatchBytes}`, {
      sizeBytes: size,
      maxBatchBytes,
    });
  }
  if (size > available) {
    throw new LogError('INVALID_LENGTH', `batch length field says ${size} bytes but only ${available} are present`);
  }
  const magic = buf.readInt8(pos + batchPos.magic);
  if (magic !== magicV2) {
    throw new LogError('INVALID_MAGIC', `batch magic is ${magic}; only RecordBatch v2 (magic 2) is supported`);
  }
  return size;
}

export interface ValidateOptions {
  /**
   * Accept a batch with no records. Compaction keeps every batch (one Raft entry each) and may
   * empty one, which Kafka's v2 format allows; such batches reach followers and consumers. A
   * producer never sends one, so the produce path leaves this off.
   */
  readonly allowEmpty?: boolean;
}

/**
 * Full validation of one batch from an untrusted source (a producer or a peer): the buffer must
 * be exactly one batch, well framed, CRC-valid, uncompressed, and its records must walk cleanly
 * with the declared count and strictly increasing offset deltas. Returns the parsed header.
 */
export function validateBatch(buf: Buffer, maxBatchBytes: number, options: ValidateOptions = {}): BatchHeader {
  if (buf.length > maxBatchBytes) {
    throw new LogError('BATCH_TOO_LARGE', `batch of ${buf.length} bytes exceeds maxBatchBytes ${maxBatchBytes}`, {
      sizeBytes: buf.length,
      maxBatchBytes,
    });
  }
  const size = checkBatchFrame(buf, 0, buf.length, maxBatchBytes);
  if (size !== buf.length) {
    throw new LogError('INVALID_LENGTH', `batch length field says ${size} bytes but the buffer holds ${buf.length}`);
  }
  if (!batchCrcValid(buf, 0, size)) {
    throw new LogError('CRC_MISMATCH', 'batch CRC-32C does not match its contents: the batch was damaged in transit');
  }
  const header = readBatchHeader(buf, 0);
  if ((header.attributes & attributeBits.compressionMask) !== 0) {
    throw new LogError(
      'UNSUPPORTED_COMPRESSION',
      `batch uses compression codec ${header.attributes & attributeBits.compressionMask}; Ferry stores uncompressed batches only`,
    );
  }
  walkRecords(buf, 0, header, options.allowEmpty === true);
  return header;
}

const emptyBuffer = Buffer.alloc(0);
const walker = new ByteReader(emptyBuffer);

function checkLength(len: number, min: number, what: string): void {
  if (len < min || len > walker.end - walker.pos) {
    throw new LogError('MALFORMED_RECORD', `${what} length ${len} at byte ${walker.pos} is out of bounds`);
  }
  walker.pos += Math.max(len, 0);
}

/**
 * Walks the records of an uncompressed batch without allocating: checks each record's framing,
 * that offset deltas strictly increase within [0, lastOffsetDelta], and the record count.
 */
export function walkRecords(buf: Buffer, pos: number, header: BatchHeader, allowEmpty = false): void {
  const { recordCount, lastOffsetDelta } = header;
  if (lastOffsetDelta < 0) {
    throw new LogError('OFFSETS_OUT_OF_ORDER', `lastOffsetDelta ${lastOffsetDelta} is negative`);
  }
  const minRecords = allowEmpty ? 0 : 1;
  if (recordCount < minRecords || recordCount > lastOffsetDelta + 1) {
    throw new LogError(
      'RECORD_COUNT_MISMATCH',
      `record count ${recordCount} is impossible with lastOffsetDelta ${lastOffsetDelta} (need ${minRecords}..${lastOffsetDelta + 1})`,
    );
  }
  const batchEnd = pos + header.sizeBytes;
  walker.buf = buf;
  walker.pos = pos + batchPos.records;
  let prevDelta = -1;
  for (let i = 0; i < recordCount; i++) {
    if (walker.pos >= batchEnd) {
      throw new LogError('RECORD_COUNT_MISMATCH', `batch declares ${recordCount} records but holds only ${i}`);
    }
    walker.end = batchEnd;
    const len = walker.readVarint();
    if (len < 1 || len > batchEnd - walker.pos) {
      throw new LogError('MALFORMED_RECORD', `record ${i} length ${len} is out of bounds`);
    }
    const recordEnd = walker.pos + len;
    walker.end = recordEnd;
    walker.pos += 1; // record attributes (unused by Kafka)
    walker.skipVarlong(); // timestampDelta
    const offsetDelta = walker.readVarint();
    if (offsetDelta <= prevDelta || offsetDelta > lastOffsetDelta) {
      throw new LogError(
        'OFFSETS_OUT_OF_ORDER',
        `record ${i} has offset delta ${offsetDelta} after ${prevDelta} (must increase, at most ${lastOffsetDelta})`,
      );
    }
    prevDelta = offsetDelta;
    checkLength(walker.readVarint(), -1, 'key');
    checkLength(walker.readVarint(), -1, 'value');
    const headerCount = walker.readVarint();
    if (headerCount < 0) throw new LogError('MALFORMED_RECORD', `record ${i} has header count ${headerCount}`);
    for (let h = 0; h < headerCount; h++) {
      checkLength(walker.readVarint(), 0, 'header key');
      checkLength(walker.readVarint(), -1, 'header value');
    }
    if (walker.pos !== recordEnd) {
      throw new LogError('MALFORMED_RECORD', `record ${i} has ${recordEnd - walker.pos} bytes beyond its fields`);
    }
  }
  if (walker.pos !== batchEnd) {
    throw new LogError('RECORD_COUNT_MISMATCH', `batch declares ${recordCount} records but holds more bytes after them`);
  }
  walker.buf = emptyBuffer; // do not pin the caller's buffer
}

/**
 * Offset of the first record with timestamp >= `timestamp` in a CRC-verified, structurally valid
 * batch at `pos`, or null. Walks record prefixes only (no key/value decoding).
 */
export function firstOffsetAtOrAfter(buf: Buffer, pos: number, header: BatchHeader, timestamp: number): number | null {
  const reader = new ByteReader(buf, pos + batchPos.records, pos + header.sizeBytes);
  for (let i = 0; i < header.recordCount && reader.pos < reader.end; i++) {
    const len = reader.readVarint();
    const recordEnd = reader.pos + len;
    reader.pos += 1;
    const ts = header.baseTimestamp + reader.readVarlong();
    const offsetDelta = reader.readVarint();
    if (ts >= timestamp) return header.baseOffset + offsetDelta;
    reader.pos = recordEnd;
  }
  return null;
}

/** Stamps the base offset in place. The CRC does not cover it, so the batch stays valid. */
export function patchBaseOffset(buf: Buffer, baseOffset: number, pos = 0): void {
  writeInt64(buf, pos + batchPos.baseOffset, baseOffset);
}

/** Stamps the partition leader epoch (Ferry: the Raft term) in place; CRC unaffected. */
export function patchLeaderEpoch(buf: Buffer, epoch: number, pos = 0): void {
  if (!Number.isInteger(epoch) || epoch < -1 || epoch > 2 ** 31 - 1) {
    throw new LogError('INVALID_ARGUMENT', `leader epoch ${epoch} is not an int32 >= -1`);
  }
  buf.writeInt32BE(epoch, pos + batchPos.leaderEpoch);
}

/** The offset after the last of the whole batches in `records` (`fallback` when there are none). */
export function offsetAfterBatches(records: Buffer, fallback: number): number {
  let next = fallback;
  for (let pos = 0; pos < records.length;) {
    const h = readBatchHeader(records, pos);
    next = h.lastOffset + 1;
    pos += h.sizeBytes;
  }
  return next;
}
