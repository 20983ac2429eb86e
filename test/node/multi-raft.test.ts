import { afterEach, describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from '../../log/index.js';
import { asIndex, asNodeId, asTerm } from '../../raft/index.js';
import type { FsyncPolicy } from '../../node/config.js';
import { ReplicaError } from '../../node/replica-error.js';
import { Cluster, group, type TestNode } from './in-memory-cluster.js';

const clusters: Cluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.stop();
});

/** A started 3-node cluster (stopped after the test) and its first leader. */
async function threeNodes(fsync: FsyncPolicy = 'always'): Promise<{ c: Cluster; leader: TestNode }> {
  const c = new Cluster(fsync);
  clusters.push(c);
  await c.start([1, 2, 3]);
  return { c, leader: await c.leader() };
}

const batch = (value: string) => encodeBatch({ records: [{ key: null, value: Buffer.from(value), timestamp: Date.now() }] });
/** An idempotent batch of one record (producer 7 unless told). */
const seqBatch = (seq: number, value: string, producerId = 7) =>
  encodeBatch({ producerId, producerEpoch: 0, baseSequence: seq, records: [{ key: null, value: Buffer.from(value), timestamp: Date.now() }] });
/** A produce's outcome as data, so several can be compared at once. */
const settled = (p: Promise<number>) => p.then((v) => ({ ok: v }), (e: Error & { code?: string }) => ({ err: e.code ?? e.message }));

function valuesOf(records: Buffer): string[] {
  const out: string[] = [];
  for (let pos = 0; pos < records.length;) {
    const size = 12 + records.readInt32BE(pos + 8);
    const b = decodeBatch(records.subarray(pos, pos + size));
    if (!b.isControl) for (const r of b.records) out.push(`${r.offset}:${r.value?.toString()}`);
    pos += size;
  }
  return out;
}

describe('multi-raft host with real logs (in-memory network)', () => {
  it('elects a leader, commits acks=all produces at dense offsets, and replicates identical logs', async () => {
    const { c, leader } = await threeNodes();
    const offsets = await Promise.all(['a', 'b', 'c', 'd'].map((v) => leader.replica.produce(batch(v), 'all', 5_000)));
    // The leader's no-op control batch takes offset 0.
    expect(offsets).toEqual([1, 2, 3, 4]);
    expect(leader.replica.hw).toBe(5);
    expect(valuesOf(leader.replica.read(0, 1 << 20).records)).toEqual(['1:a', '2:b', '3:c', '4:d']);
    // Followers catch up to the same bytes.
    for (const n of c.nodes.values()) {
      const deadline = Date.now() + 3_000;
      while (n.replica.hw < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(n.replica.hw).toBe(5);
      expect(n.plog.read(0, 1 << 20).records.equals(leader.plog.read(0, 1 << 20).records)).toBe(true);
    }
  });

  it('holds an idempotent batch that arrives before the one ahead of it, then appends both in sequence order', async () => {
    const { leader } = await threeNodes();
    // Sequence 1 first (as HTTP/2 may deliver a small call ahead of a large one sent before it).
    const second = leader.replica.produce(seqBatch(1, 'b'), 'all', 5_000);
    const third = leader.replica.produce(seqBatch(2, 'c'), 'all', 5_000);
    await new Promise((r) => setTimeout(r, 20));
    const first = leader.replica.produce(seqBatch(0, 'a'), 'all', 5_000);
    expect(await Promise.all([first, second, third])).toEqual([1, 2, 3]);
    expect(valuesOf(leader.replica.read(0, 1 << 20).records)).toEqual(['1:a', '2:b', '3:c']);
    // A gap that never fills: the refusal stands once the wait runs out, and nothing is appended.
    const started = Date.now();
    await expect(leader.replica.produce(seqBatch(9, 'z'), 'all', 5_000)).rejects.toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(leader.replica.hw).toBe(4);
  });

  it('answers every copy of a held batch (a client re-sent it while the gap was open) and the batch behind it', async () => {
    const { leader } = await threeNodes();
    const oneA = settled(leader.replica.produce(seqBatch(1, 'b'), 'all', 3_000));
    const oneB = settled(leader.replica.produce(seqBatch(1, 'b'), 'all', 3_000));
    const two = settled(leader.replica.produce(seqBatch(2, 'c'), 'all', 3_000));
    await new Promise((r) => setTimeout(r, 20));
    const zero = settled(leader.replica.produce(seqBatch(0, 'a'), 'all', 3_000));
    expect(await Promise.all([zero, oneA, oneB, two])).toEqual([{ ok: 1 }, { ok: 2 }, { ok: 2 }, { ok: 3 }]);
    expect(valuesOf(leader.replica.read(0, 1 << 20).records)).toEqual(['1:a', '2:b', '3:c']);
  });

  it('without fsync, acknowledges only what every acknowledging replica has handed to the kernel (settle)', async () => {
    const { c, leader } = await threeNodes('never');
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    for (const n of c.nodes.values()) {
      const settle = n.plog.settle.bind(n.plog);
      n.plog.settle = async () => {
        await gate;
        await settle();
      };
    }
    let done = false;
    const acked = leader.replica.produce(batch('x'), 'all', 5_000).finally(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBe(false); // appended everywhere, but not yet in any kernel: no acknowledgement
    release();
    expect(await acked).toBe(1);
  });

  it('refuses a held batch (not written) when leadership moves, and its retry on the new leader lands once', async () => {
    const { c, leader: first } = await threeNodes();
    // Sequence 1 waits on the leader for sequence 0, which has not been sent yet.
    const held = settled(first.replica.produce(seqBatch(1, 'b'), 'all', 5_000));
    await new Promise((r) => setTimeout(r, 20));
    const to = [...c.nodes.values()].find((n) => n !== first)!;
    first.host.transferLeadership(group, to.id);
    // Either answer means "definitely not written" (no leader is known while the transfer runs):
    // the client may send it again elsewhere.
    expect(['NOT_LEADER', 'LEADER_NOT_AVAILABLE']).toContain((await held as { err?: string }).err);
    const second = await c.leader();
    expect(second.id).toBe(to.id);
    expect(await second.replica.produce(seqBatch(0, 'a'), 'all', 5_000)).toBeGreaterThan(0);
    expect(await second.replica.produce(seqBatch(1, 'b'), 'all', 5_000)).toBeGreaterThan(0);
    const values = valuesOf(second.replica.read(0, 1 << 20).records).map((s) => s.split(':')[1]);
    expect(values).toEqual(['a', 'b']);
    // Every replica converges on that log: the held copy reached none of them.
    const deadline = Date.now() + 5_000;
    while ([...c.nodes.values()].some((n) => n.replica.hw < second.replica.hw) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const n of c.nodes.values()) expect(valuesOf(n.plog.read(0, 1 << 20, n.replica.hw).records).map((s) => s.split(':')[1])).toEqual(['a', 'b']);
  });

  it('lets a retry of an uncommitted batch wait for it without failing another producer\'s later batch', async () => {
    const { c, leader } = await threeNodes();
    const followers = [...c.nodes.values()].filter((n) => n !== leader);
    for (const f of followers) f.up = false; // nothing commits for a moment
    const a = settled(leader.replica.produce(seqBatch(0, 'a', 1), 'all', 3_000));
    await new Promise((r) => setTimeout(r, 5));
    const b = settled(leader.replica.produce(seqBatch(0, 'b', 2), 'all', 3_000));
    await new Promise((r) => setTimeout(r, 5));
    const aRetry = settled(leader.replica.produce(seqBatch(0, 'a', 1), 'all', 3_000));
    for (const f of followers) f.up = true;
    expect(await Promise.all([a, b, aRetry])).toEqual([{ ok: 1 }, { ok: 2 }, { ok: 1 }]);
  });

  it('answers a non-leader with NOT_LEADER and the leader hint, and rejects a corrupt batch', async () => {
    const { c, leader } = await threeNodes();
    const follower = [...c.nodes.values()].find((n) => n !== leader)!;
    await new Promise((r) => setTimeout(r, 100)); // followers learn the leader from its appends
    const err = await follower.replica.produce(batch('x'), 'all', 1_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplicaError);
    expect(err).toMatchObject({ code: 'NOT_LEADER', leaderHint: leader.id });
    const bad = batch('y');
    bad[bad.length - 1] ^= 0xff;
    await expect(leader.replica.produce(bad, 'all', 1_000)).rejects.toMatchObject({ code: 'CORRUPT_MESSAGE' });
    expect(leader.replica.hw).toBe(1);
  });

  it('answers a read between the high watermark and the log end with nothing (to long-poll), not out of range', async () => {
    const { c, leader } = await threeNodes();
    await leader.replica.produce(batch('committed'), 'all', 5_000);
    for (const n of c.nodes.values()) if (n !== leader) await c.kill(n.id);
    await leader.replica.produce(batch('uncommitted'), 'leader', 5_000);
    const hw = leader.replica.hw;
    expect(leader.plog.logEndOffset).toBeGreaterThan(hw);
    // Past the high watermark, at the log end: the new-leader situation. Nothing yet, no error.
    const r = leader.replica.read(leader.plog.logEndOffset, 1 << 20);
    expect(r.records.length).toBe(0);
    expect(r.highWatermark).toBe(hw);
    if (leader.replica.isLeader) expect(() => leader.replica.read(leader.plog.logEndOffset + 5, 1 << 20)).toThrow(/outside/);
  });

  it('brings back a follower that fell behind the leader\'s log start with a log-start reset', async () => {
    const { c, leader } = await threeNodes();
    for (let i = 0; i < 20; i += 1) await leader.replica.produce(batch(`a${i}`), 'all', 5_000);
    const lagging = [...c.nodes.values()].find((n) => n !== leader)!;
    await c.kill(lagging.id);
    for (let i = 0; i < 20; i += 1) await leader.replica.produce(batch(`b${i}`), 'all', 5_000);
    // Retention on the leader: everything committed so far is gone from its log.
    const commit = leader.host.status(group)!.commit;
    leader.host.requestCompaction(group, commit);
    const until = Date.now() + 3_000;
    while (leader.plog.logStartOffset === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const logStart = leader.plog.logStartOffset;
    expect(logStart).toBe(leader.replica.hw);
    expect(leader.plog.logStartOffset).toBe(logStart);

    const back = await c.startNode(lagging.id, [1, 2, 3]);
    for (let i = 0; i < 5; i += 1) await leader.replica.produce(batch(`c${i}`), 'all', 5_000);
    const deadline = Date.now() + 5_000;
    while (back.replica.hw < leader.replica.hw && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(back.replica.hw).toBe(leader.replica.hw);
    expect(back.plog.logStartOffset).toBe(logStart);
    const range = (n: TestNode) => n.plog.read(logStart, 1 << 20, n.replica.hw).records;
    expect(range(back).equals(range(leader))).toBe(true);
    expect(valuesOf(range(back))).toEqual(Array.from({ length: 5 }, (_, i) => `${logStart + i}:c${i}`));
    expect(() => back.replica.read(0, 1 << 20)).toThrow(/outside/);

    // It restarts from its installed snapshot.
    await c.kill(back.id);
    const again = await c.startNode(back.id, [1, 2, 3]);
    expect(again.plog.logStartOffset).toBe(logStart);
    expect(again.replica.hw).toBeGreaterThanOrEqual(logStart);
  });

  it('drops a snapshot it cannot install (malformed data) before Raft accepts it', async () => {
    const { c, leader } = await threeNodes();
    await leader.replica.produce(batch('x'), 'all', 5_000);
    const follower = [...c.nodes.values()].find((n) => n !== leader)!;
    const hwBefore = follower.plog.logEndOffset;
    follower.host.step(group, {
      type: 'snap', term: asTerm(leader.replica.term), from: leader.id, to: follower.id,
      snapshot: { meta: { index: asIndex(999), term: asTerm(leader.replica.term), confState: { voters: [1, 2, 3].map(asNodeId), learners: [] } }, data: new Uint8Array(3) },
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(follower.plog.logEndOffset).toBe(hwBefore);
    expect(follower.plog.logStartOffset).toBe(0);
    await leader.replica.produce(batch('y'), 'all', 5_000); // the group still works
  });

  it('after the leader is killed, a new leader serves every acknowledged record at its offset', async () => {
    const { c, leader: first } = await threeNodes();
    const acked = new Map<number, string>();
    for (let i = 0; i < 20; i += 1) acked.set(await first.replica.produce(batch(`v${i}`), 'all', 5_000), `v${i}`);
    await c.kill(first.id);
    const second = await c.leader();
    expect(second.id).not.toBe(first.id);
    for (let i = 20; i < 30; i += 1) acked.set(await second.replica.produce(batch(`v${i}`), 'all', 5_000), `v${i}`);
    const served = new Map(valuesOf(second.replica.read(0, 1 << 20).records).map((s) => {
      const [o, v] = s.split(':');
      return [Number(o), v!];
    }));
    for (const [offset, value] of acked) expect(served.get(offset)).toBe(value);
    // The killed node restarts from its disk and catches up.
    const back = await c.startNode(first.id, [1, 2, 3]);
    const deadline = Date.now() + 5_000;
    while (back.replica.hw < second.replica.hw && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(back.plog.read(0, 1 << 20, back.replica.hw).records.equals(second.plog.read(0, 1 << 20, second.replica.hw).records)).toBe(true);
  });
  it('replicates a tombstone horizon that never passes what the slowest member holds', async () => {
    const { c, leader } = await threeNodes();
    await Promise.all(['a', 'b'].map((v) => leader.replica.produce(batch(v), 'all', 5_000)));
    const end = leader.plog.logEndOffset;
    const horizons = (): number[] => [...c.nodes.values()].filter((n) => n.up).map((n) => n.replica.tombstoneHorizon);
    const deadline = Date.now() + 5_000;
    // The leader proposes as members catch up (its own horizon records count too).
    while (!horizons().every((h) => h >= end && h === horizons()[0]) && Date.now() < deadline) {
      leader.replica.maybeAdvanceTombstoneHorizon();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(horizons().every((h) => h >= end && h === horizons()[0])).toBe(true);

    // A member that is down receives nothing more: the horizon never passes what it holds.
    const down = [...c.nodes.values()].find((n) => n !== leader)!;
    const downEnd = down.plog.logEndOffset;
    await c.kill(down.id);
    await Promise.all(['c', 'd'].map((v) => leader.replica.produce(batch(v), 'all', 5_000)));
    for (let i = 0; i < 20; i++) {
      leader.replica.maybeAdvanceTombstoneHorizon();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(leader.replica.hw).toBeGreaterThan(downEnd + 1);
    for (const h of horizons()) expect(h).toBeLessThanOrEqual(downEnd);
  });
});
