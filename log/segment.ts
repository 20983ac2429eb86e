// One segment of a partition log: `<base>.log` holding whole batches back to back, plus its sparse
// `.index` (offset → position) and `.timeindex` (timestamp → offset). Indexes live in memory and
// are written whole when the segment is sealed or the log is closed; they are trusted at open only
// for segments below the recovery point (and sanity-checked even then).
//
// A Segment never decides policy (rolling, retention, durability): PartitionLog does. Appends and
// truncations reach the file through a TailWriter (write-behind on the libuv threadpool, in call
// order, unwritten bytes served from memory); reads are synchronous and see every append.
import fs from 'node:fs';
import path from 'node:path';
import { batchHeaderBytes, headerWindowBytes, readBytesMax, scanChunkBytes, segmentNameDigits } from './constants.js';
import { assert, corruptRangeError, type CorruptRangeDetails } from './errors.js';
import { FileWindow } from './file-window.js';
import { OffsetIndex } from './offset-index.js';
import { firstOffsetAtOrAfter, readBatchHeader, type BatchHeader } from './record-batch.js';
import { checkStoredBatch, checkStoredHeader, lastOffsetDeltaAt, maxTimestampAt } from './stored-batch.js';
import { TailWriter } from './tail-writer.js';
import { TimeIndex } from './time-index.js';

export interface SegmentLimits {
  readonly maxBatchBytes: number;
  readonly indexIntervalBytes: number;
  /** Hand appends to the threadpool (write-behind, tail-writer.ts), or write them synchronously. */
  readonly writeBehind: boolean;
}

/** A batch header as stored: where it is, plus every header field. */
export interface StoredBatchHeader extends BatchHeader {
  readonly segmentBaseOffset: number;
  readonly filePosition: number;
}

/** What recovery removed from the end of one segment. */
export interface SegmentCut {
  readonly fromOffset: number;
  readonly filePosition: number;
  readonly bytesCut: number;
  /** Whole batches whose frames could still be walked in the cut bytes (best effort). */
  readonly batchesCut: number;
  readonly reason: string;
}

export interface SegmentRead {
  readonly buffer: Buffer;
  readonly firstOffset: number;
  readonly nextOffset: number;
  readonly damage: CorruptRangeDetails | null;
}

interface Located {
  readonly position: number;
  readonly baseOffset: number;
  readonly sizeBytes: number;
}

export function segmentFileName(baseOffset: number, ext: '.log' | '.index' | '.timeindex'): string {
  return `${String(baseOffset).padStart(segmentNameDigits, '0')}${ext}`;
}

let segmentSerialNext = 1;

export class Segment {
  /**
   * Identity of this Segment object: a reopened, recreated or swapped segment gets a new one, so a
   * cleaner pass can tell that the segment it read is still the one in the log.
   */
  readonly serial = segmentSerialNext++;
  readonly logPath: string;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  sizeBytes = 0;
  /** Offset after the last batch (== baseOffset when empty). */
  nextOffset: number;
  /** Largest batch maxTimestamp in the segment (-Infinity when empty). */
  maxTimestamp = -Infinity;
  /** maxTimestamp of the first batch: Kafka's basis for time-based rolling. */
  firstBatchMaxTimestamp: number | null = null;
  private bytesSinceIndexEntry = 0;
  private readonly window: FileWindow;
  private readonly tail: TailWriter;
  private closed = false;

  private constructor(
    dir: string,
    readonly baseOffset: number,
    private readonly fd: number,
    private readonly limits: SegmentLimits,
    readonly createdMs: number,
  ) {
    this.logPath = path.join(dir, segmentFileName(baseOffset, '.log'));
    this.indexPath = path.join(dir, segmentFileName(baseOffset, '.index'));
    this.timeIndexPath = path.join(dir, segmentFileName(baseOffset, '.timeindex'));
    this.offsetIndex = new OffsetIndex(baseOffset);
    this.timeIndex = new TimeIndex(baseOffset);
    this.nextOffset = baseOffset;
    this.tail = new TailWriter(fd, limits.writeBehind ? {} : { writeBehindMinBytes: Infinity });
    this.window = new FileWindow(this.tail, headerWindowBytes);
  }

  /** Creates an empty segment, replacing any stale files of the same name. */
  static create(dir: string, baseOffset: number, limits: SegmentLimits, nowMs: number): Segment {
    const fd = fs.openSync(path.join(dir, segmentFileName(baseOffset, '.log')), 'w+');
    const seg = new Segment(dir, baseOffset, fd, limits, nowMs);
    fs.rmSync(seg.indexPath, { force: true });
    fs.rmSync(seg.timeIndexPath, { force: true });
    return seg;
  }

  /**
   * Opens an existing segment. `trusted`: its bytes were fsynced before the recovery point was
   * checkpointed, so indexes are loaded (if sane) and only the tail after the last index entry is
   * walked. Otherwise (or if that fails) every batch is CRC-checked, indexes are rebuilt, and the
   * file is cut at the first bad byte.
   */
  static open(
    dir: string,
    baseOffset: number,
    limits: SegmentLimits,
    nowMs: number,
    trusted: boolean,
  ): { segment: Segment; cut: SegmentCut | null; scanned: boolean } {
    const fd = fs.openSync(path.join(dir, segmentFileName(baseOffset, '.log')), 'r+');
    const seg = new Segment(dir, baseOffset, fd, limits, nowMs);
    seg.sizeBytes = fs.fstatSync(fd).size;
    if (trusted && seg.loadTrusted()) return { segment: seg, cut: null, scanned: false };
    return { segment: seg, cut: seg.recover(), scanned: true };
  }

  private loadTrusted(): boolean {
    if (!this.offsetIndex.entries.load(this.indexPath) || !this.timeIndex.entries.load(this.timeIndexPath)) {
      return false;
    }
    if (!this.offsetIndex.sane(this.sizeBytes) || this.recomputeTail() !== null || !this.timeIndex.sane(this.nextOffset)) {
      this.offsetIndex.entries.truncate(0);
      this.timeIndex.entries.truncate(0);
      return false;
    }
    return true;
  }

  /**
   * Rebuilds tail state (next offset, max timestamp, bytes since the last index entry) by walking
   * headers from the last index entry to the end of the file. Returns a problem or null.
   */
  private recomputeTail(): string | null {
    const start = this.offsetIndex.last();
    let pos = start.position;
    let expected = start.offset;
    let maxTs = this.timeIndex.lastTimestamp();
    while (pos < this.sizeBytes) {
      const { index, available } = this.window.at(pos, batchHeaderBytes, this.sizeBytes);
      const buf = this.window.bytes;
      const size = checkStoredHeader(buf, index, available, this.sizeBytes - pos, expected, this.limits.maxBatchBytes);
      if (typeof size === 'string') return size;
      maxTs = Math.max(maxTs, maxTimestampAt(buf, index));
      expected += lastOffsetDeltaAt(buf, index) + 1;
      pos += size;
    }
    this.nextOffset = expected;
    this.maxTimestamp = maxTs;
    this.bytesSinceIndexEntry = this.sizeBytes - start.position;
    this.firstBatchMaxTimestamp = null;
    if (this.sizeBytes > 0) {
      const { index } = this.window.at(0, batchHeaderBytes, this.sizeBytes);
      this.firstBatchMaxTimestamp = maxTimestampAt(this.window.bytes, index);
    }
    return null;
  }

  /** Full scan: verify every batch, rebuild both indexes, cut the file at the first bad byte. */
  private recover(): SegmentCut | null {
    const fileSize = this.sizeBytes;
    const scan = new FileWindow(this.tail, Math.max(scanChunkBytes, this.limits.maxBatchBytes));
    this.offsetIndex.entries.truncate(0);
    this.timeIndex.entries.truncate(0);
    this.sizeBytes = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -Infinity;
    this.firstBatchMaxTimestamp = null;
    this.bytesSinceIndexEntry = 0;
    let problem: string | null = null;
    while (this.sizeBytes < fileSize) {
      const pos = this.sizeBytes;
      let { index, available } = scan.at(pos, batchHeaderBytes, fileSize);
      const header = checkStoredHeader(scan.bytes, index, available, fileSize - pos, this.nextOffset, this.limits.maxBatchBytes);
      if (typeof header === 'string') {
        problem = header;
        break;
      }
      ({ index, available } = scan.at(pos, header, fileSize));
      const size = checkStoredBatch(scan.bytes, index, available, fileSize - pos, this.nextOffset, this.limits.maxBatchBytes);
      if (typeof size === 'string') {
        problem = size;
        break;
      }
      const last = this.nextOffset + lastOffsetDeltaAt(scan.bytes, index);
      this.indexBatch(pos, this.nextOffset, last, maxTimestampAt(scan.bytes, index), size);
    }
    if (problem === null) return null;
    const cut: SegmentCut = {
      fromOffset: this.nextOffset,
      filePosition: this.sizeBytes,
      bytesCut: fileSize - this.sizeBytes,
      batchesCut: countFrames(scan, this.sizeBytes, fileSize),
      reason: problem,
    };
    this.tail.truncate(this.sizeBytes);
    this.window.reset();
    return cut;
  }

  /** Bookkeeping after a batch landed at `position` (append and recovery share it). */
  private indexBatch(position: number, baseOffset: number, lastOffset: number, maxTimestamp: number, size: number): void {
    if (this.bytesSinceIndexEntry >= this.limits.indexIntervalBytes) {
      this.offsetIndex.append(baseOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestamp, baseOffset);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += size;
    if (this.firstBatchMaxTimestamp === null) this.firstBatchMaxTimestamp = maxTimestamp;
    this.maxTimestamp = Math.max(this.maxTimestamp, maxTimestamp);
    this.nextOffset = lastOffset + 1;
    this.sizeBytes = position + size;
  }

  /**
   * Queues a validated, offset-stamped batch at the end of the file: readable at once, in the page
   * cache soon after, durable after `datasync()`. The buffer must not change afterwards.
   */
  append(batch: Buffer, baseOffset: number, lastOffset: number, maxTimestamp: number): void {
    assert(!this.closed, 'append to a closed segment');
    assert(baseOffset === this.nextOffset, `segment ${this.baseOffset} expects ${this.nextOffset}, got ${baseOffset}`);
    this.tail.append(batch, this.sizeBytes);
    this.indexBatch(this.sizeBytes, baseOffset, lastOffset, maxTimestamp, batch.length);
  }

  /** Finds the batch containing `offset` (baseOffset <= offset <= lastOffset). */
  private locate(offset: number): Located | CorruptRangeDetails {
    assert(offset >= this.baseOffset && offset < this.nextOffset, `offset ${offset} not in segment ${this.baseOffset}`);
    const start = this.offsetIndex.lookup(offset);
    let pos = start.position;
    let expected = start.offset;
    while (pos < this.sizeBytes) {
      const { index, available } = this.window.at(pos, batchHeaderBytes, this.sizeBytes);
      const buf = this.window.bytes;
      const size = checkStoredHeader(buf, index, available, this.sizeBytes - pos, expected, this.limits.maxBatchBytes);
      if (typeof size === 'string') return this.damageAt(pos, expected);
      const last = expected + lastOffsetDeltaAt(buf, index);
      if (last >= offset) return { position: pos, baseOffset: expected, sizeBytes: size };
      expected = last + 1;
      pos += size;
    }
    return this.damageAt(pos, expected); // the index or file disagrees with nextOffset
  }

  /** The range a reader must not be served when the batch at `position` fails verification. */
  private damageAt(position: number, startOffset: number): CorruptRangeDetails {
    const after = this.offsetIndex.entryAfterPosition(position);
    const end = after === null ? this.nextOffset : after.offset;
    return {
      startOffset,
      endOffset: Math.max(startOffset, end - 1),
      segmentBaseOffset: this.baseOffset,
      filePosition: position,
    };
  }

  /** Byte span [start, end) of a damaged range, for in-place repair. */
  damagedSpan(range: CorruptRangeDetails): { start: number; end: number } {
    const after = this.offsetIndex.entryAfterPosition(range.filePosition);
    return { start: range.filePosition, end: after === null ? this.sizeBytes : after.position };
  }

  /**
   * Whole, CRC-verified batches from the one containing `fromOffset`: at least one batch (even if
   * larger than maxBytes), then as many as fit in maxBytes, none with lastOffset >= maxOffsetExclusive.
   * Stops before the first batch that fails verification and reports it as `damage`.
   */
  read(fromOffset: number, maxBytes: number, maxOffsetExclusive: number, alloc: (bytes: number) => Buffer = Buffer.allocUnsafe): SegmentRead {
    const loc = this.locate(fromOffset);
    if (!('sizeBytes' in loc)) return { buffer: Buffer.alloc(0), firstOffset: fromOffset, nextOffset: fromOffset, damage: loc };
    const len = Math.min(this.sizeBytes - loc.position, Math.max(loc.sizeBytes, Math.min(maxBytes, readBytesMax)));
    const out = alloc(len);
    this.tail.readInto(out, 0, len, loc.position);
    let at = 0;
    let expected = loc.baseOffset;
    let damage: CorruptRangeDetails | null = null;
    while (len - at >= batchHeaderBytes) {
      const fileRemaining = this.sizeBytes - loc.position - at;
      const header = checkStoredHeader(out, at, len - at, fileRemaining, expected, this.limits.maxBatchBytes);
      if (typeof header === 'number' && at + header > len) break; // next batch does not fit maxBytes
      const size = checkStoredBatch(out, at, len - at, fileRemaining, expected, this.limits.maxBatchBytes);
      if (typeof size === 'string') {
        damage = this.damageAt(loc.position + at, expected);
        break;
      }
      const last = expected + lastOffsetDeltaAt(out, at);
      if (last >= maxOffsetExclusive) break;
      at += size;
      expected = last + 1;
    }
    return { buffer: out.subarray(0, at), firstOffset: loc.baseOffset, nextOffset: expected, damage };
  }

  /** Headers of the batches from the one containing `fromOffset` to the end (no CRC check). */
  *headers(fromOffset: number): Generator<StoredBatchHeader> {
    if (fromOffset >= this.nextOffset) return;
    const loc = this.locate(fromOffset);
    if (!('sizeBytes' in loc)) throw corruptRangeError(loc, 'batch header failed verification');
    let pos = loc.position;
    let expected = loc.baseOffset;
    while (pos < this.sizeBytes) {
      const { index, available } = this.window.at(pos, batchHeaderBytes, this.sizeBytes);
      const size = checkStoredHeader(this.window.bytes, index, available, this.sizeBytes - pos, expected, this.limits.maxBatchBytes);
      if (typeof size === 'string') throw corruptRangeError(this.damageAt(pos, expected), size);
      let fields: BatchHeader;
      try {
        fields = readBatchHeader(this.window.bytes, index);
      } catch (err) {
        // unverified bytes (header-only scan): an int64 beyond 2^53 here is damage, not input
        throw corruptRangeError(this.damageAt(pos, expected), (err as Error).message);
      }
      const header: StoredBatchHeader = { ...fields, segmentBaseOffset: this.baseOffset, filePosition: pos };
      yield header;
      expected = header.lastOffset + 1;
      pos += size;
    }
  }

  /** First offset with a record timestamp >= `timestamp`, or null if none here. */
  offsetForTimestamp(timestamp: number): number | null {
    if (this.maxTimestamp < timestamp) return null;
    for (const h of this.headers(this.timeIndex.lookup(timestamp))) {
      if (h.maxTimestamp < timestamp) continue;
      const r = this.read(h.baseOffset, 0, Infinity);
      if (r.damage !== null) throw corruptRangeError(r.damage, 'CRC-32C mismatch');
      const found = firstOffsetAtOrAfter(r.buffer, 0, h, timestamp);
      if (found !== null) return found;
    }
    return null;
  }

  /** True if `offset` starts a batch in this segment (or is its end). */
  isBatchBoundary(offset: number): boolean {
    if (offset === this.baseOffset || offset === this.nextOffset) return true;
    const loc = this.locate(offset);
    if (!('sizeBytes' in loc)) throw corruptRangeError(loc, 'batch header failed verification');
    return loc.baseOffset === offset;
  }

  /** Removes every batch at and after `offset`, which must be a batch boundary. */
  truncateFrom(offset: number): void {
    if (offset >= this.nextOffset) return;
    let position = 0;
    if (offset > this.baseOffset) {
      const loc = this.locate(offset);
      assert('sizeBytes' in loc && loc.baseOffset === offset, `truncate at ${offset} is not a checked batch boundary`);
      position = loc.position;
    }
    this.tail.truncate(position);
    this.window.reset();
    this.sizeBytes = position;
    this.offsetIndex.truncateFrom(offset);
    this.timeIndex.truncateFrom(offset);
    const problem = this.recomputeTail();
    assert(problem === null && this.nextOffset === offset, `tail after truncation: ${problem ?? this.nextOffset}`);
  }

  /** Overwrites bytes in place (repair of a damaged range with identical-length good bytes). */
  overwrite(position: number, bytes: Buffer): void {
    assert(position + bytes.length <= this.sizeBytes, 'overwrite past the end of a segment');
    this.tail.overwrite(position, bytes);
    fs.fdatasyncSync(this.fd);
    this.window.reset();
  }

  writeIndexes(): void {
    this.offsetIndex.entries.writeSync(this.indexPath);
    this.timeIndex.entries.writeSync(this.timeIndexPath);
  }

  /** Waits for queued writes, then fdatasyncs. */
  async datasync(): Promise<void> {
    await this.tail.drain();
    await new Promise<void>((resolve, reject) => {
      fs.fdatasync(this.fd, (err) => (err === null ? resolve() : reject(err)));
    });
  }

  /** Resolves once every append so far is in the kernel (a process crash keeps it; power loss may not). */
  settle(): Promise<void> {
    return this.tail.drain();
  }

  datasyncSync(): void {
    assert(this.tail.idle, 'synchronous fdatasync with writes still queued');
    fs.fdatasyncSync(this.fd);
  }

  /** True when no write or truncation is queued or running. */
  get writesIdle(): boolean {
    return this.tail.idle;
  }

  /** Why a queued write failed (the log must fail-stop), or null. */
  get writeFailure(): unknown {
    return this.tail.failed;
  }

  /**
   * Closes the file once queued writes finish. An fdatasync from datasync() is not tracked here:
   * PartitionLog keeps segments a flush may be syncing open until it settles (its `retired`).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tail.close();
  }

  /** Unlinks the files (the fd stays usable until close(), e.g. for an in-flight fdatasync). */
  unlinkFiles(): void {
    for (const file of [this.indexPath, this.timeIndexPath, this.logPath]) fs.rmSync(file, { force: true });
  }

  describe(): string {
    return `segment ${this.baseOffset} [${this.baseOffset}, ${this.nextOffset}) ${this.sizeBytes} bytes`;
  }
}

/** Best-effort count of batch frames in a cut region, for the recovery report. */
function countFrames(scan: FileWindow, from: number, fileSize: number): number {
  let count = 0;
  let pos = from;
  while (fileSize - pos >= batchHeaderBytes) {
    const { index } = scan.at(pos, batchHeaderBytes, fileSize);
    const size = scan.bytes.readInt32BE(index + 8) + 12;
    if (size < batchHeaderBytes || pos + size > fileSize) break;
    count += 1;
    pos += size;
  }
  return count;
}
