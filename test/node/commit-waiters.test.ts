import { describe, expect, it } from 'vitest';
import { CommitWaiters } from '../../node/commit-waiters.js';

describe('CommitWaiters', () => {
  it('resolves a waiter whose entry commits with its term, rejects one replaced by another term', async () => {
    const w = new CommitWaiters('commit');
    const a = w.wait(5, 2, 5_000);
    const b = w.wait(6, 2, 5_000);
    w.settleThrough(6, (i) => (i === 5 ? 2 : 3));
    await expect(a).resolves.toBeUndefined();
    await expect(b).rejects.toMatchObject({ code: 'NOT_LEADER', retriable: true });
    expect(w.size).toBe(0);
  });

  it('answers stale waiters at or above a new proposal index as unknown (leadership lost and regained), never failing the new one', async () => {
    const w = new CommitWaiters('commit');
    const stale11 = w.wait(11, 2, 5_000);
    const stale12 = w.wait(12, 2, 5_000);
    const fresh = w.wait(12, 4, 5_000); // the same index, proposed again in term 4
    // The waiter at the new index left this node's log; another node may still commit it.
    await expect(stale12).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/may or may not/) });
    // The one below it learns its fate when index 11 commits (with the new leader's term).
    w.settleThrough(12, () => 4);
    await expect(stale11).rejects.toMatchObject({ code: 'NOT_LEADER' });
    await expect(fresh).resolves.toBeUndefined();
  });

  it('lets a retry wait on an earlier proposal without touching the waiters of later ones', async () => {
    const w = new CommitWaiters('commit');
    const p1 = w.wait(3, 2, 5_000);
    const p2 = w.wait(4, 2, 5_000); // another producer's batch, proposed after
    const retryOfP1 = w.waitExisting(3, 2, 5_000);
    w.settleThrough(3, () => 2);
    await expect(Promise.all([p1, retryOfP1])).resolves.toEqual([undefined, undefined]);
    expect(w.size).toBe(1); // p2 still waits, in order
    w.settleThrough(4, () => 2);
    await expect(p2).resolves.toBeUndefined();
  });

  it('answers waiters covered by a snapshot as unknown', async () => {
    const w = new CommitWaiters('commit');
    const covered = w.wait(7, 1, 5_000);
    const after = w.wait(9, 1, 5_000);
    w.unknownThrough(8, 'log-start reset');
    await expect(covered).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/log-start reset/) });
    w.settleThrough(9, () => 1);
    await expect(after).resolves.toBeUndefined();
  });

  it('times out with an honest "outcome unknown" TIMEOUT', async () => {
    const w = new CommitWaiters('commit');
    await expect(w.wait(3, 1, 20)).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/may or may not/) });
  });
});
