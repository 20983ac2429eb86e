// A growable in-memory array of fixed-size index entries, mirrored to a file that is written
// whole (indexes are small: one entry per indexIntervalBytes of log) when a segment is sealed.
import fs from 'node:fs';
import { assert } from './errors.js';

export class IndexEntries {
  buf: Buffer;
  count = 0;

  constructor(readonly entryBytes: number) {
    this.buf = Buffer.alloc(entryBytes * 64);
  }

  /** Reserves a new entry and returns its byte position in `buf`. */
  push(): number {
    const pos = this.count * this.entryBytes;
    if (pos + this.entryBytes > this.buf.length) {
      const grown = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(grown, 0, 0, pos);
      this.buf = grown;
    }
    this.count += 1;
    return pos;
  }

  truncate(count: number): void {
    assert(count >= 0 && count <= this.count, `index truncate to ${count} of ${this.count}`);
    this.count = count;
  }

  /** Largest i in [0, count) with key(i) <= target, or -1. Keys must be non-decreasing. */
  floor(target: number, key: (i: number) => number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (key(mid) <= target) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Loads entries from a file; false if missing or not a whole number of entries. */
  load(file: string): boolean {
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    if (data.length % this.entryBytes !== 0) return false;
    this.buf = Buffer.alloc(Math.max(data.length, this.entryBytes * 64));
    data.copy(this.buf);
    this.count = data.length / this.entryBytes;
    return true;
  }

  /** Writes the whole index to `file` (replacing it) and fsyncs it. */
  writeSync(file: string): void {
    const fd = fs.openSync(file, 'w');
    try {
      fs.writeSync(fd, this.buf, 0, this.count * this.entryBytes, 0);
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}
