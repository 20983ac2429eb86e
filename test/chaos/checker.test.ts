import { describe, expect, it } from 'vitest';
import { checkHistory } from '../../chaos/checker.js';
import type { HistoryEvent, ProduceOutcome, RebalanceEvent } from '../../chaos/history.js';

const produce = (value: string, outcome: ProduceOutcome, partition = 0): HistoryEvent =>
  ({ kind: 'produce', process: 'p0', value, partition, startMs: 0, endMs: 1, outcome });
const read = (reader: string, records: Array<[number, string]>, final = true, partition = 0): HistoryEvent =>
  ({ kind: 'read', reader, partition, timeMs: 2, final, records: records.map(([offset, value]) => ({ offset, value })) });

describe('chaos history checker', () => {
  it('accepts a clean history, and unknown outcomes either way', () => {
    const r = checkHistory([
      produce('a', { type: 'ok', offset: 1 }), produce('b', { type: 'info', code: 'TIMEOUT' }),
      produce('c', { type: 'info', code: 'TIMEOUT' }), produce('d', { type: 'fail', code: 'NOT_LEADER' }),
      read('n1', [[1, 'a'], [2, 'b']]), read('n2', [[1, 'a'], [2, 'b']]),
    ]);
    expect(r.valid).toBe(true);
    expect(r.anomalies).toEqual([]);
    expect(r.stats).toEqual({ attempts: 4, acked: 1, failed: 1, unknown: 2, unknownPresent: 1, finalRecords: 2, polls: 0, commits: 0, rebalances: 0 });
  });

  it('finds a lost acknowledged write', () => {
    const r = checkHistory([produce('a', { type: 'ok', offset: 1 }), produce('b', { type: 'ok', offset: 2 }), read('n1', [[1, 'a']])]);
    expect(r.valid).toBe(false);
    expect(r.anomalies).toEqual([{ kind: 'unseen', partition: 0, detail: '"b" was acknowledged at offset 2 but is not in the final read' }]);
    const hole = checkHistory([produce('a', { type: 'ok', offset: 1 }), produce('b', { type: 'ok', offset: 2 }), read('n1', [[2, 'b']])]);
    expect(hole.anomalies).toEqual([{ kind: 'lost-write', partition: 0, detail: '"a" was acknowledged at offset 1 but is not in the final read, which holds later offsets' }]);
  });

  it('with retention, an acknowledged write below the final log start is retained away, not lost', () => {
    const h = [produce('a', { type: 'ok', offset: 1 }), produce('b', { type: 'ok', offset: 5 }), produce('c', { type: 'ok', offset: 6 }), read('n1', [[6, 'c']])];
    expect(checkHistory(h, { logStarts: new Map([[0, 6]]) }).valid).toBe(true);
    expect(checkHistory(h, { logStarts: new Map([[0, 3]]) }).counts['lost-write']).toBe(1); // b at 5, below c at 6
  });

  it('finds an acknowledged write at the wrong offset, and a definite failure that happened anyway', () => {
    const r = checkHistory([
      produce('a', { type: 'ok', offset: 1 }), produce('x', { type: 'fail', code: 'NOT_LEADER' }),
      read('n1', [[2, 'a'], [3, 'x']]),
    ]);
    expect(r.counts).toMatchObject({ 'wrong-offset': 1, 'failed-but-present': 1 });
    expect(r.valid).toBe(false);
  });

  it('finds replicas that disagree on an offset, even in reads taken during the run', () => {
    const r = checkHistory([
      produce('a', { type: 'ok', offset: 1 }), produce('b', { type: 'info', code: 'TIMEOUT' }),
      read('n2', [[1, 'b']], false), read('n1', [[1, 'a']]),
    ]);
    expect(r.anomalies.map((a) => a.kind)).toContain('inconsistent-offsets');
    expect(r.anomalies.find((a) => a.kind === 'inconsistent-offsets')?.detail).toBe('offset 1: n2 read "b", n1 read "a"');
  });

  it('holds control records to one history too (data vs. control at an offset is a conflict)', () => {
    const h = [produce('a', { type: 'ok', offset: 1 }), read('n1', [[0, '<control>@2'], [1, 'a']]), read('n2', [[0, '<control>@2'], [1, 'a']])];
    expect(checkHistory(h)).toMatchObject({ valid: true, stats: { finalRecords: 1 } });
    const diverged = [produce('a', { type: 'ok', offset: 1 }), produce('b', { type: 'info', code: 'TIMEOUT' }),
      read('n1', [[0, '<control>@2'], [1, 'a']]), read('n2', [[0, 'b'], [1, 'a']])];
    expect(checkHistory(diverged).counts['inconsistent-offsets']).toBe(1);
  });

  it('reports duplicates (fatal only when asked) and values nobody wrote', () => {
    const dup = [produce('a', { type: 'info', code: 'TIMEOUT' }), read('n1', [[1, 'a'], [2, 'a']])];
    expect(checkHistory(dup)).toMatchObject({ valid: true, counts: { duplicate: 1 } });
    expect(checkHistory(dup, { duplicatesAreFatal: true }).valid).toBe(false);
    const garbage = checkHistory([read('n1', [[1, 'zz']])]);
    expect(garbage).toMatchObject({ valid: false, counts: { unexpected: 1 } });
  });
});

describe('chaos checker: producers, consumers and availability', () => {
  const sent = (process: string, value: string, offset: number, startMs: number, partition = 0): HistoryEvent =>
    ({ kind: 'produce', process, value, partition, startMs, endMs: startMs + 5, outcome: { type: 'ok', offset } });
  const poll = (consumer: string, records: Array<[number, string]>, timeMs: number, partition = 0): HistoryEvent =>
    ({ kind: 'poll', consumer, partition, timeMs, records: records.map(([offset, value]) => ({ offset, value })) });

  it('finds a producer whose acknowledged offsets go backwards', () => {
    const r = checkHistory([sent('p1', 'a', 5, 10), sent('p1', 'b', 3, 20), read('n1', [[3, 'b'], [5, 'a']])]);
    expect(r.anomalies).toEqual([{ kind: 'nonmonotonic-send', partition: 0, detail: 'p1 had "a" acknowledged at offset 5, then "b" at 3' }]);
  });

  it('finds a consumer that skips a data record or goes back, but not one that passes control records', () => {
    const base = [sent('p1', 'a', 1, 0), sent('p1', 'b', 3, 1), sent('p1', 'c', 4, 2), read('n1', [[0, '<control>@1'], [1, 'a'], [2, '<control>@2'], [3, 'b'], [4, 'c']])];
    expect(checkHistory([...base, poll('c1', [[1, 'a']], 10), poll('c1', [[3, 'b'], [4, 'c']], 11)]).valid).toBe(true);
    const skip = checkHistory([...base, poll('c1', [[1, 'a']], 10), poll('c1', [[4, 'c']], 11)]);
    expect(skip.anomalies).toEqual([{ kind: 'poll-skip', partition: 0, detail: 'c1 went from offset 1 to 4, skipping "b" at 3' }]);
    const back = checkHistory([...base, poll('c1', [[3, 'b']], 10), poll('c1', [[1, 'a']], 11)]);
    expect(back.counts['nonmonotonic-poll']).toBe(1);
  });

  it('finds a value read during the run that never committed', () => {
    const r = checkHistory([
      sent('p1', 'a', 1, 0), produce('x', { type: 'info', code: 'TIMEOUT' }),
      read('n2', [[1, 'a'], [2, 'x']], false), read('n1', [[1, 'a']]),
    ]);
    expect(r.anomalies.map((a) => a.kind)).toEqual(['uncommitted-read']);
    expect(r.valid).toBe(false);
  });

  it('measures the longest window without an acknowledgement and the recovery after leader kills', () => {
    const r = checkHistory([
      sent('p1', 'a', 1, 0, 0), sent('p1', 'b', 1, 0, 1),
      { kind: 'nemesis', timeMs: 100, action: 'kill-leader', nodes: [2] },
      sent('p1', 'c', 2, 400, 0), sent('p1', 'd', 2, 250, 1), sent('p1', 'e', 3, 1_000, 0),
      read('n1', [[1, 'a'], [2, 'c'], [3, 'e']], true, 0), read('n1', [[1, 'b'], [2, 'd']], true, 1),
    ]);
    expect(r.availability).toEqual({ longestNoAckMs: { 0: 600, 1: 750 }, leaderKills: 1, leaderKillToAckMedianMs: 305, leaderKillToAckMaxMs: 305 });
  });
});

describe('chaos checker: consumer groups', () => {
  const sent = (value: string, offset: number): HistoryEvent =>
    ({ kind: 'produce', process: 'p1', value, partition: 0, startMs: 0, endMs: 1, outcome: { type: 'ok', offset } });
  const handed = (member: string, records: Array<[number, string]>, timeMs: number): HistoryEvent =>
    ({ kind: 'poll', consumer: member, group: 'g', partition: 0, timeMs, records: records.map(([offset, value]) => ({ offset, value })) });
  const marker = (member: string, action: RebalanceEvent['action'], timeMs: number, generation = 1): HistoryEvent =>
    ({ kind: 'rebalance', group: 'g', member, timeMs, action, generation, partitions: [0] });
  const commit = (member: string, offset: number, timeMs: number, error?: string): HistoryEvent =>
    ({ kind: 'commit', group: 'g', member, timeMs, generation: 1, offsets: [{ partition: 0, offset }], ...(error ? { error } : {}) });
  const ended = (offset: number): HistoryEvent => ({ kind: 'group-offsets', group: 'g', timeMs: 100, offsets: [{ partition: 0, offset }] });
  // a b c d at offsets 0-3, a control record (a new leader's no-op) at 4, e at 5.
  const log = [sent('a', 0), sent('b', 1), sent('c', 2), sent('d', 3), sent('e', 5),
    read('n1', [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'd'], [4, '<control>@2'], [5, 'e']])];

  it('accepts a group whose partition moves between members: the new owner re-reads from the committed offset', () => {
    const r = checkHistory([...log,
      marker('m0', 'assigned', 10), handed('m0', [[0, 'a'], [1, 'b'], [2, 'c']], 11), commit('m0', 2, 12), marker('m0', 'revoked', 13, 2),
      marker('m1', 'assigned', 14, 2), handed('m1', [[2, 'c'], [3, 'd']], 15), handed('m1', [[5, 'e']], 16), commit('m1', 6, 17),
      // m0 gets it back later and resumes at 6: its earlier reads stopped at 2, and that is no skip.
      marker('m1', 'revoked', 18, 3), marker('m0', 'assigned', 19, 3), commit('m0', 6, 20, 'PARTITION_NOT_OWNED'), ended(6)]);
    expect(r.anomalies).toEqual([]);
    expect(r.stats).toMatchObject({ commits: 2, rebalances: 5, polls: 3 });
  });

  it('still holds a member to continuity between its rebalance markers', () => {
    const r = checkHistory([...log, marker('m0', 'assigned', 10), handed('m0', [[0, 'a'], [1, 'b'], [2, 'c']], 11), handed('m0', [[1, 'b']], 12)]);
    expect(r.anomalies).toEqual([{ kind: 'nonmonotonic-poll', partition: 0, detail: 'm0 was handed offset 1 after offset 2' }]);
    // Across a marker the same reads are a new owner's resumption, not a step back.
    expect(checkHistory([...log, handed('m0', [[0, 'a'], [1, 'b'], [2, 'c']], 11), marker('m0', 'lost', 12), marker('m0', 'assigned', 13),
      handed('m0', [[1, 'b']], 14)]).anomalies).toEqual([]);
  });

  it('finds a committed offset above a record no member was handed (group-skip)', () => {
    const r = checkHistory([...log,
      marker('m0', 'assigned', 10), handed('m0', [[0, 'a'], [1, 'b']], 11), commit('m0', 2, 12), marker('m0', 'revoked', 13, 2),
      // m1 starts past c (say, from "latest"): commits 6 having never been handed c or d.
      marker('m1', 'assigned', 14, 2), handed('m1', [[5, 'e']], 15), commit('m1', 6, 16), ended(6)]);
    expect(r.valid).toBe(false);
    expect(r.anomalies).toEqual([{ kind: 'group-skip', partition: 0, detail: 'group g committed offset 6, but no member was ever handed "c" at offset 2 (2 records below it unread)' }]);
    // Below the log start (retention removed it) nothing needed reading.
    expect(checkHistory([...log, handed('m1', [[5, 'e']], 15), ended(6)], { logStarts: new Map([[0, 4]]) }).anomalies).toEqual([]);
  });

  it('finds an acknowledged commit the group lost (lost-commit), but not a refused one', () => {
    const h = [...log, marker('m0', 'assigned', 10), handed('m0', [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'd']], 11), commit('m0', 2, 12)];
    const r = checkHistory([...h, commit('m0', 4, 13), ended(2)]);
    expect(r.valid).toBe(false);
    expect(r.anomalies).toEqual([{ kind: 'lost-commit', partition: 0, detail: 'group g: m0 had offset 4 acknowledged in generation 1, but the group\'s committed offset after healing is 2' }]);
    expect(checkHistory([...h, commit('m0', 4, 13, 'TIMEOUT'), ended(2)]).anomalies).toEqual([]);
  });
});
