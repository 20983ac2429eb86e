// The narrow storage interface the core reads its durable log through (etcd's storage.go in spirit)
// and an in-memory implementation for tests and the simulator. The node backs it with log/
// segments (entries) and LevelDB (hard state, conf state, snapshot metadata).
import { assert } from './assert.js';
import {
  asIndex, asTerm, emptyConfState, emptyHardState, entryBytes,
  type ConfState, type Entry, type HardState, type Index, type Snapshot, type Term,
} from './types.js';

export interface InitialState {
  readonly hardState: HardState;
  /** Membership in effect at hardState.commit (the host persists it with the hard state). */
  readonly confState: ConfState;
}

export interface Storage {
  initialState(): InitialState;
  /**
   * Entries [lo, hi), at most maxBytes of data but always at least one entry when lo < hi.
   * Returns undefined when lo < firstIndex() (compacted away). hi ≤ lastIndex() + 1.
   */
  entries(lo: Index, hi: Index, maxBytes: number): readonly Entry[] | undefined;
  /** Term of entry i, for firstIndex()-1 ≤ i ≤ lastIndex(); undefined outside that range. */
  term(i: Index): Term | undefined;
  /** Index of the first entry still held: snapshot index + 1. */
  firstIndex(): Index;
  /** Index of the last entry (the snapshot index when the log is empty). */
  lastIndex(): Index;
  /** The most recent snapshot (its meta says where the log starts). */
  snapshot(): Snapshot;
}

const emptySnapshot: Snapshot = {
  meta: { index: asIndex(0), term: asTerm(0), confState: emptyConfState },
  data: new Uint8Array(0),
};

/** Storage held in memory. Entries are kept by reference: data is never copied. */
export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState;
  private confState: ConfState = emptyConfState;
  private snap: Snapshot = emptySnapshot;
  /** ents[k].index === snap.meta.index + 1 + k */
  private ents: Entry[] = [];

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  setConfState(cs: ConfState): void {
    this.confState = cs;
  }

  firstIndex(): Index {
    return asIndex(this.snap.meta.index + 1);
  }

  lastIndex(): Index {
    return asIndex(this.snap.meta.index + this.ents.length);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  term(i: Index): Term | undefined {
    const offset = this.snap.meta.index;
    if (i === offset) return this.snap.meta.term;
    if (i < offset || i > this.lastIndex()) return undefined;
    return this.ents[i - offset - 1]!.term;
  }

  entries(lo: Index, hi: Index, maxBytes: number): readonly Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    assert(lo <= hi && hi <= this.lastIndex() + 1, `entries [${lo}, ${hi}) out of bounds (last ${this.lastIndex()})`);
    const offset = this.snap.meta.index + 1;
    return limitBytes(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  /** Appends, replacing any suffix from entries[0].index on (a follower resolving a conflict). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    assert(first > this.snap.meta.index, `append at ${first} at or below the snapshot ${this.snap.meta.index}`);
    assert(first <= this.lastIndex() + 1, `append at ${first} leaves a gap after ${this.lastIndex()}`);
    this.ents.length = first - this.snap.meta.index - 1;
    for (const e of entries) this.ents.push(e);
  }

  /** Replaces the whole log with a snapshot (a follower installing one). */
  applySnapshot(snapshot: Snapshot): void {
    this.snap = snapshot;
    this.ents = [];
    this.confState = snapshot.meta.confState;
  }

  /**
   * The log before and including index is gone (retention, or the host took a snapshot there).
   * confState must be the membership as of index. Entries after index are kept.
   */
  compact(index: Index, confState: ConfState, data: Uint8Array = new Uint8Array(0)): void {
    if (index <= this.snap.meta.index) return;
    assert(index <= this.lastIndex(), `compact(${index}) beyond the last index ${this.lastIndex()}`);
    const term = this.term(index);
    assert(term !== undefined, `compact(${index}): no term`);
    this.ents = this.ents.slice(index - this.snap.meta.index);
    this.snap = { meta: { index, term, confState }, data };
  }
}

/** The longest prefix within maxBytes, but never empty when entries is not. */
export function limitBytes(entries: readonly Entry[], maxBytes: number): readonly Entry[] {
  if (entries.length === 0) return entries;
  let size = entryBytes(entries[0]!);
  let n = 1;
  while (n < entries.length) {
    size += entryBytes(entries[n]!);
    if (size > maxBytes) break;
    n += 1;
  }
  return n === entries.length ? entries : entries.slice(0, n);
}
