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
    expect(r.stats).toEqual({ attempts: 4, acked: 1, failed: 1, unknown: 2, unknownPresent: 1, finalRecords: 2 });
  });

  it('finds a lost acknowledged write', () => {
    const r = checkHistory([produce('a', { type: 'ok', offset: 1 }), produce('b', { type: 'ok', offset: 2 }), read('n1', [[1, 'a']])]);
    expect(r.valid).toBe(false);
    expect(r.anomalies).toEqual([{ kind: 'lost-write', partition: 0, detail: '"b" was acknowledged at offset 2 but is not in the final read' }]);
  });

  it('with retention, an acknowledged write below the final log start is retained away, not lost', () => {
    const h = [produce('a', { type: 'ok', offset: 1 }), produce('b', { type: 'ok', offset: 5 }), produce('c', { type: 'ok', offset: 6 }), read('n1', [[6, 'c']])];
    expect(checkHistory(h, { logStarts: new Map([[0, 6]]) }).valid).toBe(true);
    expect(checkHistory(h, { logStarts: new Map([[0, 3]]) }).counts['lost-write']).toBe(1);
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
    expect(r.anomalies.map((a) => a.kind)).toContain('offset-conflict');
    expect(r.anomalies.find((a) => a.kind === 'offset-conflict')?.detail).toBe('offset 1: n2 read "b", n1 read "a"');
  });

  it('holds control records to one history too (data vs. control at an offset is a conflict)', () => {
    const h = [produce('a', { type: 'ok', offset: 1 }), read('n1', [[0, '<control>@2'], [1, 'a']]), read('n2', [[0, '<control>@2'], [1, 'a']])];
    expect(checkHistory(h)).toMatchObject({ valid: true, stats: { finalRecords: 1 } });
    const diverged = [produce('a', { type: 'ok', offset: 1 }), produce('b', { type: 'info', code: 'TIMEOUT' }),
      read('n1', [[0, '<control>@2'], [1, 'a']]), read('n2', [[0, 'b'], [1, 'a']])];
    expect(checkHistory(diverged).counts['offset-conflict']).toBe(1);
  });

  it('reports duplicates (fatal only when asked) and values nobody wrote', () => {
    const dup = [produce('a', { type: 'info', code: 'TIMEOUT' }), read('n1', [[1, 'a'], [2, 'a']])];
    expect(checkHistory(dup)).toMatchObject({ valid: true, counts: { duplicate: 1 } });
    expect(checkHistory(dup, { duplicatesAreFatal: true }).valid).toBe(false);
    const garbage = checkHistory([read('n1', [[1, 'zz']])]);
    expect(garbage).toMatchObject({ valid: false, counts: { unexpected: 1 } });
  });
});
