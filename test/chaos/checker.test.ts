import { describe, expect, it } from 'vitest';
import { checkHistory } from '../../chaos/checker.js';
import type { HistoryEvent, ProduceOutcome } from '../../chaos/history.js';

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
    expect(r.stats).toEqual({ attempts: 4, acked: 1, failed: 1, unknown: 2, unknownPresent: 1, finalRecords: 2, polls: 0 });
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
