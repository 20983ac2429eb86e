/**
 * How Raft entries that carry no client data (a new leader's no-op, a membership change) are
 * stored in a partition's log: as Kafka control batches with one control record, the way KRaft
 * stores its own Raft control records. The bytes are a pure function of (offset, term, entry), so
 * every replica writes identical batches; consumers skip control batches as Kafka clients do.
 *
 * Control record key: int16 version (0), int16 type. Types 100/101 are Ferry's own, outside the
 * range Kafka assigns (0-6), so no Kafka tool mistakes them for transaction markers.
 * Timestamps are -1 (Kafka's "no timestamp") so they never drive time-based rolling or lookups.
 */
import { decodeBatch, encodeBatch, readBatchHeader, type BatchHeader } from '../log/index.js';
import type { Entry, EntryType } from '../raft/types.js';

export const controlTypeRaftNoop = 100;
export const controlTypeRaftConf = 101;
/** Retention's replicated decision: "the log now starts at offset X" (value: 8-byte offset). */
export const controlTypeLogStart = 102;
/**
 * Compaction's replicated bound: "every replica holds every batch below offset X", so a cleaner
 * may drop tombstones below it (value: 8-byte offset). See PartitionReplica.tombstoneHorizon.
 */
export const controlTypeTombstoneHorizon = 103;
const noTimestamp = -1;

function controlKey(type: number): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(type, 2);
  return key;
}

/** The control batch standing for a no-op or conf entry (base offset set by the log on append). */
export function controlBatchFor(entry: Entry): Buffer {
  if (entry.type === 'normal') throw new Error(`entry ${entry.index} is normal: its data is already a batch`);
  const type = entry.type === 'noop' ? controlTypeRaftNoop : controlTypeRaftConf;
  return encodeBatch({
    isControl: true,
    partitionLeaderEpoch: entry.term,
    baseTimestamp: noTimestamp,
    records: [{ key: controlKey(type), value: entry.type === 'conf' ? Buffer.from(entry.data) : null, timestamp: noTimestamp }],
  });
}

/** A control batch the leader proposes (as a normal Raft entry) carrying one offset decision. */
function offsetDecisionBatch(type: number, offset: number): Buffer {
  const value = Buffer.alloc(8);
  value.writeBigUInt64BE(BigInt(offset));
  return encodeBatch({ isControl: true, baseTimestamp: noTimestamp, records: [{ key: controlKey(type), value, timestamp: noTimestamp }] });
}

/**
 * The batch the leader proposes to move every replica's log start to `offset`; replicas act on it
 * when it commits, so all of them cut at the same offset.
 */
export function logStartBatch(offset: number): Buffer {
  return offsetDecisionBatch(controlTypeLogStart, offset);
}

/** The batch the leader proposes to raise every replica's tombstone horizon to `offset`. */
export function tombstoneHorizonBatch(offset: number): Buffer {
  return offsetDecisionBatch(controlTypeTombstoneHorizon, offset);
}

function controlTypeOf(batch: Buffer): { type: number; value: Buffer | null } | undefined {
  const record = decodeBatch(batch).records[0];
  const key = record?.key;
  if (!record || !key || key.length !== 4) return undefined;
  return { type: key.readInt16BE(2), value: record.value };
}

/** The offset decision (log start, tombstone horizon) a committed normal entry carries, if any. */
export function offsetDecisionOf(data: Uint8Array): { type: number; offset: number } | undefined {
  const batch = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!readBatchHeader(batch).isControl) return undefined;
  const c = controlTypeOf(batch);
  const decides = c?.type === controlTypeLogStart || c?.type === controlTypeTombstoneHorizon;
  return decides && c.value?.length === 8 ? { type: c.type, offset: Number(c.value.readBigUInt64BE(0)) } : undefined;
}

/** The new log start a committed entry decides, if it is a log-start record. */
export function logStartOf(data: Uint8Array): number | undefined {
  const d = offsetDecisionOf(data);
  return d?.type === controlTypeLogStart ? d.offset : undefined;
}

/**
 * The entry type and data a stored batch stands for. `batch` is one whole batch as read from the
 * log; normal batches are returned as they are (no copy), control batches are decoded (rare).
 */
export function entryPayloadOf(batch: Buffer, header: BatchHeader): { type: EntryType; data: Uint8Array } {
  if (!header.isControl) return { type: 'normal', data: batch };
  const c = controlTypeOf(batch);
  if (!c) throw new Error(`control batch at ${header.baseOffset} has no Ferry control record`);
  if (c.type === controlTypeRaftNoop) return { type: 'noop', data: new Uint8Array(0) };
  if (c.type === controlTypeRaftConf && c.value) return { type: 'conf', data: new Uint8Array(c.value) };
  // Ferry's own records that are ordinary Raft entries (proposed by the leader as data).
  if (c.type === controlTypeLogStart || c.type === controlTypeTombstoneHorizon) return { type: 'normal', data: batch };
  throw new Error(`control batch at ${header.baseOffset} has unknown control type ${c.type}`);
}
