// In-place repair of a damaged range with good bytes from a healthy replica. Raft replicas store
// identical batch bytes (the leader stamps offset and epoch before replicating), so the good copy
// of a damaged span has exactly the same length and can overwrite it without moving anything.
import { LogError, type CorruptRangeDetails } from './errors.js';
import { batchSizeAt, validateBatch } from './record-batch.js';
import type { Segment } from './segment.js';

export function repairDamagedRange(seg: Segment, range: CorruptRangeDetails, bytes: Buffer, maxBatchBytes: number): void {
  const span = seg.damagedSpan(range);
  const mismatch = (what: string): LogError =>
    new LogError('REPAIR_MISMATCH', `repair of offsets ${range.startOffset}..${range.endOffset}: ${what}`, {
      startOffset: range.startOffset,
      endOffset: range.endOffset,
    });
  if (bytes.length !== span.end - span.start) {
    throw mismatch(`${bytes.length} bytes given, the damaged span is ${span.end - span.start}; truncate and re-fetch instead`);
  }
  let pos = 0;
  let expected = range.startOffset;
  while (pos < bytes.length) {
    if (bytes.length - pos < 12) throw mismatch(`trailing ${bytes.length - pos} bytes are not a batch`);
    const size = batchSizeAt(bytes, pos);
    if (size < 12 || pos + size > bytes.length) throw mismatch(`batch at byte ${pos} overruns the bytes given`);
    let header;
    try {
      header = validateBatch(bytes.subarray(pos, pos + size), maxBatchBytes, { allowEmpty: true });
    } catch (err) {
      throw mismatch(`batch at byte ${pos} is invalid: ${(err as Error).message}`);
    }
    if (header.baseOffset !== expected) throw mismatch(`batch at byte ${pos} starts at ${header.baseOffset}, expected ${expected}`);
    expected = header.lastOffset + 1;
    pos += size;
  }
  if (expected !== range.endOffset + 1) throw mismatch(`bytes end at offset ${expected - 1}, range ends at ${range.endOffset}`);
  seg.overwrite(span.start, bytes);
}
