/**
 * How a coordinator uses its group-state partition: the narrow view of the partition replica it
 * needs (the broker adapts a PartitionReplica to it), reading the committed log into an image, and
 * encoding its records as one batch per write (a commit's offsets land atomically).
 */
import { decodeBatch, encodeBatch, readBatchHeader } from '../../log/index.js';
import { GroupStateImage } from './group-state-image.js';
import { decodeRecord, recordOf, type GroupStateRecord } from './group-records.js';

export interface StatePartition {
  readonly isLeader: boolean;
  /** Raft term of this replica's view (a coordinator's load is valid for one term). */
  readonly term: number;
  /** First readable offset (moves when a checkpoint lets the log start move). */
  readonly logStartOffset: number;
  /** Committed batches from `offset` (whole batches; empty at the high watermark). */
  read(offset: number, maxBytes: number): { records: Buffer };
  /** Appends one batch with acks=all; resolves with its base offset once committed. */
  produce(batch: Buffer, acks: 'all', timeoutMs: number): Promise<number>;
  /** Proposes through Raft that the log now starts at `offset` (a batch boundary). */
  proposeLogStart(offset: number): boolean;
}

/** Bytes read per step while loading. */
const loadReadBytes = 4 * 1024 * 1024;

/**
 * Folds every committed record of the partition from its log start through offset `through`
 * (a record this coordinator wrote and saw commit). Control batches (Raft no-ops, log-start
 * decisions) carry no group state and are skipped.
 */
export function loadImage(partition: StatePartition, through: number): GroupStateImage {
  const image = new GroupStateImage();
  let offset = partition.logStartOffset;
  while (offset <= through) {
    const { records } = partition.read(offset, loadReadBytes);
    if (records.length === 0) throw new Error(`group-state log ends at ${offset}, before the load marker at ${through}`);
    for (let pos = 0; pos < records.length;) {
      const h = readBatchHeader(records, pos);
      const bytes = records.subarray(pos, pos + h.sizeBytes);
      pos += h.sizeBytes;
      if (h.lastOffset < offset) continue;
      offset = h.lastOffset + 1;
      if (h.isControl) continue;
      for (const r of decodeBatch(bytes).records) image.apply(decodeRecord(r.key, r.value));
    }
  }
  return image;
}

export function encodeRecords(records: readonly GroupStateRecord[], timestampMs: number): Buffer {
  if (records.length === 0) throw new Error('a group-state write needs at least one record');
  return encodeBatch({ records: records.map((r) => ({ ...recordOf(r), timestamp: timestampMs })) });
}
