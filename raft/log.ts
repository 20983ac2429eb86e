// The core's view of its log: the durable part (Storage) plus an unstable tail not yet handed to
// the host for persistence (or handed, but not yet acknowledged by advance()).
import { assert } from './assert.js';
import { limitBytes, type Storage } from './storage.js';
import { asIndex, asTerm, entryBytes, type Entry, type Index, type Snapshot, type Term } from './types.js';

export class RaftLog {
  /** Index of unstable[0]; everything below lives in storage (or in unstableSnapshot). */
  private unstableOffset: Index;
  private unstable: Entry[] = [];
  unstableSnapshot: Snapshot | undefined = undefined;
  /** Highest index known to be committed. */
  committed: Index;
  /** Highest index the host has applied (acknowledged through advance()). */
  applied: Index;
  /** Highest committed index handed out in a Ready (applied ≤ applying ≤ committed). */
  applying: Index;

  constructor(readonly storage: Storage) {
    this.unstableOffset = asIndex(storage.lastIndex() + 1);
    this.committed = asIndex(storage.firstIndex() - 1);
    this.applied = this.committed;
    this.applying = this.committed;
  }

  firstIndex(): Index {
    if (this.unstableSnapshot !== undefined) return asIndex(this.unstableSnapshot.meta.index + 1);
    return this.storage.firstIndex();
  }

  lastIndex(): Index {
    if (this.unstable.length > 0) return asIndex(this.unstableOffset + this.unstable.length - 1);
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.meta.index;
    return this.storage.lastIndex();
  }

  /** Term of entry i, or undefined when compacted away or beyond the end. term(0) is 0. */
  term(i: Index): Term | undefined {
    if (i === 0) return asTerm(0);
    if (i >= this.unstableOffset) {
      const e = this.unstable[i - this.unstableOffset];
      return e === undefined ? undefined : e.term;
    }
    if (this.unstableSnapshot !== undefined) {
      return i === this.unstableSnapshot.meta.index ? this.unstableSnapshot.meta.term : undefined;
    }
    return this.storage.term(i);
  }

  lastTerm(): Term {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, `no term for the last index ${this.lastIndex()}`);
    return t;
  }

  matchTerm(i: Index, t: Term): boolean {
    return this.term(i) === t;
  }

  /** §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Index of the first entry that is new or conflicts by term; 0 when all are already held. */
  findConflict(entries: readonly Entry[]): Index {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return asIndex(0);
  }

  /**
   * Fast backtracking: the largest index ≤ index whose term is ≤ term. Every entry between it and
   * index has a larger term, so it cannot match a leader whose entry there has term `term`.
   */
  findConflictByTerm(index: Index, term: Term): { index: Index; term: Term } {
    let i = Math.min(index, this.lastIndex());
    while (i > 0) {
      const t = this.term(asIndex(i));
      if (t === undefined) return { index: asIndex(i), term: asTerm(0) };
      if (t <= term) return { index: asIndex(i), term: t };
      i -= 1;
    }
    return { index: asIndex(0), term: asTerm(0) };
  }

  /** Appends to the unstable tail, truncating whatever conflicting suffix it replaces. */
  append(entries: readonly Entry[]): Index {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0]!.index;
    assert(after > this.committed, `append at ${after} would overwrite the committed index ${this.committed}`);
    assert(after <= this.lastIndex() + 1, `append at ${after} leaves a gap after ${this.lastIndex()}`);
    const end = this.unstableOffset + this.unstable.length;
    if (after === end) {
      for (const e of entries) this.unstable.push(e);
    } else if (after <= this.unstableOffset) {
      // Replaces (part of) the stable log; storage keeps its stale suffix until the host rewrites it.
      this.unstableOffset = after;
      this.unstable = entries.slice();
    } else {
      this.unstable = this.unstable.slice(0, after - this.unstableOffset).concat(entries);
    }
    return this.lastIndex();
  }

  /** Entries [lo, hi) with at most maxBytes of data (at least one); undefined if lo was compacted. */
  slice(lo: Index, hi: Index, maxBytes: number): readonly Entry[] | undefined {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) return undefined;
    assert(hi <= this.lastIndex() + 1, `slice [${lo}, ${hi}) beyond the last index ${this.lastIndex()}`);
    let stable: readonly Entry[] = [];
    if (lo < this.unstableOffset) {
      const got = this.storage.entries(lo, asIndex(Math.min(hi, this.unstableOffset)), maxBytes);
      if (got === undefined) return undefined;
      stable = got;
      if (stable.length < Math.min(hi, this.unstableOffset) - lo) return stable; // byte bound hit
    }
    if (hi <= this.unstableOffset) return stable;
    const from = Math.max(lo, this.unstableOffset) - this.unstableOffset;
    const tail = this.unstable.slice(from, hi - this.unstableOffset);
    if (stable.length === 0) return limitBytes(tail, maxBytes);
    let budget = maxBytes;
    for (const e of stable) budget -= entryBytes(e);
    const out = stable.slice();
    for (const e of tail) {
      budget -= entryBytes(e);
      if (budget < 0) break;
      out.push(e);
    }
    return out;
  }

  /** The last index the host has persisted (the unstable tail and snapshot excluded). */
  persistedLastIndex(): Index {
    if (this.unstableSnapshot !== undefined) return asIndex(this.unstableSnapshot.meta.index - 1);
    return asIndex(Math.min(this.unstableOffset - 1, this.storage.lastIndex()));
  }

  unstableEntries(): readonly Entry[] {
    return this.unstable;
  }

  /** The host persisted entries through (index, term): drop them from the unstable tail. */
  stableTo(index: Index, term: Term): void {
    if (index < this.unstableOffset) return;
    const e = this.unstable[index - this.unstableOffset];
    if (e === undefined || e.term !== term) return; // truncated meanwhile: those entries come again
    this.unstable = this.unstable.slice(index + 1 - this.unstableOffset);
    this.unstableOffset = asIndex(index + 1);
  }

  stableSnapTo(index: Index): void {
    if (this.unstableSnapshot?.meta.index === index) this.unstableSnapshot = undefined;
  }

  /** A follower installs a snapshot: the whole log is replaced by it. */
  restore(snapshot: Snapshot): void {
    const idx = snapshot.meta.index;
    assert(idx > this.committed, `restore at ${idx} not beyond commit ${this.committed}`);
    this.committed = idx;
    this.unstableSnapshot = snapshot;
    this.unstable = [];
    this.unstableOffset = asIndex(idx + 1);
    this.applying = asIndex(Math.max(this.applying, idx));
  }

  commitTo(index: Index): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), `commit ${index} beyond the last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  appliedTo(index: Index): void {
    assert(index <= this.committed && index >= this.applied, `applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
  }

  hasNextCommittedEnts(): boolean {
    return this.unstableSnapshot === undefined && this.applying < this.committed;
  }

  /** The next batch of committed entries to apply, bounded by maxBytes (at least one). */
  nextCommittedEnts(maxBytes: number): readonly Entry[] {
    if (!this.hasNextCommittedEnts()) return [];
    const got = this.slice(asIndex(this.applying + 1), asIndex(this.committed + 1), maxBytes);
    assert(got !== undefined, `committed entries after ${this.applying} were compacted before being applied`);
    return got;
  }
}
