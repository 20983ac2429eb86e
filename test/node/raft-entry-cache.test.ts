import { describe, expect, it } from 'vitest';
import { EntryCacheBudget, RaftEntryCache } from '../../node/raft-entry-cache.js';
import { asIndex, asTerm, type Entry } from '../../raft/types.js';

const e = (index: number, bytes = 100): Entry => ({ index: asIndex(index), term: asTerm(1), type: 'normal', data: new Uint8Array(bytes) });
const indexes = (es: readonly Entry[] | undefined) => es?.map((x) => x.index);

describe('RaftEntryCache', () => {
  it('serves a contiguous run, bounded by maxBytes but never empty, and misses outside it', () => {
    const c = new RaftEntryCache(new EntryCacheBudget(1 << 20), 1 << 20);
    for (let i = 5; i <= 9; i += 1) c.append(e(i));
    expect(indexes(c.slice(5, 10, 1 << 20))).toEqual([5, 6, 7, 8, 9]);
    expect(indexes(c.slice(6, 9, 250))).toEqual([6, 7]);
    expect(indexes(c.slice(7, 9, 1))).toEqual([7]);
    expect(c.slice(4, 6, 1 << 20)).toBeUndefined();
    expect(c.slice(9, 11, 1 << 20)).toBeUndefined();
    c.append(e(12)); // not contiguous: the run restarts
    expect(c.slice(9, 10, 1 << 20)).toBeUndefined();
    expect(indexes(c.slice(12, 13, 1 << 20))).toEqual([12]);
  });

  it('evicts oldest first under its own limit and the shared budget, and gives bytes back', () => {
    const budget = new EntryCacheBudget(3 * 164);
    const a = new RaftEntryCache(budget, 2 * 164);
    const b = new RaftEntryCache(budget, 2 * 164);
    for (let i = 1; i <= 3; i += 1) a.append(e(i));
    expect(indexes(a.slice(2, 4, 1 << 20))).toEqual([2, 3]); // its own limit: two entries
    b.append(e(1));
    b.append(e(2)); // the budget is full: b evicts its own oldest to make room
    expect([a.size, b.size, budget.used]).toEqual([2, 1, 3 * 164]);
    a.truncateFrom(3);
    a.dropThrough(2);
    expect([a.size, budget.used]).toEqual([0, 164]);
    b.append(e(3, 10_000)); // larger than its limit: not cached, and the run empties
    expect([b.size, budget.used]).toEqual([0, 0]);
  });

  it('refuses a bad budget', () => {
    expect(() => new EntryCacheBudget(-1)).toThrow(/non-negative integer/);
  });
});
