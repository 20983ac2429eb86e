// Compaction seen from node/: a follower replicates a leader's compacted (and emptied) batches
// through PartitionRaftStorage, the Raft index ↔ offset map survives the rewrite and a reopen,
// and the scheduler's dirty-ratio rule.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanLog, decodeBatch, encodeBatch, IoThrottle, PartitionLog, type CleanableSegment } from '../../log/index.js';
import { asIndex, asTerm, type Entry } from '../../raft/types.js';
import type { StoredGroup } from '../../node/group-state-store.js';
import { PartitionRaftStorage } from '../../node/partition-raft-storage.js';
import { dirtyRatio } from '../../node/compaction-scheduler.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function openLog(dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-compact-node-'))): Promise<{ dir: string; log: PartitionLog }> {
  if (!dirs.includes(dir)) dirs.push(dir);
  return { dir, log: await PartitionLog.open(dir, { segmentBytes: 120 }) };
}

const group: StoredGroup = {
  hardState: { term: 1, vote: 0, commit: 1 },
  confState: { voters: [1, 2, 3], learners: [] },
  snapshot: { index: 1, term: 1, nextOffset: 0, confState: { voters: [1, 2, 3], learners: [] }, data: new Uint8Array(0) },
};

const keyedBatch = (pairs: Array<[string, string]>): Buffer =>
  encodeBatch({ records: pairs.map(([k, v]) => ({ key: Buffer.from(k), value: Buffer.from(v), timestamp: 1_700_000_000_000 })) });

function latestByKey(entries: readonly Entry[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    if (e.type !== 'normal') continue;
    for (const r of decodeBatch(Buffer.from(e.data)).records) out[r.key!.toString()] = r.value!.toString();
  }
  return out;
}

describe('compaction under Raft', () => {
  it('keeps one entry per batch: a follower replicates compacted and emptied batches, and the map survives a reopen', async () => {
    const { dir, log } = await openLog();
    const leader = PartitionRaftStorage.open(log, group);
    const batches = [keyedBatch([['a', '1'], ['b', '1']]), keyedBatch([['a', '2'], ['b', '2']]), keyedBatch([['a', '3']]), keyedBatch([['c', '1']])];
    batches.forEach((b) => leader.markLocalProposal(b));
    leader.append(batches.map((b, i): Entry => ({ index: asIndex(2 + i), term: asTerm(2), type: 'normal', data: b })));
    await log.flush();
    const before = leader.entries(asIndex(2), asIndex(6), 1 << 20)!;
    const r = await cleanLog(log, { cleanableEndOffset: log.logEndOffset, tombstoneHorizonOffset: log.logEndOffset, deleteRetentionMs: 0, nowMs: 0, throttle: new IoThrottle(null) });
    expect(r).toMatchObject({ outcome: 'cleaned', recordsRemoved: 3 });

    // Same entries (index, term, offsets), thinner data; the first one is now an empty batch.
    const after = leader.entries(asIndex(2), asIndex(6), 1 << 20)!;
    expect(after.map((e) => [e.index, e.term])).toEqual(before.map((e) => [e.index, e.term]));
    expect(decodeBatch(Buffer.from(after[0]!.data)).records).toEqual([]);
    expect([2, 3, 4, 5].map((i) => leader.baseOffsetOf(i))).toEqual([0, 2, 4, 5]);
    expect(latestByKey(after)).toEqual(latestByKey(before));

    // A follower appends the leader's bytes (as raft hands them over) at the same offsets.
    const follower = PartitionRaftStorage.open((await openLog()).log, group);
    follower.append(after.map((e) => ({ ...e, data: Buffer.from(e.data) })));
    expect([follower.lastIndex(), follower.logEndOffset, follower.baseOffsetOf(4)]).toEqual([5, 6, 4]);
    expect(latestByKey(follower.entries(asIndex(2), asIndex(6), 1 << 20)!)).toEqual({ a: '3', b: '2', c: '1' });

    await log.close();
    // Raft persists a term at least as new as any entry's before the entries (open checks it).
    const reopened = PartitionRaftStorage.open((await openLog(dir)).log, { ...group, hardState: { term: 2, vote: 0, commit: 5 } });
    expect(reopened.damage).toBeUndefined();
    expect([reopened.lastIndex(), reopened.logEndOffset, reopened.baseOffsetOf(5)]).toEqual([5, 6, 5]);
    await reopened.log.close();
    await follower.log.close();
  });

  it('cleans a partition once enough of its cleanable bytes are new since the last pass', () => {
    const seg = (baseOffset: number, sizeBytes: number): CleanableSegment => ({ baseOffset, nextOffset: baseOffset + 10, sizeBytes, createdMs: 0, serial: baseOffset });
    const segments = [seg(0, 300), seg(10, 100), seg(20, 100)];
    expect(dirtyRatio(segments, 0)).toBe(1);
    expect(dirtyRatio(segments, 10)).toBe(0.4);
    expect(dirtyRatio(segments, 30)).toBe(0);
    expect(dirtyRatio([], 0)).toBe(0);
  });
});
