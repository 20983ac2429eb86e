/** The data records (offset, value) in whole fetched batches; control batches are skipped. */
import { decodeBatch, readBatchHeader } from '../client/index.js';

export function dataRecordsOf(records: Buffer, fromOffset = 0): Array<{ offset: number; value: string }> {
  const out: Array<{ offset: number; value: string }> = [];
  for (let pos = 0; pos < records.length;) {
    const h = readBatchHeader(records, pos);
    if (!h.isControl) {
      for (const rec of decodeBatch(records.subarray(pos, pos + h.sizeBytes)).records) {
        if (rec.offset >= fromOffset) out.push({ offset: rec.offset, value: rec.value?.toString() ?? '' });
      }
    }
    pos += h.sizeBytes;
  }
  return out;
}

/** The offset after the last batch in `records` (`fallback` when there is none). */
export function nextFetchOffset(records: Buffer, fallback: number): number {
  let next = fallback;
  for (let pos = 0; pos < records.length;) {
    const h = readBatchHeader(records, pos);
    next = h.lastOffset + 1;
    pos += h.sizeBytes;
  }
  return next;
}
