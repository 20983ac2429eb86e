// Sparse offset index of one segment, Kafka's `.index`: fixed 8-byte entries
// (relative offset uint32, file position uint32), both strictly increasing. An entry names the
// *base offset* of a batch and where that batch starts, so a lookup lands on a batch boundary.
import { assert } from './errors.js';
import { IndexEntries } from './index-entries.js';

export const offsetIndexEntryBytes = 8;

export interface IndexPosition {
  readonly offset: number;
  readonly position: number;
}

export class OffsetIndex {
  readonly entries = new IndexEntries(offsetIndexEntryBytes);

  constructor(readonly baseOffset: number) {}

  get count(): number {
    return this.entries.count;
  }

  offsetAt(i: number): number {
    return this.baseOffset + this.entries.buf.readUInt32BE(i * offsetIndexEntryBytes);
  }

  positionAt(i: number): number {
    return this.entries.buf.readUInt32BE(i * offsetIndexEntryBytes + 4);
  }

  append(offset: number, position: number): void {
    const n = this.count;
    assert(
      n === 0 || (offset > this.offsetAt(n - 1) && position > this.positionAt(n - 1)),
      `offset index entries must increase (${offset}@${position})`,
    );
    const pos = this.entries.push();
    this.entries.buf.writeUInt32BE(offset - this.baseOffset, pos);
    this.entries.buf.writeUInt32BE(position, pos + 4);
  }

  /** The last indexed batch at or before `offset` (the segment start if none). */
  lookup(offset: number): IndexPosition {
    const i = this.entries.floor(offset, (k) => this.offsetAt(k));
    return i < 0 ? { offset: this.baseOffset, position: 0 } : { offset: this.offsetAt(i), position: this.positionAt(i) };
  }

  /** The first entry whose position is after `position`, if any. */
  entryAfterPosition(position: number): IndexPosition | null {
    const i = this.entries.floor(position, (k) => this.positionAt(k)) + 1;
    return i < this.count ? { offset: this.offsetAt(i), position: this.positionAt(i) } : null;
  }

  last(): IndexPosition {
    const n = this.count;
    return n === 0 ? { offset: this.baseOffset, position: 0 } : { offset: this.offsetAt(n - 1), position: this.positionAt(n - 1) };
  }

  /** Drops entries for offsets >= `offset`. */
  truncateFrom(offset: number): void {
    this.entries.truncate(this.entries.floor(offset - 1, (k) => this.offsetAt(k)) + 1);
  }

  /** True if the entries are strictly increasing and inside the segment's bytes and offsets. */
  sane(sizeBytes: number): boolean {
    for (let i = 0; i < this.count; i++) {
      const pos = this.positionAt(i);
      if (pos >= sizeBytes || pos === 0) return false;
      if (i > 0 && (this.offsetAt(i) <= this.offsetAt(i - 1) || pos <= this.positionAt(i - 1))) return false;
    }
    return true;
  }
}
