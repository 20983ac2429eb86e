import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignorNames } from '../../../node/consumer-groups/assignors.js';
import { partitionKey } from '../../../node/consumer-groups/partition-ref.js';
import { GroupSim } from './group-sim.js';

type Action =
  | { t: 'join'; topics: string[] }
  | { t: 'leave' | 'crash'; i: number }
  | { t: 'pause'; i: number; ms: number }
  | { t: 'advance'; ms: number }
  | { t: 'failover' }
  | { t: 'grow'; topic: string; by: number };

const topicSets = [['a'], ['b'], ['a', 'b']];
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('join' as const), topics: fc.constantFrom(...topicSets) }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constantFrom('leave' as const, 'crash' as const), i: fc.nat(20) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('pause' as const), i: fc.nat(20), ms: fc.integer({ min: 100, max: 3_000 }) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3_000 }) }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('failover' as const) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('grow' as const), topic: fc.constantFrom('a', 'b'), by: fc.integer({ min: 1, max: 3 }) }), weight: 1 },
);

function run(sim: GroupSim, actions: readonly Action[]): void {
  for (const a of actions) {
    const running = sim.clients.filter((c) => c.phase !== 'crashed' && c.phase !== 'left');
    switch (a.t) {
      case 'join': sim.addClient(a.topics); break;
      case 'leave': if (running.length > 0) sim.leave(running[a.i % running.length]!); break;
      case 'crash': if (running.length > 0) sim.crash(running[a.i % running.length]!); break;
      case 'pause': if (running.length > 0) sim.pause(running[a.i % running.length]!, a.ms); break;
      case 'advance': sim.advance(a.ms); break;
      case 'failover': sim.failover(); break;
      case 'grow': sim.grow(a.topic, a.by); break;
    }
  }
}

/** Once stable: every partition someone subscribes to is consumed by exactly one live member. */
function checkStable(sim: GroupSim): void {
  const running = sim.clients.filter((c) => c.phase !== 'crashed' && c.phase !== 'left');
  const consumers = new Map<string, string[]>();
  for (const c of running) for (const key of c.owned) consumers.set(key, [...(consumers.get(key) ?? []), c.memberId]);
  for (const topic of ['a', 'b']) {
    const subscribed = running.filter((c) => c.topics.includes(topic));
    for (let p = 0; p < sim.counts[topic]!; p += 1) {
      const key = partitionKey(topic, p);
      const owners = consumers.get(key) ?? [];
      if (subscribed.length === 0) {
        expect(owners, key).toEqual([]);
        continue;
      }
      expect(owners, `${key} consumers`).toHaveLength(1);
      expect(subscribed.map((c) => c.memberId), `${key} owner subscribes`).toContain(owners[0]);
      expect(sim.machine.ownerOf(topic, p)).toBe(owners[0]);
    }
  }
  // Nobody who crashed or left is still a member.
  for (const c of sim.clients.filter((x) => x.phase === 'crashed' || x.phase === 'left')) {
    if (c.memberId !== '') expect(sim.machine.hasMember(c.memberId), `${c.name} (${c.phase})`).toBe(false);
  }
}

describe('group membership model (fast-check)', () => {
  for (const assignor of assignorNames) {
    it(`${assignor}: after any joins, leaves, crashes, pauses, failovers and partition growth, each partition has exactly one live owner once stable`, () => {
      fc.assert(fc.property(fc.array(action, { minLength: 1, maxLength: 25 }), (actions) => {
        const sim = new GroupSim(assignor, { a: 3, b: 5 });
        run(sim, actions);
        // Let it settle: heartbeats, expiries of the crashed, rejoins, second cooperative rounds.
        for (let i = 0; i < 600 && !sim.settled(); i += 1) sim.advance(50);
        expect(sim.settled(), `${assignor} settled (state ${sim.machine.state})`).toBe(true);
        checkStable(sim);
      }), { numRuns: 150 });
    });
  }
});
