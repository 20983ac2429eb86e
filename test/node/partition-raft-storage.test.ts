import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch, PartitionLog, readBatchHeader } from '../../log/index.js';
import { encodeConfChange } from '../../raft/confchange.js';
import { asIndex, asNodeId, asTerm, type Entry } from '../../raft/types.js';
import type { StoredGroup } from '../../node/group-state-store.js';
import { decodeSnapshotData } from '../../node/snapshot-data.js';
import { PartitionRaftStorage } from '../../node/partition-raft-storage.js';
import { EntryCacheBudget, RaftEntryCache } from '../../node/raft-entry-cache.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function openLog(dir?: string): Promise<{ dir: string; log: PartitionLog }> {
  const d = dir ?? mkdtempSync(path.join(os.tmpdir(), 'ferry-prs-'));
  if (!dir) dirs.push(d);
  return { dir: d, log: await PartitionLog.open(d) };
}

const bootstrapped: StoredGroup = {
  hardState: { term: 1, vote: 0, commit: 1 },
  confState: { voters: [1, 2, 3], learners: [] },
  snapshot: { index: 1, term: 1, nextOffset: 0, confState: { voters: [1, 2, 3], learners: [] }, data: new Uint8Array(0) },
};

function batchOf(n: number, tag: string): Buffer {
  return encodeBatch({ records: Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`${tag}-${i}`), timestamp: 1_700_000_000_000 + i })) });
}

const entry = (index: number, term: number, type: Entry['type'], data: Uint8Array = new Uint8Array(0)): Entry =>
  ({ index: asIndex(index), term: asTerm(term), type, data });

describe('PartitionRaftStorage', () => {
  it('stores entries as batches, assigns offsets on the leader path, and reads them back', async () => {
    const { log } = await openLog();
    const s = PartitionRaftStorage.open(log, bootstrapped);
    expect([s.firstIndex(), s.lastIndex(), s.term(asIndex(1))]).toEqual([2, 1, 1]);
    const b1 = batchOf(3, 'a');
    const b2 = batchOf(2, 'b');
    s.markLocalProposal(b1);
    s.markLocalProposal(b2);
    const conf = encodeConfChange({ type: 'addLearner', nodeId: asNodeId(4) });
    s.append([entry(2, 2, 'noop'), entry(3, 2, 'normal', b1), entry(4, 2, 'conf', conf), entry(5, 2, 'normal', b2)]);
    // The leader's own batches were stamped in place with their offsets and term.
    expect(readBatchHeader(b1)).toMatchObject({ baseOffset: 1, partitionLeaderEpoch: 2 });
    expect(readBatchHeader(b2)).toMatchObject({ baseOffset: 5, partitionLeaderEpoch: 2 });
    expect([s.lastIndex(), s.logEndOffset, s.endOffsetOf(3), s.baseOffsetOf(5)]).toEqual([5, 7, 4, 5]);

    const read = s.entries(asIndex(2), asIndex(6), 1 << 20)!;
    expect(read.map((e) => [e.index, e.term, e.type])).toEqual([[2, 2, 'noop'], [3, 2, 'normal'], [4, 2, 'conf'], [5, 2, 'normal']]);
    expect(Buffer.from(read[1]!.data).equals(b1)).toBe(true);
    expect(read[2]!.data).toEqual(conf);
    // Byte-bounded, but never empty.
    expect(s.entries(asIndex(3), asIndex(6), 1)!.map((e) => e.index)).toEqual([3]);
    expect(s.entries(asIndex(1), asIndex(3), 100)).toBeUndefined();
    await log.close();
  });

  it('serves the same entries from its entry cache as from the log, through truncation, compaction and eviction', async () => {
    const budget = new EntryCacheBudget(1 << 20);
    const cached = PartitionRaftStorage.open((await openLog()).log, bootstrapped, 'logStart', new RaftEntryCache(budget, 2_000));
    const plain = PartitionRaftStorage.open((await openLog()).log, bootstrapped);
    const both = (entries: (copy: boolean) => Entry[]) => {
      cached.append(entries(false));
      plain.append(entries(true)); // each log stamps its own copy
    };
    const copyOf = (e: Entry, copy: boolean): Entry => (copy ? { ...e, data: new Uint8Array(e.data) } : e);
    const follower = (from: number, n: number, term: number, tag: string) => (copy: boolean) => {
      let offset = from > plain.lastIndex() ? plain.logEndOffset : plain.baseOffsetOf(from);
      return Array.from({ length: n }, (_, i) => {
        const b = encodeBatch({ baseOffset: offset, records: [{ key: null, value: Buffer.from(`${tag}-${i}`), timestamp: 1_700_000_000_000 }] });
        offset += 1;
        return copyOf(entry(from + i, term, 'normal', b), copy);
      });
    };
    const same = (lo: number, hi: number, maxBytes: number) => {
      const a = cached.entries(asIndex(lo), asIndex(hi), maxBytes)!;
      const b = plain.entries(asIndex(lo), asIndex(hi), maxBytes)!;
      expect(a.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]))
        .toEqual(b.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]));
    };
    const conf = encodeConfChange({ type: 'addLearner', nodeId: asNodeId(4) });
    both((copy) => [copyOf(entry(2, 2, 'noop'), copy), copyOf(entry(3, 2, 'conf', conf), copy)]);
    both(follower(4, 20, 2, 'a'));
    for (const [lo, hi, max] of [[2, 24, 1 << 20], [10, 24, 1 << 20], [20, 24, 150], [23, 24, 1]]) same(lo!, hi!, max!);
    expect(budget.used).toBeLessThanOrEqual(2_000); // eviction kept the group under its limit
    // A follower's conflicting tail is cut and replaced by a newer term's entries.
    both(follower(15, 5, 3, 'b'));
    same(2, 20, 1 << 20);
    same(15, 20, 1 << 20);
    cached.setHardState({ term: asTerm(3), vote: asNodeId(0), commit: asIndex(19) }, undefined);
    plain.setHardState({ term: asTerm(3), vote: asNodeId(0), commit: asIndex(19) }, undefined);
    cached.compactThrough(16);
    plain.compactThrough(16);
    same(17, 20, 1 << 20);
    expect(cached.entries(asIndex(16), asIndex(18), 1 << 20)).toBeUndefined();
  });

  it('rebuilds the same map on reopen from a header scan', async () => {
    const { dir, log } = await openLog();
    const s = PartitionRaftStorage.open(log, bootstrapped);
    const batches = [batchOf(1, 'x'), batchOf(4, 'y'), batchOf(2, 'z')];
    batches.forEach((b) => s.markLocalProposal(b));
    s.append([entry(2, 3, 'noop'), ...batches.map((b, i) => entry(3 + i, 3, 'normal', b))]);
    await log.flush();
    await log.close();

    const again = await openLog(dir);
    const r = PartitionRaftStorage.open(again.log, { ...bootstrapped, hardState: { term: 3, vote: 1, commit: 99 } });
    expect([r.lastIndex(), r.logEndOffset, r.term(asIndex(4)), r.endOffsetOf(4)]).toEqual([5, 8, 3, 6]);
    // A commit beyond the log (possible with fsync=never) is clipped to what is held.
    expect(r.initialState().hardState.commit).toBe(5);
    await again.log.close();
  });

  it('replaces a conflicting tail, and fails fast when a follower copy does not continue the log', async () => {
    const { log } = await openLog();
    const s = PartitionRaftStorage.open(log, bootstrapped);
    const leaderBatch = (n: number, tag: string, baseOffset: number, term: number) => {
      const b = batchOf(n, tag);
      b.writeBigInt64BE(BigInt(baseOffset), 0); // as a leader stamped it
      b.writeInt32BE(term, 12);
      return b;
    };
    s.append([entry(2, 2, 'normal', leaderBatch(2, 'a', 0, 2)), entry(3, 2, 'normal', leaderBatch(2, 'b', 2, 2))]);
    expect(s.logEndOffset).toBe(4);
    // A new leader (term 3) overwrote index 3 with a 5-record batch.
    s.append([entry(3, 3, 'normal', leaderBatch(5, 'c', 2, 3))]);
    expect([s.lastIndex(), s.logEndOffset, s.term(asIndex(3))]).toEqual([3, 7, 3]);
    expect(log.logEndOffset).toBe(7);
    expect(() => s.append([entry(4, 3, 'normal', leaderBatch(1, 'd', 9, 3))])).toThrow(/replica log diverged at index 4/);
    expect(log.logEndOffset).toBe(7);
    expect(() => s.append([entry(9, 3, 'noop')])).toThrow(/leaves a gap/);
    await log.close();
  });

  it('finishes a snapshot install interrupted after its record was stored (old log underneath)', async () => {
    const { dir, log } = await openLog();
    const s = PartitionRaftStorage.open(log, bootstrapped);
    const b = batchOf(3, 'old');
    s.markLocalProposal(b);
    s.append([entry(2, 2, 'normal', b)]);
    await log.flush();
    await log.close();
    // The snapshot record (index 40, resume at offset 500) was stored; the log reset did not happen.
    const snap = { index: 40, term: 5, nextOffset: 500, confState: { voters: [1, 2, 3], learners: [] }, data: new Uint8Array(0) };
    const again = await openLog(dir);
    const r = PartitionRaftStorage.open(again.log, { ...bootstrapped, hardState: { term: 5, vote: 0, commit: 40 }, snapshot: snap });
    expect([again.log.logStartOffset, again.log.logEndOffset, r.firstIndex(), r.lastIndex(), r.term(asIndex(40))]).toEqual([500, 500, 41, 40, 5]);
    expect(decodeSnapshotData(r.snapshot().data, 'logStart')).toMatchObject({ kind: 'logStart', resumeOffset: 500 });
    await again.log.close();
  });
});

describe('PartitionRaftStorage.open on a damaged disk', () => {
  /** A log of 12 entries (term 3) across several small segments, closed cleanly. */
  async function writtenLog(): Promise<{ dir: string; stored: StoredGroup }> {
    const d = mkdtempSync(path.join(os.tmpdir(), 'ferry-prs-'));
    dirs.push(d);
    const log = await PartitionLog.open(d, { segmentBytes: 400 });
    const s = PartitionRaftStorage.open(log, bootstrapped);
    const batches = Array.from({ length: 11 }, (_, i) => batchOf(2, `d${i}`));
    batches.forEach((b) => s.markLocalProposal(b));
    s.append([entry(2, 3, 'noop'), ...batches.map((b, i) => entry(3 + i, 3, 'normal', b))]);
    await log.flush();
    await log.close();
    expect(s.lastIndex()).toBe(13);
    return { dir: d, stored: { ...bootstrapped, hardState: { term: 3, vote: 1, commit: 13 }, logEnd: { index: 13, term: 3 } } };
  }

  const segmentsOf = (d: string) => readdirSync(d).filter((f) => f.endsWith('.log')).sort().map((f) => path.join(d, f));

  it('opens an undamaged log whole and withholds nothing', async () => {
    const { dir, stored } = await writtenLog();
    const log = await PartitionLog.open(dir, { segmentBytes: 400 });
    const s = PartitionRaftStorage.open(log, stored);
    expect([s.lastIndex(), s.damage, s.lostLogEnd]).toEqual([13, undefined, undefined]);
    await log.close();
  });

  it.each([
    ['a flipped bit in a record of a sealed segment', (files: string[]) => {
      const b = readFileSync(files[1]!);
      b[b.length - 3] ^= 0x10;
      writeFileSync(files[1]!, b);
    }, /failed verification/],
    ['a term (leader epoch, outside the CRC) raised past the stored term', (files: string[]) => {
      const b = readFileSync(files[1]!);
      b.writeInt32BE(9, 12);
      writeFileSync(files[1]!, b);
    }, /term 9, outside \[3, 3\]/],
    ['a sealed segment cut short', (files: string[]) => {
      truncateSync(files[1]!, 70);
    }, /log recovery cut .*torn batch/],
  ])('cuts the log at %s, and withholds votes until the entries are back', async (_what, damage, why) => {
    const { dir, stored } = await writtenLog();
    const files = segmentsOf(dir);
    expect(files.length).toBeGreaterThan(2);
    damage(files);
    const log = await PartitionLog.open(dir, { segmentBytes: 400 });
    const s = PartitionRaftStorage.open(log, stored);
    expect(s.damage).toMatch(why);
    expect(s.lastIndex()).toBeLessThan(13);
    expect(log.logEndOffset).toBe(s.logEndOffset);
    expect(s.lostLogEnd).toEqual({ index: 13, term: 3 });
    expect(s.initialState().hardState.commit).toBe(s.lastIndex());
    // What is left reads back whole, and the cut tail can be written again.
    expect(s.entries(asIndex(2), asIndex(s.lastIndex() + 1), 1 << 20)!.length).toBe(s.lastIndex() - 1);
    const again = batchOf(1, 'again');
    s.markLocalProposal(again);
    s.append([entry(s.lastIndex() + 1, 3, 'normal', again)]);
    await log.close();
  });
});
