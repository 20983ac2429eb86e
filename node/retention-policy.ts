/**
 * Where retention may move a partition's log start (cleanup.policy "delete"), Kafka's rules:
 * whole sealed segments only, oldest first, never the active segment and never anything at or
 * above the high watermark. A segment goes when its newest record is older than retention.ms, or
 * while the log without it would still be larger than retention.bytes. -1 disables either rule.
 * Pure: the leader calls it and replicates the answer through Raft.
 */
export interface SegmentInfo {
  readonly baseOffset: number;
  readonly nextOffset: number;
  readonly sizeBytes: number;
  /** Largest record timestamp in the segment; below 0 when none (then createdMs counts). */
  readonly maxTimestamp: number;
  readonly createdMs: number;
}

export interface RetentionConfig {
  readonly retentionMs: number;
  readonly retentionBytes: number;
}

/** The new log start offset, or undefined when nothing may go. */
export function retentionStartOffset(
  segments: readonly SegmentInfo[], config: RetentionConfig, highWatermark: number, nowMs: number,
): number | undefined {
  let total = segments.reduce((n, s) => n + s.sizeBytes, 0);
  let start: number | undefined;
  for (const s of segments.slice(0, -1)) {
    if (s.nextOffset > highWatermark) break;
    const newest = s.maxTimestamp >= 0 ? s.maxTimestamp : s.createdMs;
    const tooOld = config.retentionMs >= 0 && newest < nowMs - config.retentionMs;
    const tooBig = config.retentionBytes >= 0 && total - s.sizeBytes >= config.retentionBytes;
    if (!tooOld && !tooBig) break;
    total -= s.sizeBytes;
    start = s.nextOffset;
  }
  return start;
}
