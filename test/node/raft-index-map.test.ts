import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RaftIndexMap } from '../../node/raft-index-map.js';

interface ModelEntry { index: number; term: number; base: number; count: number }

type Op =
  | { kind: 'append'; termBump: number; count: number }
  | { kind: 'truncate'; back: number }
  | { kind: 'compact'; forward: number }
  | { kind: 'reset'; gap: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), termBump: fc.constantFrom(0, 0, 0, 1, 2), count: fc.integer({ min: 1, max: 500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), back: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), forward: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const), gap: fc.integer({ min: 1, max: 10 }) }) },
);

describe('RaftIndexMap', () => {
  it('agrees with a naive list model under appends, truncations, compactions and resets', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const map = new RaftIndexMap(1, 0);
      let model: ModelEntry[] = [];
      let first = 1;
      let end = 0;
      let prevTerm = 0;
      let term = 1;
      for (const o of ops) {
        if (o.kind === 'append') {
          term += o.termBump;
          const index = first + model.length;
          expect(map.append(index, term, o.count)).toBe(end);
          model.push({ index, term, base: end, count: o.count });
          end += o.count;
        } else if (o.kind === 'truncate' && model.length > 0) {
          const k = Math.max(0, model.length - 1 - o.back);
          expect(map.truncateFrom(model[k]!.index)).toBe(model[k]!.base);
          end = model[k]!.base;
          model = model.slice(0, k);
        } else if (o.kind === 'compact' && model.length > 0) {
          const k = Math.min(model.length - 1, o.forward);
          map.compactThrough(model[k]!.index);
          prevTerm = model[k]!.term;
          first = model[k]!.index + 1;
          model = model.slice(k + 1);
        } else if (o.kind === 'reset') {
          const index = first + model.length + o.gap;
          map.reset(index, term, end + o.gap * 3);
          prevTerm = term;
          first = index + 1;
          end += o.gap * 3;
          model = [];
        }
        expect(map.firstIndex).toBe(first);
        expect(map.lastIndex).toBe(first + model.length - 1);
        expect(map.endOffset).toBe(end);
        expect(map.term(first - 1)).toBe(prevTerm);
        expect(map.term(first + model.length)).toBeUndefined();
        for (const e of model) {
          expect(map.baseOffset(e.index)).toBe(e.base);
          expect(map.term(e.index)).toBe(e.term);
          expect(map.endOffsetOf(e.index)).toBe(e.base + e.count);
          expect(map.indexForOffset(e.base + e.count - 1)).toBe(e.index);
        }
        expect(map.indexForOffset(end)).toBeUndefined();
      }
    }), { numRuns: 300 });
  });

  it('refuses impossible states', () => {
    const map = new RaftIndexMap(1, 0);
    map.append(1, 2, 10);
    expect(() => map.append(3, 2, 1)).toThrow(/append of index 3 after 1/);
    expect(() => map.append(2, 1, 1)).toThrow(/term 1 below previous/);
    expect(() => map.append(2, 2, 0)).toThrow(/with 0 records/);
    expect(() => map.baseOffset(5)).toThrow(/outside \[1, 1\]/);
    expect(() => new RaftIndexMap(0, 0)).toThrow(/index must be >= 1/);
  });
});
