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

  it('evicts its own oldest under its own limit, empties the least recently appended group when the node budget is short, and gives bytes back', () => {
    const budget = new EntryCacheBudget(4 * 164);
    const a = new RaftEntryCache(budget, 2 * 164);
    const b = new RaftEntryCache(budget, 2 * 164);
    const c = new RaftEntryCache(budget, 2 * 164);
    for (let i = 1; i <= 3; i += 1) a.append(e(i));
    expect(indexes(a.slice(2, 4, 1 << 20))).toEqual([2, 3]); // its own limit: two entries
    b.append(e(1));
    b.append(e(2));
    expect(budget.used).toBe(4 * 164);
    c.append(e(7)); // the budget is full: a, which appended least recently, is emptied
    expect([a.size, b.size, c.size, budget.used]).toEqual([0, 2, 1, 3 * 164]);
    b.truncateFrom(2);
    c.dropThrough(7);
    expect([b.size, c.size, budget.used]).toEqual([1, 0, 164]);
    b.append(e(2, 10_000)); // larger than its limit: not cached, and the run empties
    expect([b.size, budget.used]).toEqual([0, 0]);
  });

  it('copies an entry whose bytes are a view into a much larger buffer, so the budget counts what is held', () => {
    const c = new RaftEntryCache(new EntryCacheBudget(1 << 20), 1 << 20);
    const frame = Buffer.alloc(64 * 1024);
    const view: Entry = { index: asIndex(1), term: asTerm(1), type: 'normal', data: frame.subarray(100, 200) };
    c.append(view);
    c.append(e(2, 100)); // its own buffer: kept as is
    const [first, second] = c.slice(1, 3, 1 << 20)!;
    expect(first!.data.buffer.byteLength).toBe(100);
    expect(Buffer.from(first!.data).equals(frame.subarray(100, 200))).toBe(true);
    expect(second!.data.buffer.byteLength).toBe(100);
  });

  it('refuses a bad budget', () => {
    expect(() => new EntryCacheBudget(-1)).toThrow(/non-negative integer/);
  });
});
