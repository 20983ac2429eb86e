/**
 * The records (offset, value) in whole fetched batches. A control batch (Raft no-op, membership
 * change, log-start record) becomes one marker value per offset, so the checker also sees two
 * replicas disagreeing on data versus control at an offset.
 */
import { decodeBatch, readBatchHeader } from '../client/index.js';

/** Values standing for control records; no producer ever writes one. */
export const controlMarkerPrefix = '<control>';

export function dataRecordsOf(records: Buffer, fromOffset = 0): Array<{ offset: number; value: string }> {
  const out: Array<{ offset: number; value: string }> = [];
  for (let pos = 0; pos < records.length;) {
    const h = readBatchHeader(records, pos);
    if (h.isControl) {
      for (let o = Math.max(h.baseOffset, fromOffset); o <= h.lastOffset; o += 1) out.push({ offset: o, value: `${controlMarkerPrefix}@${h.partitionLeaderEpoch}` });
    } else {
      for (const rec of decodeBatch(records.subarray(pos, pos + h.sizeBytes)).records) {
        if (rec.offset >= fromOffset) out.push({ offset: rec.offset, value: rec.value?.toString() ?? '' });
      }
    }
    pos += h.sizeBytes;
  }
  return out;
}
