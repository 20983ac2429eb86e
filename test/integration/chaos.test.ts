import { describe, expect, it } from 'vitest';
import { runChaos } from '../../chaos/run.js';

describe('chaos (short run; `npm run chaos -- --time 300` for a long one)', () => {
  it('loses no acknowledged write, duplicates nothing, keeps one history per partition through kill -9, pause, leader kills, kill-all and lost answers', async () => {
    const lines: string[] = [];
    const { valid, summary } = await runChaos({
      seconds: 15, nemesis: ['kill', 'pause', 'kill-leader', 'kill-all'], seed: 20261122, nodes: 3, partitions: 3, producers: 3,
      nodeEnv: { FERRY_FAULT_LOSE_PRODUCE_REPLIES: '10' }, progress: (line) => lines.push(line),
    });
    expect(lines.filter((l) => l.startsWith('ANOMALY')), lines.join('\n')).toEqual([]);
    expect(valid).toBe(true);
    expect(summary.faults).toBeGreaterThanOrEqual(3);
    expect(summary.acked).toBeGreaterThan(100);
    expect(summary['lost-write']).toBe(0);
    expect(summary['inconsistent-offsets']).toBe(0);
    expect(summary.polls as number).toBeGreaterThan(10);
    expect(summary.duplicate).toBe(0);
    // Lost answers were retried with the same producer id and sequence, and deduplicated.
    expect(summary.retries as number).toBeGreaterThan(0);
  }, 180_000);

  it('keeps its promises while partitions move between 4 nodes (membership changes) through kill -9, pause and leader kills', async () => {
    const lines: string[] = [];
    const { valid, summary } = await runChaos({
      seconds: 20, nemesis: ['reassign', 'reassign', 'kill', 'kill-leader', 'pause'], seed: 4242, nodes: 4, partitions: 3, producers: 3,
      progress: (line) => lines.push(line),
    });
    expect(lines.filter((l) => l.startsWith('ANOMALY')), lines.join('\n')).toEqual([]);
    expect(valid).toBe(true);
    expect(lines.filter((l) => /move chaos\/\d to replicas [\d,]+: accepted/.test(l)).length, lines.join('\n')).toBeGreaterThanOrEqual(2);
    expect(summary.acked).toBeGreaterThan(100);
    expect(summary['lost-write']).toBe(0);
    expect(summary['inconsistent-offsets']).toBe(0);
  }, 240_000);

  it('loses no acknowledged write when a stopped node\'s segment files get bit flips or are cut short', async () => {
    const lines: string[] = [];
    const { valid, summary } = await runChaos({
      seconds: 15, nemesis: ['corrupt', 'kill-leader'], seed: 77, nodes: 3, partitions: 2, producers: 3,
      progress: (line) => lines.push(line),
    });
    expect(lines.filter((l) => l.startsWith('ANOMALY')), lines.join('\n')).toEqual([]);
    expect(valid).toBe(true);
    expect(lines.some((l) => /flipped|truncated/.test(l)), lines.join('\n')).toBe(true);
    expect(summary.acked).toBeGreaterThan(100);
  }, 180_000);

  it('finds the duplicates that retries without idempotence write (the check works)', async () => {
    const lines: string[] = [];
    const { valid, summary } = await runChaos({
      seconds: 8, nemesis: ['kill-leader'], seed: 11, nodes: 3, partitions: 1, producers: 2, producerMode: 'retry', groupMembers: 0,
      nodeEnv: { FERRY_FAULT_LOSE_PRODUCE_REPLIES: '20' }, progress: (line) => lines.push(line),
    });
    expect(summary.duplicate as number, lines.join('\n')).toBeGreaterThan(0);
    expect(lines.some((l) => l.startsWith('ANOMALY duplicate'))).toBe(true);
    // Duplicates break no promise of a non-idempotent producer; nothing else may go wrong.
    expect(valid).toBe(true);
  }, 180_000);

  it('keeps its promises through real network partitions, Jepsen\'s bridge and peer-only cuts that leave clients connected, with a consumer group reading (namespaces, nftables; needs root)', async () => {
    const lines: string[] = [];
    const { valid, summary } = await runChaos({
      seconds: 15, nemesis: ['bridge', 'partition-peers', 'partition-leader', 'kill'], seed: 5, nodes: 3, partitions: 3, producers: 3,
      groupMembers: 3, progress: (line) => lines.push(line),
    });
    expect(lines.filter((l) => l.startsWith('ANOMALY')), lines.join('\n')).toEqual([]);
    expect(valid).toBe(true);
    expect(lines.some((l) => /bridge: nodes|off from its peers/.test(l)), lines.join('\n')).toBe(true);
    expect(summary.acked).toBeGreaterThan(100);
    // The group read, committed and rebalanced (a member is replaced every 5 s), and skipped nothing.
    expect(summary.groupPolls as number, lines.join('\n')).toBeGreaterThan(10);
    expect(summary.commits as number).toBeGreaterThan(0);
    expect(summary.rebalances as number).toBeGreaterThan(3);
    expect(summary['group-skip']).toBe(0);
  }, 180_000);

  it('keeps its promises on 5 nodes through a 2-node minority split, leader kills and transfer storms (namespaces; needs root)', async () => {
    const lines: string[] = [];
    const { valid, summary } = await runChaos({
      seconds: 15, nemesis: ['split', 'kill-leader', 'transfer'], seed: 5, nodes: 5, partitions: 2, producers: 3,
      progress: (line) => lines.push(line),
    });
    expect(lines.filter((l) => l.startsWith('ANOMALY')), lines.join('\n')).toEqual([]);
    expect(valid).toBe(true);
    expect(lines.some((l) => /split nodes \d+, \d+ from the majority/.test(l)), lines.join('\n')).toBe(true);
    expect(summary.acked).toBeGreaterThan(100);
  }, 180_000);

  it('keeps its promises while retention moves log starts and lagging replicas get log-start resets', async () => {
    const lines: string[] = [];
    const { valid, summary } = await runChaos({
      seconds: 20, nemesis: ['kill', 'partition', 'kill-leader'], seed: 31, nodes: 3, partitions: 1, producers: 3, retention: true,
      progress: (line) => lines.push(line),
    });
    expect(lines.filter((l) => l.startsWith('ANOMALY')), lines.join('\n')).toEqual([]);
    expect(valid).toBe(true);
    expect(Object.values(summary.logStarts as Record<string, number>).some((s) => s > 0), JSON.stringify(summary)).toBe(true);
  }, 180_000);
});
