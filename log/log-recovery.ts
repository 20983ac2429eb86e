// Opening a partition directory: find the segments, trust what the recovery-point checkpoint
// vouches for, CRC-scan the rest, cut at the first bad byte, drop segments that no longer
// continue the log, and say exactly what was cut.
import fs from 'node:fs';
import path from 'node:path';
import { readRecoveryCheckpoint, type RecoveryCheckpoint } from './checkpoint-file.js';
import { recoverSwap, type SwapRecovery } from './cleaner-swap.js';
import { recoveryCheckpointFileName, segmentNameDigits } from './constants.js';
import { isLogError } from './errors.js';
import { Segment, type SegmentLimits } from './segment.js';

/** Minimal structured logger (pino-compatible) so log/ depends on nothing of ours. */
export interface LogLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RecoveryCut {
  /** First offset that is no longer in the log. */
  readonly fromOffset: number;
  readonly bytesCut: number;
  /** Batches identified in the cut bytes (best effort: a torn frame cannot be counted). */
  readonly batchesCut: number;
  readonly segmentsDeleted: number;
  readonly reason: string;
}

export interface RecoveryReport {
  readonly cleanShutdown: boolean;
  /** The checkpointed recovery point (0 if there was none or it was unreadable). */
  readonly recoveryPointOffset: number;
  readonly checkpointProblem: string | null;
  readonly segmentsLoaded: number;
  /** Segments whose every batch was CRC-verified (and whose indexes were rebuilt) at open. */
  readonly segmentsScanned: number;
  readonly truncated: RecoveryCut | null;
  /** A cleaner swap interrupted by a crash: completed (it had committed) or discarded (it had not). */
  readonly cleanerSwap: SwapRecovery;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
}

const segmentFilePattern = new RegExp(`^(\\d{${segmentNameDigits}})\\.log$`);
const companionPattern = new RegExp(`^(\\d{${segmentNameDigits}})\\.(index|timeindex)$`);

/** Base offsets of the segments in `dir`, ascending; removes temp files and orphan indexes. */
function discoverSegments(dir: string): number[] {
  const names = fs.readdirSync(dir);
  const bases = new Set<number>();
  for (const name of names) {
    const m = segmentFilePattern.exec(name);
    if (m !== null) bases.add(Number(m[1]));
  }
  for (const name of names) {
    const m = companionPattern.exec(name);
    const orphan = m !== null && !bases.has(Number(m[1]));
    if (orphan || name.endsWith('.tmp')) fs.rmSync(path.join(dir, name), { force: true });
  }
  return [...bases].sort((a, b) => a - b);
}

function loadCheckpoint(dir: string): { cp: RecoveryCheckpoint | null; problem: string | null } {
  try {
    return { cp: readRecoveryCheckpoint(dir, recoveryCheckpointFileName), problem: null };
  } catch (err) {
    // A damaged checkpoint only costs a full scan; it must not stop the log from opening.
    if (isLogError(err, 'CORRUPT_METADATA')) return { cp: null, problem: err.message };
    throw err;
  }
}

function mergeCut(prev: RecoveryCut | null, next: RecoveryCut): RecoveryCut {
  if (prev === null) return next;
  return {
    fromOffset: Math.min(prev.fromOffset, next.fromOffset),
    bytesCut: prev.bytesCut + next.bytesCut,
    batchesCut: prev.batchesCut + next.batchesCut,
    segmentsDeleted: prev.segmentsDeleted + next.segmentsDeleted,
    reason: prev.reason,
  };
}

export interface LoadedLog {
  readonly segments: Segment[];
  readonly report: RecoveryReport;
  /** Segments that were scanned and sealed: their rebuilt indexes must be written. */
  readonly rebuiltSealed: Segment[];
}

export function loadSegments(dir: string, limits: SegmentLimits, nowMs: number, logger?: LogLogger): LoadedLog {
  fs.mkdirSync(dir, { recursive: true });
  // First, so that segments are discovered as the swap left them: all old or all cleaned.
  const cleanerSwap = recoverSwap(dir, (msg) => logger?.warn({ dir }, msg));
  if (cleanerSwap !== 'none') logger?.info({ dir, cleanerSwap }, 'log recovery finished an interrupted cleaner swap');
  const bases = discoverSegments(dir);
  const { cp, problem } = loadCheckpoint(dir);
  const recoveryPoint = cp?.recoveryPointOffset ?? 0;
  const segments: Segment[] = [];
  const scannedSet = new Set<Segment>();
  let truncated: RecoveryCut | null = null;
  for (let i = 0; i < bases.length; i++) {
    const base = bases[i] as number;
    const next = bases[i + 1];
    const isLast = next === undefined;
    // Sealed segments wholly below the recovery point were fsynced with their indexes; the last
    // one only if the previous run closed cleanly exactly at the recovery point.
    let trusted = isLast ? cp?.cleanShutdown === true : next <= recoveryPoint;
    let opened = Segment.open(dir, base, limits, nowMs, trusted);
    if (isLast && trusted && !opened.scanned && opened.segment.nextOffset !== recoveryPoint) {
      opened.segment.close();
      trusted = false;
      opened = Segment.open(dir, base, limits, nowMs, false);
    }
    segments.push(opened.segment);
    if (opened.scanned) scannedSet.add(opened.segment);
    if (opened.cut !== null) {
      truncated = mergeCut(truncated, { ...opened.cut, segmentsDeleted: 0 });
      logger?.warn({ segment: base, ...opened.cut }, 'log recovery cut a damaged or torn tail');
    }
  }
  truncated = dropDiscontinuous(segments, truncated, logger);
  const last = segments[segments.length - 1];
  const report: RecoveryReport = {
    cleanShutdown: cp?.cleanShutdown === true,
    recoveryPointOffset: recoveryPoint,
    checkpointProblem: problem,
    segmentsLoaded: segments.length,
    segmentsScanned: segments.filter((s) => scannedSet.has(s)).length,
    truncated,
    cleanerSwap,
    logStartOffset: segments[0]?.baseOffset ?? 0,
    logEndOffset: last?.nextOffset ?? 0,
  };
  const rebuiltSealed = segments.filter((s) => scannedSet.has(s) && s !== last);
  return { segments, report, rebuiltSealed };
}

/**
 * Each segment must start where the previous one ends. A gap or overlap means a tail was cut (a
 * torn write, or segments resurrected after an un-fsynced truncation): everything after the
 * first break goes, since none of it can have been acknowledged as flushed.
 */
function dropDiscontinuous(segments: Segment[], truncated: RecoveryCut | null, logger?: LogLogger): RecoveryCut | null {
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1] as Segment;
    const seg = segments[i] as Segment;
    if (seg.baseOffset === prev.nextOffset) continue;
    const dropped = segments.splice(i);
    const cut: RecoveryCut = {
      fromOffset: prev.nextOffset,
      bytesCut: dropped.reduce((n, s) => n + s.sizeBytes, 0),
      batchesCut: dropped.reduce((n, s) => n + countBatches(s), 0),
      segmentsDeleted: dropped.length,
      reason: `segment ${seg.baseOffset} does not continue ${prev.describe()}`,
    };
    for (const s of dropped) {
      s.close();
      s.unlinkFiles();
    }
    logger?.warn({ ...cut }, 'log recovery deleted segments after a break in the log');
    return mergeCut(truncated, cut);
  }
  return truncated;
}

function countBatches(seg: Segment): number {
  let n = 0;
  if (seg.nextOffset === seg.baseOffset) return 0;
  for (const header of seg.headers(seg.baseOffset)) n += header.sizeBytes > 0 ? 1 : 0;
  return n;
}
