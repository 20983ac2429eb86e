// Sparse time index of one segment, Kafka's `.timeindex`: fixed 12-byte entries
// (timestamp int64, relative offset uint32). Entry (T, O) means: every record at an offset
// below O has a timestamp <= T. T strictly increases across entries, so a lookup for the first
// record with timestamp >= t may start scanning at the last entry whose T < t.
import { assert } from './errors.js';
import { IndexEntries } from './index-entries.js';
import { readInt64, writeInt64 } from './record-batch.js';

export const timeIndexEntryBytes = 12;

export class TimeIndex {
  readonly entries = new IndexEntries(timeIndexEntryBytes);

  constructor(readonly baseOffset: number) {}

  get count(): number {
    return this.entries.count;
  }

  timestampAt(i: number): number {
    return readInt64(this.entries.buf, i * timeIndexEntryBytes);
  }

  offsetAt(i: number): number {
    return this.baseOffset + this.entries.buf.readUInt32BE(i * timeIndexEntryBytes + 8);
  }

  /** Max timestamp of everything before the last entry's offset (-Infinity if none). */
  lastTimestamp(): number {
    return this.count === 0 ? -Infinity : this.timestampAt(this.count - 1);
  }

  /** Records that all offsets below `offset` have timestamps <= `maxTimestampBefore`. */
  maybeAppend(maxTimestampBefore: number, offset: number): void {
    const n = this.count;
    if (maxTimestampBefore === -Infinity || maxTimestampBefore <= this.lastTimestamp()) return;
    assert(n === 0 || offset > this.offsetAt(n - 1), `time index offsets must increase (${offset})`);
    const pos = this.entries.push();
    writeInt64(this.entries.buf, pos, maxTimestampBefore);
    this.entries.buf.writeUInt32BE(offset - this.baseOffset, pos + 8);
  }

  /** Offset to start scanning from for the first record with timestamp >= `timestamp`. */
  lookup(timestamp: number): number {
    const i = this.entries.floor(timestamp - 1, (k) => this.timestampAt(k));
    return i < 0 ? this.baseOffset : this.offsetAt(i);
  }

  /** Drops entries whose offset is >= `offset` (they would describe offsets that are gone). */
  truncateFrom(offset: number): void {
    this.entries.truncate(this.entries.floor(offset - 1, (k) => this.offsetAt(k)) + 1);
  }

  sane(nextOffset: number): boolean {
    for (let i = 0; i < this.count; i++) {
      const o = this.offsetAt(i);
      if (o <= this.baseOffset || o >= nextOffset) return false;
      if (i > 0 && (o <= this.offsetAt(i - 1) || this.timestampAt(i) <= this.timestampAt(i - 1))) return false;
    }
    return true;
  }
}
