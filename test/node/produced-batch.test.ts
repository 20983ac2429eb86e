import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../log/index.js';
import { checkProducedBatch } from '../../node/partition-replica.js';
import { ReplicaError } from '../../node/replica-error.js';

const rec = (i: number) => ({ key: null, value: Buffer.from(`v${i}`), timestamp: 1_700_000_000_000 + i });
const problem = (batch: Buffer, max = 1 << 20, compactedTopic?: string) => {
  const r = checkProducedBatch(batch, max, compactedTopic);
  return r instanceof ReplicaError ? r : undefined;
};

describe('what a client may produce', () => {
  it('accepts an ordinary batch and returns its header', () => {
    expect(checkProducedBatch(encodeBatch({ records: [rec(0), rec(1), rec(2)] }), 1 << 20)).toMatchObject({ recordCount: 3, producerId: -1 });
  });

  it('refuses control and transactional batches (they would be read back as Ferry control records)', () => {
    const control = encodeBatch({ isControl: true, records: [{ key: Buffer.from([0, 0, 0, 100]), value: null, timestamp: 1 }] });
    expect(problem(control)).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/control/) });
    const txn = encodeBatch({ isTransactional: true, records: [rec(0)] });
    expect(problem(txn)).toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('accepts an idempotent producer id with epoch and sequence, refuses half-set ones and offset gaps', () => {
    expect(checkProducedBatch(encodeBatch({ producerId: 7, producerEpoch: 0, baseSequence: 0, records: [rec(0)] }), 1 << 20))
      .toMatchObject({ producerId: 7, producerEpoch: 0, baseSequence: 0 });
    expect(problem(encodeBatch({ producerId: 7, producerEpoch: 0, baseSequence: -1, records: [rec(0)] })))
      .toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/7\/0\/-1/) });
    expect(problem(encodeBatch({ producerId: -1, producerEpoch: 0, baseSequence: -1, records: [rec(0)] })))
      .toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/without producer id/) });
    const gap = encodeBatch({ records: [{ ...rec(0), offsetDelta: 0 }, { ...rec(1), offsetDelta: 2 ** 31 - 2 }] });
    expect(problem(gap)).toMatchObject({ code: 'CORRUPT_MESSAGE', message: expect.stringMatching(/0\.\.n-1/) });
  });

  it('maps storage validation failures to the wire codes', () => {
    const bad = encodeBatch({ records: [rec(0)] });
    bad[bad.length - 1] ^= 1;
    expect(problem(bad)?.code).toBe('CORRUPT_MESSAGE');
    expect(problem(encodeBatch({ records: [{ ...rec(0), value: Buffer.alloc(5000) }] }), 4096)?.code).toBe('MESSAGE_TOO_LARGE');
  });
});

describe('what a client may produce to a compacted topic', () => {
  const keyed = (k: string | null) => ({ key: k === null ? null : Buffer.from(k), value: Buffer.from('v'), timestamp: 1 });

  it('accepts keyed records, tombstones included', () => {
    const batch = encodeBatch({ records: [keyed('a'), { ...keyed('b'), value: null }] });
    expect(problem(batch, 1 << 20, 'users')).toBeUndefined();
  });

  it('refuses a batch with any keyless record, naming the topic and the record', () => {
    const batch = encodeBatch({ records: [keyed('a'), keyed(null)] });
    expect(problem(batch, 1 << 20, 'users')).toMatchObject({
      code: 'INVALID_REQUEST', message: expect.stringMatching(/topic "users" is compacted .*record 1 of the batch has none/),
    });
    expect(problem(batch, 1 << 20)).toBeUndefined(); // the same batch is fine on a delete-policy topic
  });
});
