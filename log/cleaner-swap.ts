// Crash-safe replacement of sealed segments by their cleaned copies (Kafka's .cleaned → .swap →
// rename protocol, done for a whole cleaner pass at once).
//
// One pass may rewrite many segments, and it must land all or nothing: the pass drops a tombstone
// together with the older values it shadowed, possibly in different segments, so a crash that
// swapped only the tombstone's segment would resurrect a deleted key. Hence one commit point for
// the pass instead of one per file:
//
//   1. the cleaner writes every cleaned segment (`.log`, `.index`, `.timeindex`, their usual names)
//      into `<dir>/cleaner-staging/`, fdatasyncs each file, then fsyncs the staging directory;
//   2. COMMIT: `swap.manifest` (FRYM frame: version, length, CRC-32C) is written to the staging
//      directory atomically (temp, fsync, rename, fsync dir). Its existence means "swap";
//   3. each staged file is renamed over its live counterpart (rename(2) replaces atomically), the
//      partition directory is fsynced, then the staging directory is removed.
//
// At open, before segments are discovered: a staging directory without `swap.manifest` is a pass
// that never committed and is discarded (the old segments are intact); with one, the renames are
// (re)done, which is idempotent, since a file already moved is simply no longer staged.
// The manifest's content (sizes) is a cross-check only: the commit is its existence.
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDirSync, readMetadataFile, writeMetadataFileSync } from './checkpoint-file.js';
import { isLogError, LogError } from './errors.js';
import { segmentFileName } from './segment.js';

export const cleanerStagingDirName = 'cleaner-staging';
const manifestName = 'swap.manifest';
const manifestVersion = 1;
const segmentExtensions = ['.index', '.timeindex', '.log'] as const;

/** One cleaned segment as staged: same base and next offset as the segment it replaces. */
export interface StagedSegmentInfo {
  readonly baseOffset: number;
  readonly nextOffset: number;
  readonly sizeBytes: number;
}

/** Points inside the swap where a test may simulate a crash (the hook throws). */
export type SwapStep = 'manifest-written' | 'file-renamed' | 'renames-done';
export type SwapFaultHook = (step: SwapStep) => void;

export function stagingDirOf(dir: string): string {
  return path.join(dir, cleanerStagingDirName);
}

/** A fresh, empty staging directory (whatever an abandoned pass left there is removed). */
export function beginStaging(dir: string): string {
  const staging = stagingDirOf(dir);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging);
  return staging;
}

/** Drops an uncommitted pass. Not fsynced: leftovers are discarded again at the next open. */
export function discardStaging(dir: string): void {
  fs.rmSync(stagingDirOf(dir), { recursive: true, force: true });
}

/**
 * Commits and completes a swap whose staged files are all written and fdatasynced. Synchronous:
 * the caller (PartitionLog) runs it as one step that nothing else can interleave with.
 */
export function commitSwap(dir: string, staged: readonly StagedSegmentInfo[], hook?: SwapFaultHook): void {
  const staging = stagingDirOf(dir);
  fsyncDirSync(staging);
  writeMetadataFileSync(staging, manifestName, manifestVersion, Buffer.from(JSON.stringify(staged), 'utf8'));
  hook?.('manifest-written');
  completeSwap(dir, hook);
}

function completeSwap(dir: string, hook?: SwapFaultHook): void {
  const staging = stagingDirOf(dir);
  for (const name of fs.readdirSync(staging).sort()) {
    if (!isSegmentFile(name)) continue;
    fs.renameSync(path.join(staging, name), path.join(dir, name));
    hook?.('file-renamed');
  }
  fsyncDirSync(dir);
  hook?.('renames-done');
  fs.rmSync(staging, { recursive: true, force: true });
  fsyncDirSync(dir);
}

function isSegmentFile(name: string): boolean {
  return segmentExtensions.some((ext) => name.endsWith(ext)) && /^\d+\./.test(name);
}

export type SwapRecovery = 'none' | 'completed' | 'discarded';

/**
 * Finishes or discards an interrupted swap; call before the segments of `dir` are discovered.
 * `warn` hears about a committed manifest that is unreadable (the swap is still completed: the
 * staged files were durable before the manifest existed).
 */
export function recoverSwap(dir: string, warn: (msg: string) => void): SwapRecovery {
  const staging = stagingDirOf(dir);
  if (!fs.existsSync(staging)) return 'none';
  if (!fs.existsSync(path.join(staging, manifestName))) {
    discardStaging(dir);
    fsyncDirSync(dir);
    return 'discarded';
  }
  checkStagedSizes(staging, warn);
  completeSwap(dir);
  return 'completed';
}

/** Staged `.log` files must have the sizes the manifest recorded: anything else is disk damage. */
function checkStagedSizes(staging: string, warn: (msg: string) => void): void {
  let staged: StagedSegmentInfo[];
  try {
    const payload = readMetadataFile(staging, manifestName, manifestVersion);
    staged = JSON.parse((payload ?? Buffer.alloc(0)).toString('utf8')) as StagedSegmentInfo[];
  } catch (err) {
    if (!isLogError(err, 'CORRUPT_METADATA') && !(err instanceof SyntaxError)) throw err;
    warn(`${staging}/${manifestName}: ${err.message}; completing the committed swap without the size cross-check`);
    return;
  }
  for (const s of staged) {
    const file = path.join(staging, segmentFileName(s.baseOffset, '.log'));
    if (!fs.existsSync(file)) continue; // already moved before the crash
    const size = fs.statSync(file).size;
    if (size !== s.sizeBytes) {
      throw new LogError('CORRUPT_METADATA',
        `${file} is ${size} bytes but the committed swap manifest says ${s.sizeBytes}: the disk lost fsynced data; ` +
        `remove this replica's partition directory and let it re-replicate`, { file });
    }
  }
}
