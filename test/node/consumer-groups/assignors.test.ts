import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeAssignment, type AssignmentMember, type TargetAssignment } from '../../../node/consumer-groups/assignors.js';

const counts: Record<string, number> = { a: 7, b: 4 };
const partitionsOf = (t: string): number => counts[t] ?? 0;
const members = (n: number, topics = ['a', 'b']): AssignmentMember[] => Array.from({ length: n }, (_, i) => ({ id: `m${i}`, topics }));

function load(target: TargetAssignment): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of target.values()) out.set(m, (out.get(m) ?? 0) + 1);
  return out;
}

describe('range assignor', () => {
  it('gives each member a contiguous range per topic, extras to the lowest ids', () => {
    const t = computeAssignment('range', { members: members(3), partitionsOf, owners: new Map() });
    expect([0, 1, 2, 3, 4, 5, 6].map((p) => t.get(`a/${p}`))).toEqual(['m0', 'm0', 'm0', 'm1', 'm1', 'm2', 'm2']);
    expect([0, 1, 2, 3].map((p) => t.get(`b/${p}`))).toEqual(['m0', 'm0', 'm1', 'm2']);
  });

  it('assigns a topic only among members subscribed to it', () => {
    const t = computeAssignment('range', { members: [{ id: 'x', topics: ['a'] }, { id: 'y', topics: ['b'] }], partitionsOf, owners: new Map() });
    expect([...t].filter(([k]) => k.startsWith('a/')).every(([, m]) => m === 'x')).toBe(true);
    expect([...t].filter(([k]) => k.startsWith('b/')).every(([, m]) => m === 'y')).toBe(true);
  });
});

describe('round-robin assignor', () => {
  it('deals partitions in (topic, partition) order across members', () => {
    const t = computeAssignment('round-robin', { members: members(3), partitionsOf, owners: new Map() });
    expect(['a/0', 'a/1', 'a/2', 'a/3', 'b/0', 'b/3'].map((k) => t.get(k))).toEqual(['m0', 'm1', 'm2', 'm0', 'm1', 'm1']);
    expect([...load(t).values()].sort()).toEqual([3, 4, 4]);
  });
});

describe('cooperative-sticky assignor', () => {
  it('is balanced within one partition for equal subscriptions, whatever the previous owners', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.nat(8), { minLength: 11, maxLength: 11 }), (n, prev) => {
      const keys = [...Array.from({ length: 7 }, (_, p) => `a/${p}`), ...Array.from({ length: 4 }, (_, p) => `b/${p}`)];
      const owners = new Map(keys.map((k, i) => [k, `m${prev[i]!}`])); // some owners are gone (m6-m8)
      const t = computeAssignment('cooperative-sticky', { members: members(n), partitionsOf, owners });
      expect(t.size).toBe(11);
      const loads = [...members(n)].map((m) => load(t).get(m.id) ?? 0);
      expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1);
    }));
  });

  it('moves only the partitions the new member needs when one joins', () => {
    const before = computeAssignment('cooperative-sticky', { members: members(3), partitionsOf, owners: new Map() });
    const after = computeAssignment('cooperative-sticky', { members: members(4), partitionsOf, owners: before });
    const moved = [...after].filter(([k, m]) => before.get(k) !== m);
    expect(moved.every(([, m]) => m === 'm3')).toBe(true);
    expect(moved).toHaveLength(load(after).get('m3')!);
    expect(load(after).get('m3')).toBe(2); // 11 partitions over 4: 3,3,3,2
  });

  it('moves only the leaver\'s partitions when one leaves', () => {
    const before = computeAssignment('cooperative-sticky', { members: members(4), partitionsOf, owners: new Map() });
    const after = computeAssignment('cooperative-sticky', { members: members(3), partitionsOf, owners: before });
    for (const [k, m] of before) if (m !== 'm3') expect(after.get(k), k).toBe(m);
    expect([...after.values()].includes('m3')).toBe(false);
  });

  it('is deterministic and stable: the same input gives the same target, and a stable group keeps it', () => {
    const first = computeAssignment('cooperative-sticky', { members: members(3), partitionsOf, owners: new Map() });
    const again = computeAssignment('cooperative-sticky', { members: [...members(3)].reverse(), partitionsOf, owners: new Map() });
    expect([...again].sort()).toEqual([...first].sort());
    expect([...computeAssignment('cooperative-sticky', { members: members(3), partitionsOf, owners: first })].sort()).toEqual([...first].sort());
  });

  it('keeps a partition with its owner only while the owner still subscribes to its topic', () => {
    const owners = new Map([['a/0', 'x'], ['b/0', 'x']]);
    const t = computeAssignment('cooperative-sticky', { members: [{ id: 'x', topics: ['a'] }, { id: 'y', topics: ['a', 'b'] }], partitionsOf, owners });
    expect(t.get('a/0')).toBe('x');
    expect(t.get('b/0')).toBe('y');
  });
});
