// Log compaction (cleanup.policy=compact): one cleaner pass over a partition log keeps, for each
// key, only the latest record, and drops tombstones (null values) once delete.retention.ms has
// passed.
//
// What a pass preserves, and why:
// * Every batch. One Raft entry is one batch and node/'s Raft index ↔ offset map needs each entry
//   to stay where it is, so the cleaner only drops records *inside* batches. Header fields (base
//   offset, lastOffsetDelta, leader epoch, timestamps, producer id/epoch/sequence, attributes) are
//   kept; a batch whose records all go stays as an empty batch (record count 0), which Kafka's v2
//   format allows. Offsets therefore never move: a compacted log has gaps, readers skip them.
// * Control batches (Raft no-op/conf/log-start records) are never altered.
// * Nothing at or above the high watermark, and never the active segment: uncommitted data may
//   still be cut by Raft, so it must neither be cleaned nor decide what older data to drop.
//
// A pass (a prefix of the log's sealed segments, up to `keyMapEntriesMax` distinct keys):
//   1. read the pass and map each key to the offset of its latest record;
//   2. write a cleaned copy of every segment that loses a record into a staging directory
//      (records kept: the latest of their key; tombstones only until their batch's maxTimestamp +
//      delete.retention.ms <= now and they lie below the tombstone horizon, i.e. every replica has
//      them; keyless records are dropped, as Kafka's cleaner does);
//   3. swap all staged segments in at once (cleaner-swap.ts; a synchronous step in PartitionLog
//      that first checks the log did not change under the pass, else abandons it).
// Because the swap is all-or-nothing and a pass always starts at the log start, a tombstone is
// dropped in the same commit as every older value of its key: no crash, and no later pass, can
// resurrect one.
//
// Reads go through PartitionLog.read (CRC-verified, never a stale fd) in chunks, and all I/O is
// accounted to an IoThrottle, so the cleaner runs beside the produce path without starving it.
import { assert, isLogError } from './errors.js';
import { batchWithRecords, recordSpans, type RecordSpan } from './batch-records.js';
import { beginStaging, discardStaging, type StagedSegmentInfo, type SwapStep } from './cleaner-swap.js';
import type { IoThrottle } from './io-throttle.js';
import type { CleanableSegment, PartitionLog } from './partition-log.js';
import { readBatchHeader, type BatchHeader } from './record-batch.js';
import { Segment } from './segment.js';

/** Distinct keys one pass may hold in memory (a pass ends at the segment where this is reached). */
export const cleanerKeyMapEntriesMaxDefault = 1_000_000;
/** Bytes per read while cleaning: bounds memory and the grain of the rate limit. */
export const cleanerReadChunkBytesDefault = 1024 * 1024;

/** Points in a pass where a test may simulate a crash (the hook throws). */
export type CleanerStep = 'segment-staged' | 'staged' | SwapStep;

export interface CleanerOptions {
  /** Clean only segments wholly below this offset: the replica's high watermark. */
  readonly cleanableEndOffset: number;
  /** How long a tombstone survives after its batch's max timestamp (topic delete.retention.ms). */
  readonly deleteRetentionMs: number;
  /**
   * Tombstones at or above this offset are kept whatever their age. node/ passes the offset below
   * which every replica holds every batch (replicated through Raft), so that no replica drops a
   * tombstone that another has not received yet (that one would keep the older value). Pass the
   * log end offset for a log that is not replicated.
   */
  readonly tombstoneHorizonOffset: number;
  /** The time a tombstone's age is measured against (injected: tests and determinism). */
  readonly nowMs: number;
  readonly throttle: IoThrottle;
  readonly keyMapEntriesMax?: number;
  readonly readChunkBytes?: number;
  /** Test hook: throwing from it at a step simulates the process dying there. */
  readonly onStep?: (step: CleanerStep) => void;
}

export interface CleanerResult {
  readonly outcome: 'cleaned' | 'nothing-to-clean' | 'abandoned';
  /** Why the pass was abandoned (the log changed under it, or a range failed verification). */
  readonly reason?: string;
  /** End of the pass: every segment below it was considered (cleaned or already clean). */
  readonly cleanedThroughOffset: number;
  readonly segmentsRewritten: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly recordsRemoved: number;
  readonly tombstonesRemoved: number;
  readonly keylessRemoved: number;
  /**
   * Lowest offset of an expired tombstone kept only because it is not below the tombstone horizon
   * (null if none): a pass once the horizon has passed it can drop it, even with no new data.
   */
  readonly heldBackTombstoneOffset: number | null;
}

/** The log moved under a pass; the pass is dropped and a later one starts over. */
class PassAbandoned extends Error {}

interface PassContext {
  readonly log: PartitionLog;
  readonly options: CleanerOptions;
  readonly chunkBytes: number;
  readonly pass: readonly CleanableSegment[];
}

interface Counts {
  recordsRemoved: number;
  tombstonesRemoved: number;
  keylessRemoved: number;
  heldBackTombstoneOffset: number | null;
}

/** Runs one cleaner pass over `log`. Never throws for a log that changed or closed meanwhile. */
export async function cleanLog(log: PartitionLog, options: CleanerOptions): Promise<CleanerResult> {
  const planned = log.cleanableSegments(options.cleanableEndOffset);
  const none = { cleanedThroughOffset: planned[0]?.baseOffset ?? log.logStartOffset, segmentsRewritten: 0, bytesBefore: 0, bytesAfter: 0 };
  const zero: Counts = { recordsRemoved: 0, tombstonesRemoved: 0, keylessRemoved: 0, heldBackTombstoneOffset: null };
  if (planned.length === 0) return { outcome: 'nothing-to-clean', ...none, ...zero };
  const chunkBytes = options.readChunkBytes ?? cleanerReadChunkBytesDefault;
  let ctx: PassContext = { log, options, chunkBytes, pass: planned };
  let staged: StagedSegmentInfo[] = [];
  try {
    const keys = await latestOffsetByKey(ctx, options.keyMapEntriesMax ?? cleanerKeyMapEntriesMaxDefault);
    ctx = { ...ctx, pass: keys.pass };
    const counts: Counts = { ...zero };
    staged = await stageCleanedSegments(ctx, keys.latest, counts);
    options.onStep?.('staged');
    const result = {
      cleanedThroughOffset: (ctx.pass[ctx.pass.length - 1] as CleanableSegment).nextOffset,
      segmentsRewritten: staged.length,
      bytesBefore: staged.reduce((n, s) => n + (ctx.pass.find((p) => p.baseOffset === s.baseOffset)?.sizeBytes ?? 0), 0),
      bytesAfter: staged.reduce((n, s) => n + s.sizeBytes, 0),
      ...counts,
    };
    if (staged.length === 0) {
      discardStaging(log.dir);
      return { outcome: 'cleaned', ...result };
    }
    if (!log.replaceWithCleaned(ctx.pass, staged, options.onStep)) {
      return { outcome: 'abandoned', reason: 'the log changed before the swap', ...none, ...zero };
    }
    return { outcome: 'cleaned', ...result };
  } catch (err) {
    const reason = abandonReason(err);
    if (reason === null) throw err;
    discardStaging(log.dir);
    return { outcome: 'abandoned', reason, ...none, ...zero };
  }
}

/** Errors that mean "the log moved or is unreadable here": the pass is dropped, not the node. */
function abandonReason(err: unknown): string | null {
  if (err instanceof PassAbandoned) return err.message;
  if (isLogError(err, 'CORRUPT_RANGE') || isLogError(err, 'OFFSET_OUT_OF_RANGE') || isLogError(err, 'LOG_CLOSED')) return err.message;
  return null;
}

/**
 * Pass step 1: the offset of the latest record of every key in the pass. Stops adding segments
 * once the map holds `entriesMax` keys, and returns the (possibly shortened) pass it covers.
 */
async function latestOffsetByKey(ctx: PassContext, entriesMax: number): Promise<{ latest: Map<string, number>; pass: CleanableSegment[] }> {
  const latest = new Map<string, number>();
  const pass: CleanableSegment[] = [];
  for (const seg of ctx.pass) {
    await forEachBatch(ctx, seg, (batch, header) => {
      if (header.isControl) return;
      for (const r of recordSpans(batch, header)) if (r.key !== null) latest.set(r.key.toString('latin1'), r.offset);
    });
    pass.push(seg);
    if (latest.size >= entriesMax) break;
  }
  return { latest, pass };
}

/** Pass step 2: a cleaned copy, in the staging directory, of each segment that loses records. */
async function stageCleanedSegments(ctx: PassContext, latest: ReadonlyMap<string, number>, counts: Counts): Promise<StagedSegmentInfo[]> {
  const staging = beginStaging(ctx.log.dir);
  const staged: StagedSegmentInfo[] = [];
  for (const seg of ctx.pass) {
    const out = Segment.create(staging, seg.baseOffset, ctx.log.segmentLimits, seg.createdMs);
    const before = counts.recordsRemoved + counts.keylessRemoved;
    try {
      await forEachBatch(ctx, seg, (batch, header) => {
        const cleaned = header.isControl ? batch : batchWithRecords(batch, header, recordsToKeep(batch, header, latest, ctx.options, counts));
        out.append(cleaned, header.baseOffset, header.lastOffset, header.maxTimestamp);
        return cleaned.length;
      });
      assert(out.nextOffset === seg.nextOffset, `staged copy of segment ${seg.baseOffset} ends at ${out.nextOffset}, not ${seg.nextOffset}`);
      if (counts.recordsRemoved + counts.keylessRemoved === before) {
        out.unlinkFiles(); // nothing to drop here: the live segment stays as it is
        continue;
      }
      await out.datasync();
      out.writeIndexes();
      staged.push({ baseOffset: seg.baseOffset, nextOffset: seg.nextOffset, sizeBytes: out.sizeBytes });
    } finally {
      out.close();
    }
    ctx.options.onStep?.('segment-staged');
  }
  return staged;
}

function recordsToKeep(batch: Buffer, header: BatchHeader, latest: ReadonlyMap<string, number>, o: CleanerOptions, counts: Counts): RecordSpan[] {
  const tombstonesExpired = header.maxTimestamp + o.deleteRetentionMs <= o.nowMs;
  return recordSpans(batch, header).filter((r) => {
    if (r.key === null) {
      counts.keylessRemoved += 1;
      return false;
    }
    const newest = latest.get(r.key.toString('latin1'));
    assert(newest !== undefined && newest >= r.offset, `key at offset ${r.offset} missing from the pass's key map`);
    const expired = newest === r.offset && r.isTombstone && tombstonesExpired;
    const keep = newest === r.offset && !(expired && r.offset < o.tombstoneHorizonOffset);
    if (expired && keep) counts.heldBackTombstoneOffset ??= r.offset; // records come in offset order
    if (!keep) counts.recordsRemoved += 1;
    if (!keep && newest === r.offset) counts.tombstonesRemoved += 1;
    return keep;
  });
}

/**
 * Calls `fn` for every batch of `seg`, reading through the log in chunks and paying the throttle
 * for what is read (and for what `fn` says it wrote). Checks before each read that the segment is
 * still the planned one, so a pass never reads a segment that retention or truncation replaced.
 */
async function forEachBatch(ctx: PassContext, seg: CleanableSegment, fn: (batch: Buffer, header: BatchHeader) => number | void): Promise<void> {
  let offset = seg.baseOffset;
  while (offset < seg.nextOffset) {
    if (!ctx.log.isUnchanged(seg)) throw new PassAbandoned(`segment ${seg.baseOffset} changed during the pass`);
    const r = ctx.log.read(offset, ctx.chunkBytes, seg.nextOffset);
    assert(r.records.length > 0 && r.firstOffset === offset, `cleaner read at ${offset} returned nothing or started at ${r.firstOffset}`);
    let written = 0;
    for (let pos = 0; pos < r.records.length;) {
      const header = readBatchHeader(r.records, pos);
      written += fn(r.records.subarray(pos, pos + header.sizeBytes), header) ?? 0;
      pos += header.sizeBytes;
    }
    offset = r.nextOffset;
    await ctx.options.throttle.acquire(r.records.length + written);
    // Even unthrottled, let I/O callbacks (the Raft loop's fsyncs, gRPC) run between chunks: a
    // resolved promise alone would keep the event loop for the whole pass.
    await yieldToEventLoop();
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
