import { describe, expect, it } from 'vitest';
import type { RawNode } from '../../raft/index.js';
import { runSeed, type Scenario, type SeedResult } from '../../raft/sim/runner.js';
import type { ViolationKind } from '../../raft/sim/invariants.js';
import {
  acceptStaleAppends, commitOldTermByCounting, ignoreCheckQuorum, truncateOnEveryAppend, voteWithoutPersisting,
} from './mutants.js';

// The simulator is only worth its seeds if it notices a broken core. Each case plants one classic
// Raft bug (test-only mutants, see mutants.ts) and searches seeds of a scenario that stresses it
// until an invariant fires. Runs are deterministic, so each search ends at the same seed every time.

function firstViolation(mutate: (n: RawNode) => void, scenario: Partial<Scenario>, maxSeeds: number): SeedResult | undefined {
  for (let seed = 1; seed <= maxSeeds; seed += 1) {
    const r = runSeed(seed, scenario, { mutate, safetyOnly: true });
    if (r.violation !== undefined) return r;
  }
  return undefined;
}

const churn5: Partial<Scenario> = {
  size: 5, crashChance: 0.1, restartChance: 0.4, partitionChance: 0.1, proposeChance: 0.9,
  maxSizePerMsgBytes: 1, maxInflightMsgs: 1, preVote: false,
};
const crashy3: Partial<Scenario> = {
  size: 3, crashChance: 0.2, restartChance: 0.6, partitionChance: 0, proposeChance: 0.1, preVote: false,
  faults: { dropRate: 0.4, duplicateRate: 0, maxDelayTicks: 4, reorder: true },
};

const cases: { name: string; mutate: (n: RawNode) => void; scenario: Partial<Scenario>; kinds: ViolationKind[] }[] = [
  { name: 'counting replicas of an old-term entry to commit it (§5.4.2, Figure 8)', mutate: commitOldTermByCounting, scenario: churn5,
    kinds: ['leaderCompleteness', 'committedChanged', 'ackedLost', 'appliedDiverged', 'coreAssert'] },
  { name: 'granting a vote without persisting it first', mutate: voteWithoutPersisting, scenario: crashy3,
    kinds: ['electionSafety', 'coreAssert'] },
  { name: 'accepting an AppendEntries from a stale term', mutate: acceptStaleAppends, scenario: {},
    kinds: ['logMatching', 'committedChanged', 'leaderCompleteness', 'appliedDiverged', 'commitRegressed', 'coreAssert'] },
  { name: 'a follower truncating committed entries', mutate: truncateOnEveryAppend, scenario: {},
    kinds: ['commitRegressed', 'committedChanged', 'appliedDiverged', 'coreAssert'] },
  { name: 'a leader that ignores check-quorum during a partition', mutate: ignoreCheckQuorum, scenario: {},
    kinds: ['isolatedLeader'] },
];

describe('the simulator catches a broken core', () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = firstViolation(c.mutate, c.scenario, 1000);
      expect(r, 'no seed exposed the bug').toBeDefined();
      expect(c.kinds).toContain(r!.violation!.kind);
      // The trace names the seed's events up to the violation: enough to replay and read.
      expect(r!.trace[r!.trace.length - 1]).toContain('VIOLATION');
    });
  }

  it('the same scenarios pass with the real core', () => {
    for (const scenario of [churn5, crashy3]) {
      for (let seed = 1; seed <= 40; seed += 1) {
        const r = runSeed(seed, { faultTicks: 200, ...scenario }, { safetyOnly: true });
        expect(r.violation?.message).toBeUndefined();
      }
    }
  });
});
