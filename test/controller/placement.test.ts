import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placeReplicas, type PlacementBroker } from '../../controller/placement.js';

const brokersArb = fc.uniqueArray(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 9 })
  .chain((ids) => fc.tuple(fc.constant(ids), fc.array(fc.constantFrom('', 'a', 'b', 'c'), { minLength: ids.length, maxLength: ids.length })))
  .map(([ids, racks]): PlacementBroker[] => ids.map((nodeId, i) => ({ nodeId, rack: racks[i]! })));

describe('replica placement', () => {
  it('gives every partition rf distinct live brokers', () => {
    fc.assert(fc.property(brokersArb, fc.integer({ min: 1, max: 64 }), fc.nat(9), fc.nat(100), (brokers, partitions, rfSeed, start) => {
      const rf = 1 + (rfSeed % brokers.length);
      const result = placeReplicas(brokers, partitions, rf, start);
      if (!result.ok) throw new Error(result.problem);
      const live = new Set(brokers.map((b) => b.nodeId));
      expect(result.replicas).toHaveLength(partitions);
      for (const set of result.replicas) {
        expect(set).toHaveLength(rf);
        expect(new Set(set).size).toBe(rf);
        for (const id of set) expect(live.has(id)).toBe(true);
      }
    }));
  });

  it('spreads preferred leaders evenly: counts differ by at most one', () => {
    fc.assert(fc.property(brokersArb, fc.integer({ min: 1, max: 64 }), fc.nat(100), (brokers, partitions, start) => {
      const result = placeReplicas(brokers, partitions, 1, start);
      if (!result.ok) throw new Error(result.problem);
      const counts = new Map(brokers.map((b) => [b.nodeId, 0]));
      for (const [leader] of result.replicas) counts.set(leader!, counts.get(leader!)! + 1);
      const values = [...counts.values()];
      expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(1);
    }));
  });

  it('spreads all replicas evenly when partitions are a multiple of the broker count', () => {
    const brokers = [1, 2, 3, 4, 5].map((nodeId) => ({ nodeId, rack: '' }));
    const result = placeReplicas(brokers, 20, 3, 0);
    if (!result.ok) throw new Error(result.problem);
    const counts = new Map<number, number>();
    for (const set of result.replicas) for (const id of set) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.values()]).toEqual([12, 12, 12, 12, 12]);
  });

  it('puts replicas on different racks when there are enough racks', () => {
    const brokers = [
      { nodeId: 1, rack: 'a' }, { nodeId: 2, rack: 'a' }, { nodeId: 3, rack: 'b' },
      { nodeId: 4, rack: 'b' }, { nodeId: 5, rack: 'c' }, { nodeId: 6, rack: 'c' },
    ];
    const rackOf = new Map(brokers.map((b) => [b.nodeId, b.rack]));
    const result = placeReplicas(brokers, 12, 3, 0);
    if (!result.ok) throw new Error(result.problem);
    for (const set of result.replicas.slice(0, 3)) {
      expect(new Set(set.map((id) => rackOf.get(id))).size).toBe(3);
    }
  });

  it('is deterministic', () => {
    const brokers = [3, 1, 2].map((nodeId) => ({ nodeId, rack: '' }));
    expect(placeReplicas(brokers, 6, 2, 4)).toEqual(placeReplicas([...brokers].reverse(), 6, 2, 4));
  });

  it('refuses rf larger than the live brokers, and bad counts, with clear problems', () => {
    const brokers = [1, 2].map((nodeId) => ({ nodeId, rack: '' }));
    expect(placeReplicas(brokers, 3, 3, 0)).toEqual({
      ok: false, problem: 'replication factor 3 is larger than the 2 live broker(s); lower it or start more brokers',
    });
    expect(placeReplicas(brokers, 0, 1, 0)).toEqual({ ok: false, problem: 'partitions must be an integer >= 1, got 0' });
    expect(placeReplicas(brokers, 1, 0, 0)).toEqual({ ok: false, problem: 'replication factor must be an integer >= 1, got 0' });
  });
});
