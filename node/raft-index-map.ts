/**
 * Where each Raft entry of a partition sits in the Kafka offset space. One Raft entry is one
 * record batch, so entry i covers offsets [baseOffset(i), baseOffset(i+1)); Raft indices are dense
 * and offsets are not, hence this map. It is rebuilt at open by a header-only scan of the log and
 * kept as two growable typed arrays (16 bytes per batch, no object per entry).
 *
 * It holds offsets and terms only, never byte positions or sizes: the log cleaner rewrites batches
 * in place (fewer records, same base offset, lastOffsetDelta and epoch), which would make anything
 * byte-based stale, while every entry keeps its offsets.
 */

function grow(a: Float64Array, need: number): Float64Array {
  if (need <= a.length) return a;
  const b = new Float64Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

export class RaftIndexMap {
  private baseOffsets: Float64Array = new Float64Array(1024);
  private terms: Float64Array = new Float64Array(1024);
  private count = 0;
  /** Index of the first entry held; entries before it are compacted away. */
  private first: number;
  /** Offset after the last entry's last record (the next offset to assign). */
  private end: number;
  /** Term of the entry just before `first` (the snapshot term), for Raft's term(first - 1). */
  private prevTerm: number;

  constructor(firstIndex: number, startOffset: number, prevTerm = 0) {
    if (!(Number.isInteger(firstIndex) && firstIndex >= 1 && Number.isInteger(startOffset) && startOffset >= 0)) {
      throw new Error(`RaftIndexMap(${firstIndex}, ${startOffset}): index must be >= 1 and offset >= 0`);
    }
    this.first = firstIndex;
    this.end = startOffset;
    this.prevTerm = prevTerm;
  }

  get firstIndex(): number {
    return this.first;
  }

  /** Index of the last entry; firstIndex - 1 when empty. */
  get lastIndex(): number {
    return this.first + this.count - 1;
  }

  get endOffset(): number {
    return this.end;
  }

  /** Records the next entry: it starts at the current end offset and holds `recordCount` offsets. */
  append(index: number, term: number, recordCount: number): number {
    if (index !== this.lastIndex + 1) throw new Error(`append of index ${index} after ${this.lastIndex}`);
    if (!(Number.isInteger(recordCount) && recordCount >= 1)) throw new Error(`entry ${index} with ${recordCount} records`);
    if (this.count > 0 && term < this.terms[this.count - 1]!) throw new Error(`entry ${index} term ${term} below previous`);
    this.baseOffsets = grow(this.baseOffsets, this.count + 1);
    this.terms = grow(this.terms, this.count + 1);
    const base = this.end;
    this.baseOffsets[this.count] = base;
    this.terms[this.count] = term;
    this.count += 1;
    this.end = base + recordCount;
    return base;
  }

  private slot(index: number): number {
    const k = index - this.first;
    if (!(k >= 0 && k < this.count)) throw new Error(`index ${index} outside [${this.first}, ${this.lastIndex}]`);
    return k;
  }

  has(index: number): boolean {
    return index >= this.first && index <= this.lastIndex;
  }

  baseOffset(index: number): number {
    return this.baseOffsets[this.slot(index)]!;
  }

  /** Offset after entry `index`: the high watermark once `index` is committed. */
  endOffsetOf(index: number): number {
    if (index === this.first - 1) return this.count > 0 ? this.baseOffsets[0]! : this.end;
    const k = this.slot(index);
    return k + 1 < this.count ? this.baseOffsets[k + 1]! : this.end;
  }

  /** Term of entry `index`, or the snapshot term for firstIndex - 1; undefined outside. */
  term(index: number): number | undefined {
    if (index === this.first - 1) return this.prevTerm;
    if (!this.has(index)) return undefined;
    return this.terms[index - this.first]!;
  }

  /** The entry holding `offset`, or undefined when the offset is outside the held entries. */
  indexForOffset(offset: number): number | undefined {
    if (this.count === 0 || offset < this.baseOffsets[0]! || offset >= this.end) return undefined;
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.baseOffsets[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return this.first + lo;
  }

  /** Forgets entries from `index` on (Raft cut a conflicting tail); returns their first offset. */
  truncateFrom(index: number): number {
    if (index > this.lastIndex) return this.end;
    const k = this.slot(index);
    this.end = this.baseOffsets[k]!;
    this.count = k;
    return this.end;
  }

  /** Forgets entries up to and including `index` (retention / snapshot); `index` becomes the prev. */
  compactThrough(index: number): void {
    if (index < this.first) return;
    const k = this.slot(index);
    this.prevTerm = this.terms[k]!;
    this.baseOffsets.copyWithin(0, k + 1, this.count);
    this.terms.copyWithin(0, k + 1, this.count);
    this.count -= k + 1;
    this.first = index + 1;
  }

  /** Drops everything and restarts after a snapshot at (index, term) whose log resumes at offset. */
  reset(index: number, term: number, offset: number): void {
    this.count = 0;
    this.first = index + 1;
    this.prevTerm = term;
    this.end = offset;
  }
}
