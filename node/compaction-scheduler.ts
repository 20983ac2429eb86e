/**
 * Log compaction on this node: every replica (leader or follower) of a topic whose cleanup.policy
 * includes compact cleans its own log, below its own high watermark, with log/'s cleaner. Nothing
 * is replicated: each replica keeps the latest record of every key it has committed, so readers of
 * any replica see the same latest value per key (the physical bytes may differ between replicas,
 * and a lagging follower catches up by replication of the leader's already-compacted batches).
 *
 * One pass runs at a time per node, and all of them share one I/O budget (IoThrottle), so the
 * cleaner's disk use is bounded per node however many partitions are compacted. A partition is
 * cleaned once the share of its cleanable bytes written since its last pass reaches the topic's
 * min.cleanable.dirty.ratio (Kafka's rule; remembered in memory, so after a restart the first pass
 * treats everything as dirty), or once the replicated tombstone horizon has passed a tombstone the
 * last pass had to keep (it expired, but not every replica had it yet).
 */
import type { Logger } from 'pino';
import { cleanLog, type CleanableSegment, type IoThrottle, type PartitionLog } from '../log/index.js';

export interface CompactionTarget {
  /** The partition's Raft group key (names it in logs and in the dirty-ratio memory). */
  readonly key: string;
  readonly topic: string;
  readonly log: PartitionLog;
  /** Only committed data is cleaned (it can never be cut by Raft). */
  readonly highWatermark: number;
  /** Tombstones below it may go (PartitionReplica.tombstoneHorizon: every replica has them). */
  readonly tombstoneHorizon: number;
  readonly deleteRetentionMs: number;
  readonly minCleanableDirtyRatio: number;
}

export interface CompactionSchedulerOptions {
  readonly throttle: IoThrottle;
  readonly log: Logger;
  /** Wall clock for tombstone expiry (record timestamps are wall-clock ms). */
  readonly nowMs: () => number;
}

/**
 * Share of the cleanable bytes in segments at or after `cleanedThrough` (not yet seen by a pass);
 * 0 when there is nothing to clean.
 */
export function dirtyRatio(cleanable: readonly CleanableSegment[], cleanedThrough: number): number {
  const total = cleanable.reduce((n, s) => n + s.sizeBytes, 0);
  if (total === 0) return 0;
  const dirty = cleanable.filter((s) => s.baseOffset >= cleanedThrough).reduce((n, s) => n + s.sizeBytes, 0);
  return dirty / total;
}

export class CompactionScheduler {
  private round: Promise<void> | null = null;
  private stopped = false;
  /** Each partition's last completed pass: where it ended, and the first tombstone it held back. */
  private readonly lastPass = new Map<string, { cleanedThrough: number; heldBackTombstoneOffset: number | null }>();

  constructor(private readonly options: CompactionSchedulerOptions) {}

  /** Starts a round over `targets` unless one is still running (then this poke is dropped). */
  poke(targets: readonly CompactionTarget[]): void {
    if (this.stopped || this.round !== null || targets.length === 0) return;
    this.round = this.runRound(targets).finally(() => {
      this.round = null;
    });
  }

  /** Forgets a partition that is no longer hosted. */
  forget(key: string): void {
    this.lastPass.delete(key);
  }

  /**
   * No new passes; resolves when the running one ends. A pass over a log that is closed meanwhile
   * abandons at its next read, so close the logs and then await this.
   */
  stop(): Promise<void> {
    this.stopped = true;
    return this.round ?? Promise.resolve();
  }

  private async runRound(targets: readonly CompactionTarget[]): Promise<void> {
    for (const t of targets) {
      if (this.stopped) return;
      try {
        await this.maybeClean(t);
      } catch (err) {
        // A cleaner failure costs compaction of this partition, not the node; the next round retries.
        this.options.log.error({ err, partition: t.key, topic: t.topic }, 'log cleaner pass failed');
      }
    }
  }

  private async maybeClean(t: CompactionTarget): Promise<void> {
    const last = this.lastPass.get(t.key);
    const ratio = dirtyRatio(t.log.cleanableSegments(t.highWatermark), last?.cleanedThrough ?? 0);
    const heldBack = last?.heldBackTombstoneOffset ?? null;
    const tombstonesDue = heldBack !== null && t.tombstoneHorizon > heldBack;
    if (!tombstonesDue && (ratio === 0 || ratio < t.minCleanableDirtyRatio)) return;
    const startedMs = performance.now();
    const r = await cleanLog(t.log, {
      cleanableEndOffset: t.highWatermark, tombstoneHorizonOffset: t.tombstoneHorizon, deleteRetentionMs: t.deleteRetentionMs, nowMs: this.options.nowMs(), throttle: this.options.throttle,
    });
    if (r.outcome === 'cleaned') this.lastPass.set(t.key, { cleanedThrough: r.cleanedThroughOffset, heldBackTombstoneOffset: r.heldBackTombstoneOffset });
    this.options.log.info({
      partition: t.key, topic: t.topic, dirtyRatio: Number(ratio.toFixed(3)), ms: Math.round(performance.now() - startedMs), ...r,
    }, `log cleaner pass ${r.outcome}`);
  }
}
