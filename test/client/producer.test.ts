import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBatch, readBatchHeader } from '../../log/index.js';
import { ProducerStateTable } from '../../node/producer-state.js';
import { fakeNode, okError, topicLearnedOnFirstLookup } from './fakes.js';
import { Producer } from '../../client/producer.js';

/** A fake node that accepts batches up to `limit` bytes and assigns offsets like a leader. */
function fakeCluster(limit: number) {
  const batches: Buffer[] = [];
  let next = 0;
  let producerIds = 0;
  const { pool, metadata } = fakeNode({
    InitProducerId(_req, _o, cb) {
      setImmediate(() => cb(null, { error: okError, producerId: producerIds++, producerEpoch: 0 }));
    },
    Produce(req: { partitions: Array<{ batch: Buffer }> }, _o, cb) {
      const batch = req.partitions[0]!.batch;
      batches.push(batch);
      const tooBig = batch.length > limit;
      const base = next;
      if (!tooBig) next += readBatchHeader(batch).recordCount;
      const error = tooBig ? { ...okError, code: 'ERROR_CODE_MESSAGE_TOO_LARGE', message: `batch of ${batch.length} > ${limit}` } : okError;
      setImmediate(() => cb(null, { results: [{ baseOffset: tooBig ? -1 : base, error }] }));
    },
  });
  return { pool, metadata, batches };
}

describe('producer batching', () => {
  it('never builds a batch larger than maxBatchBytes, whatever the record size, and keeps offsets dense', async () => {
    for (const valueBytes of [100, 1024, 10 * 1024, 100 * 1024]) {
      const limit = 1024 * 1024 + 12; // Kafka's default max.message.bytes
      const { pool, metadata, batches } = fakeCluster(limit);
      const producer = new Producer(pool, metadata, { maxBatchBytes: 1024 * 1024, lingerMs: 1 });
      const headers = { trace: 'x'.repeat(40) };
      const sent = await Promise.all(Array.from({ length: 300 }, (_, i) =>
        producer.send('t', { value: Buffer.alloc(valueBytes, i % 256), headers, partition: 0 })));
      expect(sent.map((m) => m.offset)).toEqual(Array.from({ length: 300 }, (_, i) => i));
      for (const b of batches) expect(b.length, `${valueBytes} B values`).toBeLessThanOrEqual(1024 * 1024);
      expect(batches.reduce((n, b) => n + decodeBatch(b).records.length, 0)).toBe(300);
    }
  });

  it('flush/close wait for sends that were still looking up metadata', async () => {
    const { pool, metadata, batches } = fakeCluster(1 << 20);
    const producer = new Producer(pool, metadata, { lingerMs: 50 });
    const sent = producer.send('t', { value: 'last words', partition: 0 });
    await producer.close();
    expect(batches).toHaveLength(1);
    await expect(sent).resolves.toMatchObject({ offset: 0 });
  });

  it('sends a record too large for any batch alone, so only it fails', async () => {
    const { pool, metadata, batches } = fakeCluster(64 * 1024);
    const producer = new Producer(pool, metadata, { maxBatchBytes: 64 * 1024, lingerMs: 1 });
    const results = await Promise.allSettled([
      producer.send('t', { value: 'small-1', partition: 0 }),
      producer.send('t', { value: Buffer.alloc(100 * 1024), partition: 0 }),
      producer.send('t', { value: 'small-2', partition: 0 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    expect(batches).toHaveLength(3);
  });
});

/**
 * A fake leader that dedupes like a real one (node/producer-state.ts), with faults: the answer to
 * an appended batch is lost (the client sees UNAVAILABLE), a request is refused before the append
 * (NOT_LEADER), and requests are handled after random delays, so pipelined batches arrive out of
 * order.
 */
function faultyLeader(o: { loseAnswer: number; refuse: number; seed: number }) {
  let rnd = o.seed >>> 0 || 1;
  const random = () => {
    rnd ^= rnd << 13; rnd >>>= 0; rnd ^= rnd >>> 17; rnd ^= rnd << 5; rnd >>>= 0;
    return rnd / 2 ** 32;
  };
  const table = new ProducerStateTable(100);
  const log: string[] = [];
  let index = 0;
  let producerIds = 100;
  const { pool, metadata } = fakeNode({
    InitProducerId(_req, _o, cb) {
      setImmediate(() => cb(null, { error: okError, producerId: producerIds++, producerEpoch: 0 }));
    },
    Produce(req: { partitions: Array<{ batch: Buffer }> }, _o, cb) {
      const batch = req.partitions[0]!.batch;
      setTimeout(() => {
        const h = readBatchHeader(batch);
        const fail = (code: string, retriable: boolean) => cb(null, { results: [{ baseOffset: -1, error: { ...okError, code, retriable, message: code } }] });
        if (random() < o.refuse) return fail('ERROR_CODE_NOT_LEADER', true);
        let base: number;
        if (h.producerId >= 0) {
          const v = table.check(h);
          if (v.kind === 'reject') return fail(`ERROR_CODE_${v.code}`, v.code === 'OUT_OF_ORDER_SEQUENCE');
          if (v.kind === 'duplicate') {
            base = v.batch.baseOffset;
          } else {
            base = log.length;
            table.record(h, ++index, base);
            for (const r of decodeBatch(batch).records) log.push(r.value!.toString());
          }
        } else {
          base = log.length;
          for (const r of decodeBatch(batch).records) log.push(r.value!.toString());
        }
        if (random() < o.loseAnswer) return (cb as unknown as (e: object) => void)({ code: 14, details: 'answer lost (injected)' });
        cb(null, { results: [{ baseOffset: base, error: okError }] });
      }, Math.floor(random() * 3));
    },
  });
  return { pool, metadata, log };
}

describe('idempotent producer', () => {
  it('writes every record exactly once, in send order, through lost answers, refusals and reordering', async () => {
    await fc.assert(fc.asyncProperty(
      fc.record({ loseAnswer: fc.double({ min: 0, max: 0.4, noNaN: true }), refuse: fc.double({ min: 0, max: 0.3, noNaN: true }), seed: fc.integer() }),
      fc.integer({ min: 1, max: 200 }),
      async (faults, count) => {
        const { pool, metadata, log } = faultyLeader(faults);
        const producer = new Producer(pool, metadata, { lingerMs: 0, maxBatchBytes: 1024, retryBackoffMs: 1 });
        const values = Array.from({ length: count }, (_, i) => `v${String(i).padStart(4, '0')}-${'x'.repeat(i % 50)}`);
        const sent = await Promise.all(values.map((value) => producer.send('t', { value, partition: 0 })));
        await producer.close();
        expect(log).toEqual(values);
        sent.forEach((m, i) => expect(log[m.offset]).toBe(values[i]));
      },
    ), { numRuns: 40 });
  });

  it('without idempotence, a lost answer makes the retry write the batch twice (what idempotence prevents)', async () => {
    const { pool, metadata, log } = faultyLeader({ loseAnswer: 0.5, refuse: 0, seed: 7 });
    const producer = new Producer(pool, metadata, { idempotent: false, lingerMs: 0, retryBackoffMs: 1 });
    for (let i = 0; i < 30; i += 1) await producer.send('t', { value: `v${i}`, partition: 0 });
    await producer.close();
    expect(log.length).toBeGreaterThan(30);
    expect(new Set(log).size).toBe(30);
  });

  it('refuses option combinations that cannot be honoured', () => {
    const { pool, metadata } = faultyLeader({ loseAnswer: 0, refuse: 0, seed: 1 });
    expect(() => new Producer(pool, metadata, { acks: 'leader', idempotent: true })).toThrow(/needs acks "all"/);
    expect(new Producer(pool, metadata, { acks: 'leader' }).idempotent).toBe(false);
    expect(new Producer(pool, metadata).idempotent).toBe(true);
    expect(() => new Producer(pool, metadata, { maxInFlightPerPartition: 6 })).toThrow(/1-5/);
    expect(() => new Producer(pool, metadata, { idempotent: false, maxInFlightPerPartition: 2 })).toThrow(/needs idempotent/);
  });
});

describe('sticky partitioner', () => {
  it('moves unkeyed records on once a batch is full, even while the producer id is still on the way', async () => {
    const perPartition = new Map<number, number>();
    const { pool } = fakeNode({
      InitProducerId(_req, _o, cb) {
        setTimeout(() => cb(null, { error: okError, producerId: 1, producerEpoch: 0 }), 30);
      },
      Produce(req: { partitions: Array<{ partition: number; batch: Buffer }> }, _o, cb) {
        const p = req.partitions[0]!;
        perPartition.set(p.partition, (perPartition.get(p.partition) ?? 0) + readBatchHeader(p.batch).recordCount);
        setImmediate(() => cb(null, { results: [{ baseOffset: 0, error: okError }] }));
      },
    });
    const metadata = {
      ...topicLearnedOnFirstLookup({ name: 't', partitions: [0, 1, 2].map((partition) => ({ partition, replicas: [1] })) }),
      leaderAddress: async () => 'fake:1',
      anyAddress: () => 'fake:1',
      learn: () => undefined,
    } as unknown as ConstructorParameters<typeof Producer>[1];
    const producer = new Producer(pool, metadata, { maxBatchBytes: 16 * 1024, lingerMs: 1 });
    await Promise.all(Array.from({ length: 600 }, () => producer.send('t', { value: Buffer.alloc(1024) })));
    await producer.close();
    expect([...perPartition.values()].reduce((a, b) => a + b, 0)).toBe(600);
    expect(perPartition.size).toBeGreaterThan(1);
  });
});
