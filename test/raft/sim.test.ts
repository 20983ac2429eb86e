import { describe, expect, it } from 'vitest';
import { runSeed } from '../../raft/sim/runner.js';

// The deterministic simulator in CI: a few hundred seeds of the full fault + liveness run.
// `npm run sim -- --seeds 10000` is the long run; a failing seed replays with `--seed N`.
describe('simulator seeds', () => {
  const first = 1;
  const count = 300;
  it(`seeds ${first}..${first + count - 1} keep every invariant and converge after healing`, () => {
    const failures: string[] = [];
    for (let seed = first; seed < first + count; seed += 1) {
      const r = runSeed(seed);
      if (r.violation !== undefined) failures.push(`seed ${seed}: ${r.violation.message}`);
    }
    expect(failures).toEqual([]);
  });

  it('replays a seed exactly', () => {
    const a = runSeed(4242);
    const b = runSeed(4242);
    expect(a.trace).toEqual(b.trace);
    expect(a.trace.length).toBeGreaterThan(10);
  });
});
