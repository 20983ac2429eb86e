import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  MemoryStorage, Xoshiro128, applyConfChange, asIndex, asNodeId, asTerm, decodeConfChange, encodeConfChange,
  validateConfChange, type Entry,
} from '../../raft/index.js';
import { Inflights } from '../../raft/inflights.js';
import { committedIndex, voteResult } from '../../raft/quorum.js';

const n = asNodeId;
const entry = (index: number, term: number, size: number): Entry =>
  ({ index: asIndex(index), term: asTerm(term), type: 'normal', data: new Uint8Array(size) });

describe('MemoryStorage', () => {
  it('entries(lo, hi, maxBytes) is half-open, byte-bounded, and returns at least one entry', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1, 10), entry(2, 1, 10), entry(3, 1, 10)]);
    expect(s.entries(asIndex(1), asIndex(4), 25)?.map((e) => e.index)).toEqual([1, 2]);
    expect(s.entries(asIndex(1), asIndex(4), 1)?.map((e) => e.index)).toEqual([1]);
    expect(s.entries(asIndex(2), asIndex(3), 100)?.map((e) => e.index)).toEqual([2]);
  });

  it('compaction moves the log start and keeps the term at the boundary', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1, 1), entry(2, 2, 1), entry(3, 2, 1)]);
    s.compact(asIndex(2), { voters: [n(1)], learners: [] });
    expect(s.firstIndex()).toBe(3);
    expect(s.term(asIndex(2))).toBe(2);
    expect(s.term(asIndex(1))).toBeUndefined();
    expect(s.entries(asIndex(1), asIndex(4), 100)).toBeUndefined();
  });

  it('does not copy entry data', () => {
    const s = new MemoryStorage();
    const e = entry(1, 1, 8);
    s.append([e]);
    expect(s.entries(asIndex(1), asIndex(2), 100)![0]!.data).toBe(e.data);
  });
});

describe('pure helpers', () => {
  it('inflights are bounded by messages and by bytes', () => {
    const f = new Inflights(3, 100);
    f.add(asIndex(1), 10);
    f.add(asIndex(2), 10);
    expect(f.full()).toBe(false);
    f.add(asIndex(3), 10);
    expect(f.full()).toBe(true);
    f.freeLE(asIndex(2));
    expect(f.size()).toBe(1);
    f.add(asIndex(4), 95);
    expect(f.full()).toBe(true); // 105 bytes ≥ 100
  });

  it('quorum: committed index is the majority-acknowledged one; votes resolve early', () => {
    const match = new Map([[1, 5], [2, 3], [3, 9]]);
    expect(committedIndex([n(1), n(2), n(3)], (id) => asIndex(match.get(id) ?? 0))).toBe(5);
    expect(voteResult([n(1), n(2), n(3)], new Map([[n(1), true], [n(2), true]]))).toBe('won');
    expect(voteResult([n(1), n(2), n(3)], new Map([[n(2), false], [n(3), false]]))).toBe('lost');
    expect(voteResult([n(1), n(2), n(3)], new Map([[n(1), true]]))).toBe('pending');
  });

  it('conf changes round-trip through entry bytes and validate', () => {
    const cc = { type: 'addLearner' as const, nodeId: n(70000) };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    const cs = applyConfChange({ voters: [n(1)], learners: [] }, cc);
    expect(cs).toEqual({ voters: [1], learners: [70000] });
    expect(validateConfChange(cs, { type: 'removeNode', nodeId: n(1) })).toMatch(/last voter/);
    expect(applyConfChange(cs, { type: 'addVoter', nodeId: n(70000) })).toEqual({ voters: [1, 70000], learners: [] });
  });

  it('the PRNG is seeded and deterministic', () => {
    const a = new Xoshiro128(99);
    const b = new Xoshiro128(99);
    const xs = Array.from({ length: 5 }, () => a.nextInt(1000));
    expect(Array.from({ length: 5 }, () => b.nextInt(1000))).toEqual(xs);
    expect(new Set(Array.from({ length: 100 }, () => a.nextInt(10))).size).toBe(10);
  });
});

describe('npm run sim', () => {
  const tsx = 'node_modules/.bin/tsx';
  it('rejects bad flags with a clear error and exit code 2', () => {
    let status = 0;
    let stderr = '';
    try {
      execFileSync(tsx, ['raft/sim/cli.ts', '--seeds', 'many'], { stdio: 'pipe' });
    } catch (err) {
      const e = err as { status: number; stderr: Buffer };
      status = e.status;
      stderr = e.stderr.toString();
    }
    expect(status).toBe(2);
    expect(stderr).toMatch(/--seeds needs a non-negative integer/);
  });

  it('runs seeds and ends with a JSON summary line', () => {
    const out = execFileSync(tsx, ['raft/sim/cli.ts', '--seeds', '5'], { encoding: 'utf8' }).trim().split('\n');
    const summary = JSON.parse(out[out.length - 1]!) as { seeds: number; violations: number };
    expect(summary).toMatchObject({ seeds: 5, violations: 0 });
  });
});
