import { describe, expect, it } from 'vitest';
import { LeaderDirectory } from '../../node/leader-directory.js';

describe('LeaderDirectory', () => {
  it('keeps the report with the highest term, ignoring stale and duplicate ones', () => {
    const d = new LeaderDirectory();
    expect(d.report('1/0', 2, 5)).toBe(true);
    expect(d.report('1/0', 2, 5)).toBe(false);
    expect(d.report('1/0', 3, 4)).toBe(false);
    expect(d.leaderOf('1/0')).toEqual({ nodeId: 2, term: 5 });
    expect(d.report('1/0', 3, 6)).toBe(true);
    expect(d.leaderOf('1/0')).toEqual({ nodeId: 3, term: 6 });
    expect(d.report('1/0', 0, 9)).toBe(false);
    d.forget('1/0');
    expect(d.leaderOf('1/0')).toBeUndefined();
    d.report('2/0', 1, 1);
    d.report('3/0', 1, 1);
    d.retainOnly(new Set(['3/0']));
    expect([d.leaderOf('2/0'), d.leaderOf('3/0')]).toEqual([undefined, { nodeId: 1, term: 1 }]);
  });
});
