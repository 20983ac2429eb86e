// The log of one partition: an ordered list of segments, the last one active. It assigns offsets,
// rolls segments, group-commits fsyncs, serves reads of whole verified batches, and cuts the log
// at either end when Raft (suffix) or retention (prefix) asks.
//
// Threading model: the log's state changes synchronously, in call order, on the JS thread. Two
// kinds of file I/O run on the libuv threadpool: each segment's writes (write-behind, see
// tail-writer.ts: an append returns once validated and queued, and is readable at once) and the
// fdatasync calls inside flush(). So append() may be called while a flush is in flight; the flush
// covers what was appended before it started.
import { fsyncDirSync, writeRecoveryCheckpoint } from './checkpoint-file.js';
import {
  indexIntervalBytesDefault,
  maxBatchBytesDefault,
  maxBatchBytesLimit,
  offsetMax,
  recoveryCheckpointFileName,
  relativeOffsetMax,
  segmentBytesDefault,
  segmentBytesLimit,
  segmentMsDefault,
} from './constants.js';
import { assert, corruptRangeError, isLogError, LogError, type CorruptRangeDetails } from './errors.js';
import { loadSegments, type LogLogger, type RecoveryReport } from './log-recovery.js';
import { patchBaseOffset, patchLeaderEpoch, validateBatch } from './record-batch.js';
import { Segment, type SegmentLimits, type StoredBatchHeader } from './segment.js';
import { repairDamagedRange } from './repair.js';
import { commitSwap, discardStaging, type StagedSegmentInfo, type SwapFaultHook } from './cleaner-swap.js';

export interface PartitionLogConfig {
  /** Roll when a segment would pass this size. Default segmentBytesDefault. */
  readonly segmentBytes?: number;
  /** Roll when a segment's first batch is this much older than the incoming one. */
  readonly segmentMs?: number;
  readonly maxBatchBytes?: number;
  readonly indexIntervalBytes?: number;
  /** Wall clock (ms), injectable for tests. */
  readonly nowMs?: () => number;
  /**
   * Appends of 32 KiB and more go to the kernel on the libuv threadpool (default true): the copy
   * into the page cache overlaps the CRC check of the next batch. false: every append is written
   * synchronously, which costs less CPU where no core is spare (see docs/log.md).
   */
  readonly writeBehind?: boolean;
}

interface ResolvedConfig extends SegmentLimits {
  readonly segmentBytes: number;
  readonly segmentMs: number;
  readonly nowMs: () => number;
}

export interface AppendOptions {
  /**
   * For followers and replays: the batch already carries its base offset, which must equal both
   * this value and the log end offset (else BASE_OFFSET_MISMATCH). Without it the base offset is
   * assigned (patched) to the log end offset.
   */
  readonly expectedBaseOffset?: number;
  /** Stamp the partition leader epoch (Ferry: the Raft term) into the batch. */
  readonly leaderEpoch?: number;
  /**
   * Accept a batch without records: a replica's cleaner may have emptied it (compaction keeps
   * every batch, one per Raft entry). For leader bytes only; producers never send one.
   */
  readonly allowEmpty?: boolean;
}

/** A sealed segment the cleaner may rewrite, as of cleanableSegments(). */
export interface CleanableSegment {
  readonly baseOffset: number;
  readonly nextOffset: number;
  readonly sizeBytes: number;
  readonly createdMs: number;
  /** The Segment object's identity: the swap refuses a segment that changed since. */
  readonly serial: number;
}

export interface AppendResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
}

export interface ReadResult {
  /** Whole batches, back to back, exactly as stored. Empty when nothing is readable yet. */
  readonly records: Buffer;
  /** Base offset of the first batch returned (<= the requested offset). */
  readonly firstOffset: number;
  /** Offset to ask for next. */
  readonly nextOffset: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
}

function positiveInt(name: string, value: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new LogError('INVALID_CONFIG', `${name} must be an integer in [1, ${max}], got ${value}`, { name });
  }
  return value;
}

function resolveConfig(c: PartitionLogConfig): ResolvedConfig {
  const maxBatchBytes = positiveInt('maxBatchBytes', c.maxBatchBytes ?? maxBatchBytesDefault, maxBatchBytesLimit);
  const segmentBytes = positiveInt('segmentBytes', c.segmentBytes ?? segmentBytesDefault, segmentBytesLimit);
  return {
    maxBatchBytes,
    segmentBytes,
    segmentMs: positiveInt('segmentMs', c.segmentMs ?? segmentMsDefault, Number.MAX_SAFE_INTEGER),
    indexIntervalBytes: positiveInt('indexIntervalBytes', c.indexIntervalBytes ?? indexIntervalBytesDefault, segmentBytesLimit),
    nowMs: c.nowMs ?? Date.now,
    writeBehind: c.writeBehind ?? true,
  };
}

export class PartitionLog {
  private segments: Segment[];
  private logEnd: number;
  private flushed: number;
  private recoveryPoint: number;
  /** Sealed segments whose data and indexes are not yet fsynced. */
  private unsyncedSealed: Segment[] = [];
  /** Segments removed while a flush may still fsync their fd: closed when it settles. */
  private retired: Segment[] = [];
  private dirDirty = false;
  private flushInFlight: Promise<number> | null = null;
  private flushQueued: Promise<number> | null = null;
  /** Upper bounds of what in-flight flushes may claim; truncation lowers them. */
  private readonly flushCeilings = new Set<{ value: number }>();
  private readonly damaged: CorruptRangeDetails[] = [];
  private failure: unknown = null;
  private closed = false;

  private constructor(
    readonly dir: string,
    private config: ResolvedConfig,
    segments: Segment[],
    readonly recovery: RecoveryReport,
    private readonly logger?: LogLogger,
  ) {
    this.segments = segments;
    this.logEnd = this.active.nextOffset;
    this.flushed = this.logEnd;
    this.recoveryPoint = this.active.baseOffset;
  }

  /**
   * Opens (creating if needed) the log in `dir`, recovering it. Afterwards everything in the log
   * is fsynced: flushedOffset == logEndOffset. `log.recovery` says what was cut.
   */
  static async open(dir: string, config: PartitionLogConfig = {}, logger?: LogLogger): Promise<PartitionLog> {
    const resolved = resolveConfig(config);
    const loaded = loadSegments(dir, resolved, resolved.nowMs(), logger);
    const segments = loaded.segments;
    if (segments.length === 0) segments.push(Segment.create(dir, 0, resolved, resolved.nowMs()));
    for (const seg of loaded.rebuiltSealed) {
      seg.datasyncSync(); // recovery may have cut it
      seg.writeIndexes();
    }
    const active = segments[segments.length - 1] as Segment;
    active.datasyncSync();
    fsyncDirSync(dir);
    // From here on, only segments below the active one are vouched for; cleanShutdown is cleared
    // so that a crash from now on rescans the active segment.
    writeRecoveryCheckpoint(dir, recoveryCheckpointFileName, { recoveryPointOffset: active.baseOffset, cleanShutdown: false });
    const log = new PartitionLog(dir, resolved, segments, { ...loaded.report, logEndOffset: active.nextOffset }, logger);
    logger?.info({ dir, ...log.recovery, truncated: log.recovery.truncated !== null }, 'partition log opened');
    return log;
  }

  get logStartOffset(): number {
    return (this.segments[0] as Segment).baseOffset;
  }

  /** The next offset to be assigned. */
  get logEndOffset(): number {
    return this.logEnd;
  }

  /** Everything below this offset is fsynced: the most a replica may acknowledge. */
  get flushedOffset(): number {
    return this.flushed;
  }

  /** Bytes of batch data on disk across all segments (indexes and metadata not counted). */
  get sizeBytes(): number {
    return this.segments.reduce((n, s) => n + s.sizeBytes, 0);
  }

  /** Number of segment files (the active one included). */
  get segmentCount(): number {
    return this.segments.length;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1] as Segment;
  }

  private checkUsable(): void {
    if (this.closed) throw new LogError('LOG_CLOSED', `partition log ${this.dir} is closed`);
    // A write-behind failure of the active segment stops the log at the next call, not only at
    // the next flush (a node that never fsyncs might otherwise go on serving memory).
    if (this.failure === null && this.segments.length > 0 && this.active.writeFailure !== null) this.fail(this.active.writeFailure);
    if (this.failure !== null) {
      throw new LogError('STORAGE_FAILED', `partition log ${this.dir} failed a write or fsync; reopen it to recover`, {}, this.failure);
    }
  }

  /** Fail-stop: after an I/O error the in-memory state may not match the disk (fsyncgate). */
  private fail(err: unknown): LogError {
    this.failure ??= err;
    this.logger?.warn({ dir: this.dir, err: String(err) }, 'partition log failed; reopen to recover');
    return new LogError('STORAGE_FAILED', `partition log ${this.dir}: ${String(err)}`, {}, err);
  }

  /**
   * Validates one batch and appends it (to the page cache, synchronously). The batch buffer is
   * stamped in place with its base offset (and leader epoch) and must not be reused by the caller.
   * On any error nothing changes: not the log, not the buffer.
   */
  append(batch: Buffer, options: AppendOptions = {}): AppendResult {
    this.checkUsable();
    const { expectedBaseOffset, leaderEpoch, allowEmpty } = options;
    const header = validateBatch(batch, this.config.maxBatchBytes, { allowEmpty });
    const baseOffset = this.logEnd;
    if (expectedBaseOffset !== undefined && (expectedBaseOffset !== baseOffset || header.baseOffset !== baseOffset)) {
      throw new LogError(
        'BASE_OFFSET_MISMATCH',
        `batch base offset ${header.baseOffset} (expected ${expectedBaseOffset}) does not continue the log at ${baseOffset}`,
        { logEndOffset: baseOffset, batchBaseOffset: header.baseOffset },
      );
    }
    const lastOffset = baseOffset + header.lastOffsetDelta;
    if (lastOffset > offsetMax) throw new LogError('OFFSET_OVERFLOW', `offset ${lastOffset} exceeds ${offsetMax}`);
    if (leaderEpoch !== undefined && (!Number.isInteger(leaderEpoch) || leaderEpoch < -1 || leaderEpoch > 2 ** 31 - 1)) {
      throw new LogError('INVALID_ARGUMENT', `leader epoch ${leaderEpoch} is not an int32 >= -1`);
    }
    try {
      if (this.shouldRoll(batch.length, lastOffset, header.maxTimestamp)) this.roll();
      patchBaseOffset(batch, baseOffset);
      if (leaderEpoch !== undefined) patchLeaderEpoch(batch, leaderEpoch);
      this.active.append(batch, baseOffset, lastOffset, header.maxTimestamp);
    } catch (err) {
      throw this.fail(err);
    }
    this.logEnd = lastOffset + 1;
    return { baseOffset, lastOffset };
  }

  /** The segments, oldest first (the last is the active one): what retention decides on. */
  segmentInfos(): ReadonlyArray<{ baseOffset: number; nextOffset: number; sizeBytes: number; maxTimestamp: number; createdMs: number }> {
    return this.segments.map((s) => ({
      baseOffset: s.baseOffset, nextOffset: s.nextOffset, sizeBytes: s.sizeBytes, maxTimestamp: s.maxTimestamp, createdMs: s.createdMs,
    }));
  }

  /**
   * Sealed segments the cleaner may rewrite: oldest first, each wholly below `endOffset` (the
   * replica's high watermark: never uncommitted data) and below the recovery point (fsynced, with
   * indexes written; this also keeps the active segment out).
   */
  cleanableSegments(endOffset: number): CleanableSegment[] {
    this.checkUsable();
    const out: CleanableSegment[] = [];
    for (const s of this.segments) {
      if (s === this.active || s.nextOffset > endOffset || s.nextOffset > this.recoveryPoint) break;
      out.push({ baseOffset: s.baseOffset, nextOffset: s.nextOffset, sizeBytes: s.sizeBytes, createdMs: s.createdMs, serial: s.serial });
    }
    return out;
  }

  /** Whether a segment from cleanableSegments() is still there exactly as it was, undamaged. */
  isUnchanged(p: CleanableSegment): boolean {
    if (this.closed || this.failure !== null) return false;
    const seg = this.segments.find((s) => s.baseOffset === p.baseOffset);
    return seg !== undefined && seg !== this.active && seg.serial === p.serial && seg.sizeBytes === p.sizeBytes &&
      seg.nextOffset === p.nextOffset && seg.nextOffset <= this.recoveryPoint &&
      !this.damaged.some((d) => d.startOffset < seg.nextOffset && d.endOffset >= seg.baseOffset);
  }

  /** Segment limits of this log, for segments the cleaner builds. */
  get segmentLimits(): SegmentLimits {
    return { maxBatchBytes: this.config.maxBatchBytes, indexIntervalBytes: this.config.indexIntervalBytes, writeBehind: this.config.writeBehind };
  }

  /**
   * The cleaner's swap, one synchronous step: if every planned segment is still the same Segment
   * (same object, size and offsets; no damage found in it since), its staged copy replaces it on
   * disk (cleaner-swap.ts) and in memory. Returns false, changing nothing but the staging
   * directory, when the log moved under the pass (retention, truncation, reset, repair). `staged`
   * must be closed, fdatasynced segments with indexes written, one per planned segment.
   */
  replaceWithCleaned(planned: readonly CleanableSegment[], staged: readonly StagedSegmentInfo[], hook?: SwapFaultHook): boolean {
    this.checkUsable();
    assert(staged.length > 0 && staged.length <= planned.length, `${staged.length} staged for ${planned.length} planned segments`);
    if (!planned.every((p) => this.isUnchanged(p))) {
      discardStaging(this.dir);
      return false;
    }
    const targets = staged.map((st) => {
      const p = planned.find((x) => x.baseOffset === st.baseOffset);
      assert(p !== undefined && st.nextOffset === p.nextOffset, `staged ${st.baseOffset}..${st.nextOffset} matches no planned segment`);
      return this.segments[this.segmentIndexFor(st.baseOffset)] as Segment;
    });
    try {
      commitSwap(this.dir, staged, hook);
      for (const old of targets) {
        // Trusted: the cleaner wrote and synced the indexes with the data; they are still checked.
        const { segment } = Segment.open(this.dir, old.baseOffset, this.config, old.createdMs, true);
        assert(segment.nextOffset === old.nextOffset, `cleaned ${segment.describe()} does not end where ${old.describe()} did`);
        this.segments[this.segments.indexOf(old)] = segment;
        if (this.flushInFlight === null) old.close();
        else this.retired.push(old); // its fd may be in a flush; the files are already replaced
      }
    } catch (err) {
      throw this.fail(err);
    }
    return true;
  }

  /**
   * Changes when the active segment rolls (a topic config change applies without a restart).
   * Validated like the values given at open; nothing changes on error.
   */
  setRollPolicy(policy: { readonly segmentBytes: number; readonly segmentMs: number }): void {
    this.config = resolveConfig({ ...this.config, segmentBytes: policy.segmentBytes, segmentMs: policy.segmentMs });
  }

  private shouldRoll(sizeBytes: number, lastOffset: number, maxTimestamp: number): boolean {
    const seg = this.active;
    if (seg.sizeBytes === 0) return false;
    if (seg.sizeBytes + sizeBytes > this.config.segmentBytes) return true;
    if (lastOffset - seg.baseOffset > relativeOffsetMax) return true;
    // Kafka's rule: age by record timestamps when the first batch has one, else by wall clock.
    const first = seg.firstBatchMaxTimestamp;
    const age = first !== null && first >= 0 ? maxTimestamp - first : this.config.nowMs() - seg.createdMs;
    return age >= this.config.segmentMs;
  }

  private roll(): void {
    const sealed = this.active;
    this.unsyncedSealed.push(sealed);
    this.segments.push(Segment.create(this.dir, this.logEnd, this.config, this.config.nowMs()));
    this.dirDirty = true;
  }

  /**
   * Makes everything appended so far durable and resolves with the new flushed offset. Calls made
   * while a flush is running coalesce into one follow-up flush (group commit).
   */
  flush(): Promise<number> {
    try {
      this.checkUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.flushInFlight === null) {
      // Writes idle too: a truncation back to the flushed offset may still wait in the queue.
      const idle = this.flushed === this.logEnd && this.unsyncedSealed.length === 0 && !this.dirDirty && this.active.writesIdle;
      return idle ? Promise.resolve(this.flushed) : this.startFlush();
    }
    this.flushQueued ??= this.flushInFlight
      .catch(() => undefined)
      .then(() => {
        this.flushQueued = null;
        return this.startFlush();
      });
    return this.flushQueued;
  }

  private startFlush(): Promise<number> {
    if (this.failure !== null || this.closed) return Promise.reject(this.closed ? new LogError('LOG_CLOSED', 'log closed') : this.fail(this.failure));
    const run = this.runFlush().finally(() => {
      if (this.flushInFlight === run) this.flushInFlight = null;
      if (this.flushInFlight === null) for (const s of this.retired.splice(0)) s.close();
    });
    this.flushInFlight = run;
    return run;
  }

  private async runFlush(): Promise<number> {
    const ceiling = { value: this.logEnd };
    const sealed = this.unsyncedSealed.splice(0);
    const dirDirty = this.dirDirty;
    this.dirDirty = false;
    this.flushCeilings.add(ceiling);
    try {
      // allSettled: on a failure, no sibling fdatasync may still be running when `retired` closes.
      const synced = await Promise.allSettled([this.active.datasync(), ...sealed.map((s) => s.datasync())]);
      for (const r of synced) if (r.status === 'rejected') throw r.reason;
      for (const s of sealed) if (this.segments.includes(s) && s !== this.active) s.writeIndexes();
      if (dirDirty) fsyncDirSync(this.dir);
      if (sealed.length > 0) this.advanceRecoveryPoint();
    } catch (err) {
      throw this.fail(err);
    } finally {
      this.flushCeilings.delete(ceiling);
    }
    this.flushed = Math.max(this.flushed, ceiling.value);
    return this.flushed;
  }

  /** Vouch (in the checkpoint) for every segment below the first one not yet fsynced. */
  private advanceRecoveryPoint(): void {
    const pending = [...this.unsyncedSealed, this.active].map((s) => s.baseOffset);
    const point = Math.min(...pending);
    if (point <= this.recoveryPoint) return;
    this.writeCheckpoint(point, false);
  }

  private writeCheckpoint(point: number, cleanShutdown: boolean): void {
    writeRecoveryCheckpoint(this.dir, recoveryCheckpointFileName, { recoveryPointOffset: point, cleanShutdown });
    this.recoveryPoint = point;
  }

  private outOfRange(what: string, offset: number): LogError {
    return new LogError(
      'OFFSET_OUT_OF_RANGE',
      `${what} ${offset} is outside the log [${this.logStartOffset}, ${this.logEnd}]`,
      { offset, logStartOffset: this.logStartOffset, logEndOffset: this.logEnd },
    );
  }

  private segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.segments[mid] as Segment).baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Reads whole batches from the one containing `fromOffset`: at least one batch even if larger
   * than maxBytes (so a consumer always progresses), never one reaching `maxOffsetExclusive` (pass
   * the high watermark), and never past the end of one segment. Every batch is CRC-verified; a
   * damaged batch ends the read, or throws CORRUPT_RANGE if it is the first one. `alloc` gives
   * the buffer the batches are read into (at least the bytes asked; the records are a view of it).
   */
  read(fromOffset: number, maxBytes: number, maxOffsetExclusive: number = this.logEnd, alloc?: (bytes: number) => Buffer): ReadResult {
    this.checkUsable();
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new LogError('INVALID_ARGUMENT', `maxBytes ${maxBytes}`);
    if (!Number.isSafeInteger(fromOffset) || fromOffset < this.logStartOffset || fromOffset > this.logEnd) {
      throw this.outOfRange('read offset', fromOffset);
    }
    const limit = Math.min(maxOffsetExclusive, this.logEnd);
    const empty = { records: Buffer.alloc(0), firstOffset: fromOffset, nextOffset: fromOffset };
    if (fromOffset >= limit) return this.withBounds(empty);
    const known = this.damaged.find((d) => d.startOffset <= fromOffset && fromOffset <= d.endOffset);
    if (known !== undefined) throw corruptRangeError(known, 'known damaged range');
    const r = (this.segments[this.segmentIndexFor(fromOffset)] as Segment).read(fromOffset, maxBytes, limit, alloc);
    if (r.damage !== null) {
      this.recordDamage(r.damage);
      if (r.buffer.length === 0) throw corruptRangeError(r.damage, 'CRC-32C or header check failed');
    }
    return this.withBounds({ records: r.buffer, firstOffset: r.firstOffset, nextOffset: r.buffer.length === 0 ? fromOffset : r.nextOffset });
  }

  private withBounds(r: Pick<ReadResult, 'records' | 'firstOffset' | 'nextOffset'>): ReadResult {
    return { ...r, logStartOffset: this.logStartOffset, logEndOffset: this.logEnd };
  }

  private recordDamage(range: CorruptRangeDetails): void {
    if (this.damaged.some((d) => d.startOffset === range.startOffset)) return;
    this.damaged.push(range);
    this.logger?.warn({ dir: this.dir, ...range }, 'corrupt batch range found; it will not be served');
  }

  /** Ranges that failed verification since open: re-fetch them from a healthy replica. */
  damagedRanges(): readonly CorruptRangeDetails[] {
    return [...this.damaged];
  }

  /**
   * Header-only scan of batches from the one containing `fromOffset` up to (excluding batches that
   * reach) `maxOffsetExclusive`. No record bodies are read or CRC-checked. Do not mutate the log
   * while iterating.
   */
  *batchHeaders(fromOffset: number = this.logStartOffset, maxOffsetExclusive: number = this.logEnd): Generator<StoredBatchHeader> {
    this.checkUsable();
    if (fromOffset < this.logStartOffset || fromOffset > this.logEnd) throw this.outOfRange('scan offset', fromOffset);
    for (let i = this.segmentIndexFor(fromOffset); i < this.segments.length; i++) {
      const seg = this.segments[i] as Segment;
      try {
        for (const h of seg.headers(Math.max(fromOffset, seg.baseOffset))) {
          if (h.lastOffset >= maxOffsetExclusive) return;
          yield h;
        }
      } catch (err) {
        if (isLogError(err, 'CORRUPT_RANGE')) this.recordDamage(err.details as unknown as CorruptRangeDetails);
        throw err;
      }
    }
  }

  /** The first offset whose record timestamp is >= `timestamp`, or null if there is none. */
  offsetForTimestamp(timestamp: number): number | null {
    this.checkUsable();
    for (const seg of this.segments) {
      const found = seg.offsetForTimestamp(timestamp);
      if (found !== null) return found;
    }
    return null;
  }

  /**
   * Removes every batch at and after `offset` (Raft cutting an uncommitted tail). `offset` must be
   * a batch boundary in [logStartOffset, logEndOffset]. Durable with the next flush().
   */
  truncateFrom(offset: number): void {
    this.checkUsable();
    if (!Number.isSafeInteger(offset) || offset < this.logStartOffset || offset > this.logEnd) {
      throw this.outOfRange('truncate offset', offset);
    }
    if (offset === this.logEnd) return;
    let keep = this.segmentIndexFor(offset);
    if (keep > 0 && (this.segments[keep] as Segment).baseOffset === offset) keep -= 1;
    const target = this.segments[keep] as Segment;
    if (!target.isBatchBoundary(offset)) {
      throw new LogError('NOT_BATCH_BOUNDARY', `offset ${offset} is inside a batch; truncate at a batch base offset`, { offset });
    }
    try {
      // Lower the checkpoint first: bytes below the old recovery point are about to change.
      if (offset < this.recoveryPoint) this.writeCheckpoint(target.baseOffset, false);
      for (const seg of this.segments.splice(keep + 1)) this.retire(seg);
      this.unsyncedSealed = this.unsyncedSealed.filter((s) => s !== target && this.segments.includes(s));
      target.truncateFrom(offset);
    } catch (err) {
      throw this.fail(err);
    }
    this.logEnd = offset;
    this.flushed = Math.min(this.flushed, offset);
    for (const c of this.flushCeilings) c.value = Math.min(c.value, offset);
    this.clipDamage();
  }

  private retire(seg: Segment): void {
    seg.unlinkFiles();
    this.dirDirty = true;
    if (this.flushInFlight === null) seg.close();
    else this.retired.push(seg);
  }

  private clipDamage(): void {
    const keep = this.damaged.filter((d) => d.startOffset < this.logEnd && d.endOffset >= this.logStartOffset);
    this.damaged.splice(0, this.damaged.length, ...keep);
  }

  /**
   * Deletes whole segments that lie entirely below `offset` (retention, once Raft allows it) and
   * returns the new log start. If the whole log lies below, an empty segment is rolled first so the
   * log keeps its end offset.
   */
  deleteBefore(offset: number): number {
    this.checkUsable();
    if (!Number.isSafeInteger(offset) || offset > this.logEnd) throw this.outOfRange('delete offset', offset);
    try {
      if (this.active.sizeBytes > 0 && this.active.nextOffset <= offset) this.roll();
      let n = 0;
      while (n < this.segments.length - 1 && (this.segments[n] as Segment).nextOffset <= offset) n += 1;
      for (const seg of this.segments.splice(0, n)) this.retire(seg);
      this.unsyncedSealed = this.unsyncedSealed.filter((s) => this.segments.includes(s));
    } catch (err) {
      throw this.fail(err);
    }
    this.clipDamage();
    assert(this.segments.length > 0, 'a log always keeps its active segment');
    return this.logStartOffset;
  }

  /**
   * Empties the log and restarts it at `offset` (a follower that fell behind the leader's log
   * start installs a snapshot, then fetches from there). Durable when it returns: the directory
   * is fsynced so that deleted segments cannot resurrect.
   */
  resetTo(offset: number): void {
    this.checkUsable();
    if (!Number.isSafeInteger(offset) || offset < 0) throw new LogError('INVALID_ARGUMENT', `reset offset ${offset}`);
    try {
      for (const seg of this.segments.splice(0)) this.retire(seg);
      this.unsyncedSealed = [];
      this.segments.push(Segment.create(this.dir, offset, this.config, this.config.nowMs()));
      this.active.datasyncSync();
      fsyncDirSync(this.dir);
      this.dirDirty = false;
      this.writeCheckpoint(offset, false);
    } catch (err) {
      throw this.fail(err);
    }
    this.logEnd = offset;
    this.flushed = offset;
    for (const c of this.flushCeilings) c.value = Math.min(c.value, offset);
    this.damaged.splice(0);
  }

  /**
   * Replaces a damaged range (from damagedRanges()) with good bytes from a healthy replica. The
   * bytes must be whole valid batches covering exactly the damaged offsets and bytes (Raft
   * replicas hold identical batches). Otherwise REPAIR_MISMATCH: truncateFrom + re-fetch instead.
   */
  repairRange(startOffset: number, bytes: Buffer): void {
    this.checkUsable();
    const i = this.damaged.findIndex((d) => d.startOffset === startOffset);
    if (i < 0) throw new LogError('INVALID_ARGUMENT', `no damaged range starts at ${startOffset}`, { startOffset });
    const range = this.damaged[i] as CorruptRangeDetails;
    const seg = this.segments.find((s) => s.baseOffset === range.segmentBaseOffset);
    if (seg === undefined) throw new LogError('INVALID_ARGUMENT', `segment ${range.segmentBaseOffset} is gone`);
    repairDamagedRange(seg, range, bytes, this.config.maxBatchBytes);
    this.damaged.splice(i, 1);
  }

  /**
   * Resolves once every append and truncation so far is in the kernel's page cache: what survives
   * a process crash (not a power loss: that is flush()). What a node without fsync waits for before
   * acknowledging, and what tests that simulate a crash wait for.
   */
  async settle(): Promise<void> {
    this.checkUsable();
    try {
      await Promise.all(this.segments.filter((s) => !s.writesIdle).map((s) => s.settle()));
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Flushes everything, writes indexes and a clean-shutdown checkpoint, closes files. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.failure === null) {
      await this.flush();
      await this.settle(); // a truncation after the last append may still be queued
      try {
        this.active.writeIndexes(); // sealed segments' indexes were written when they were flushed
        this.writeCheckpoint(this.logEnd, true);
      } catch (err) {
        throw this.fail(err);
      }
    } else {
      await this.flushInFlight?.catch(() => undefined);
    }
    this.closed = true;
    for (const seg of [...this.segments, ...this.retired.splice(0)]) seg.close();
  }
}
