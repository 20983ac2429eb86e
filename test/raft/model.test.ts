import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asNodeId, type RawNode } from '../../raft/index.js';
import { Cluster } from '../../raft/sim/cluster.js';
import { Violation } from '../../raft/sim/invariants.js';
import { liveness, scenarioFor } from '../../raft/sim/runner.js';
import { ignoreCheckQuorum } from './mutants.js';

// Model-based tests (fc.commands) over the simulator's operations. The "model" is the invariant
// checker inside the cluster: every command runs the real core and throws a Violation on any
// broken invariant, so fast-check shrinks a failing schedule to a handful of commands.
type Cmd = fc.Command<object, Cluster>;

const ids = fc.integer({ min: 1, max: 5 }).map(asNodeId);

function cmd(name: string, run: (c: Cluster) => void): Cmd {
  return { check: () => true, run: (_m, c) => run(c), toString: () => name };
}

const ticks = fc.integer({ min: 1, max: 60 }).map((k) => cmd(`tick(${k})`, (c) => { for (let i = 0; i < k; i += 1) c.tick(); }));
const commands = [
  ticks,
  ticks, // time passing is what most schedules need most

  fc.integer({ min: 1, max: 5 }).map((k) => cmd(`propose(${k})`, (c) => c.propose(k))),
  ids.map((id) => cmd(`crash(${id})`, (c) => c.crash(id))),
  ids.map((id) => cmd(`restart(${id})`, (c) => c.restart(id))),
  fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 5, maxLength: 5 }).map((sides) =>
    cmd(`partition(${sides.join('')})`, (c) => c.partition(new Map(sides.map((s, i) => [asNodeId(i + 1), s])), 0))),
  fc.constant(cmd('heal', (c) => c.heal())),
  ids.map((id) => cmd(`transfer(${id})`, (c) => c.transfer(id))),
  fc.constant(cmd('confChange', (c) => c.confChange())),
  ids.map((id) => cmd(`compact(${id})`, (c) => c.compact(id))),
];

function newCluster(seed: number, size: number, mutate?: (n: RawNode) => void): Cluster {
  const s = scenarioFor(seed, { size });
  return new Cluster({
    seed, size, faults: s.faults, electionTimeoutTicks: 10, heartbeatIntervalTicks: 1,
    maxSizePerMsgBytes: s.maxSizePerMsgBytes, maxInflightMsgs: s.maxInflightMsgs, preVote: true, mutate,
  });
}

describe('model-based schedules (fc.commands)', () => {
  it('any schedule of faults and workload keeps the invariants, and the cluster converges after', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.constantFrom(3, 5), fc.commands(commands, { maxCommands: 40 }), (seed, size, cmds) => {
        const c = newCluster(seed, size);
        fc.modelRun(() => ({ model: {}, real: c }), cmds);
        liveness(c, scenarioFor(seed, { size }));
      }),
      { numRuns: 200 },
    );
  });

  it('shrinks a failing schedule (a leader ignoring check-quorum) to a few commands', () => {
    const result = fc.check(
      fc.property(fc.commands(commands, { maxCommands: 40 }), (cmds) => {
        const c = newCluster(7, 3, ignoreCheckQuorum);
        fc.modelRun(() => ({ model: {}, real: c }), cmds);
      }),
      { numRuns: 200, seed: 42 },
    );
    expect(result.failed).toBe(true);
    expect(result.errorInstance).toBeInstanceOf(Violation);
    const shrunk = String(result.counterexample?.[0]).split(',');
    expect(shrunk.length).toBeLessThanOrEqual(6);
  });
});
