import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchesRetainedPerProducer, lastSequenceOf, ProducerStateTable, type ProducerBatchHeader } from '../../node/producer-state.js';

const h = (producerId: number, producerEpoch: number, baseSequence: number, recordCount = 1, maxTimestamp = 1_000): ProducerBatchHeader =>
  ({ producerId, producerEpoch, baseSequence, lastOffsetDelta: recordCount - 1, maxTimestamp });

describe('ProducerStateTable', () => {
  it('appends in sequence, answers retries of the last 5 batches as duplicates, refuses gaps', () => {
    const t = new ProducerStateTable(100);
    expect(t.check(h(1, 0, 0, 3))).toEqual({ kind: 'append' });
    t.record(h(1, 0, 0, 3), 10, 100);
    expect(t.check(h(1, 0, 0, 3))).toMatchObject({ kind: 'duplicate', batch: { index: 10, baseOffset: 100 } });
    expect(t.check(h(1, 0, 4, 1))).toMatchObject({ kind: 'reject', code: 'OUT_OF_ORDER_SEQUENCE', message: expect.stringMatching(/next expected is 3/) });
    for (let i = 0; i < batchesRetainedPerProducer; i += 1) t.record(h(1, 0, 3 + i, 1), 11 + i, 103 + i);
    // The first batch fell out of the window: a retry of it is no longer recognised.
    expect(t.check(h(1, 0, 0, 3))).toMatchObject({ kind: 'reject', code: 'OUT_OF_ORDER_SEQUENCE' });
    expect(t.describe(1)?.batches).toHaveLength(batchesRetainedPerProducer);
  });

  it('fences older epochs, starts a newer epoch at 0, and treats unknown producers as new', () => {
    const t = new ProducerStateTable(100);
    t.record(h(1, 2, 0), 1, 0);
    expect(t.check(h(1, 1, 1))).toMatchObject({ kind: 'reject', code: 'PRODUCER_FENCED' });
    expect(t.check(h(1, 3, 5))).toMatchObject({ kind: 'reject', code: 'OUT_OF_ORDER_SEQUENCE', message: expect.stringMatching(/new epoch starts at 0/) });
    expect(t.check(h(1, 3, 0))).toEqual({ kind: 'append' });
    expect(t.check(h(2, 0, 0))).toEqual({ kind: 'append' });
    expect(t.check(h(2, 0, 7))).toMatchObject({ kind: 'reject', code: 'UNKNOWN_PRODUCER_ID' });
  });

  it('marks a refusal "early" only when the batches before it could still arrive', () => {
    const t = new ProducerStateTable(100);
    t.record(h(1, 0, 0, 3), 1, 0);
    expect(t.check(h(1, 0, 5))).toMatchObject({ kind: 'reject', code: 'OUT_OF_ORDER_SEQUENCE', early: true }); // a gap ahead
    for (let i = 0; i < batchesRetainedPerProducer; i += 1) t.record(h(1, 0, 3 + i), 2 + i, 3 + i);
    expect(t.check(h(1, 0, 0, 3))).toMatchObject({ kind: 'reject', code: 'OUT_OF_ORDER_SEQUENCE', early: false }); // too old
    expect(t.check(h(1, 1, 4))).toMatchObject({ kind: 'reject', code: 'OUT_OF_ORDER_SEQUENCE', early: true }); // a new epoch's first batch is on its way
    expect(t.check(h(2, 0, 9))).toMatchObject({ kind: 'reject', code: 'UNKNOWN_PRODUCER_ID', early: true }); // so is a new producer's
    t.record(h(3, 4, 0), 9, 9);
    expect(t.check(h(3, 3, 1))).toMatchObject({ kind: 'reject', code: 'PRODUCER_FENCED', early: false });
    // Across the wrap: 2^31 - 1 -> 0 is one step ahead, not two billion behind.
    const u = new ProducerStateTable(10);
    u.record(h(1, 0, 2 ** 31 - 3), 1, 0);
    expect(u.check(h(1, 0, 0))).toMatchObject({ kind: 'reject', early: true });
  });

  it('wraps sequences after the int32 maximum', () => {
    const t = new ProducerStateTable(10);
    const near = 2 ** 31 - 2;
    expect(lastSequenceOf(near, 3)).toBe(1);
    t.record(h(1, 0, 0), 1, 0);
    t.record(h(1, 0, 1, near - 1), 2, 1);
    expect(t.check(h(1, 0, near, 4))).toEqual({ kind: 'append' });
    t.record(h(1, 0, near, 4), 3, near);
    expect(t.check(h(1, 0, 2))).toEqual({ kind: 'append' });
  });

  it('bounds producers: the least recently written one goes first', () => {
    const t = new ProducerStateTable(2);
    t.record(h(1, 0, 0), 1, 0);
    t.record(h(2, 0, 0), 2, 1);
    t.record(h(1, 0, 1), 3, 2);
    t.record(h(3, 0, 0), 4, 3);
    expect(t.size).toBe(2);
    expect(t.describe(2)).toBeUndefined();
    expect(t.describe(1)).toBeDefined();
  });

  it('prunes batches below a new log start and expires idle producers', () => {
    const t = new ProducerStateTable(10);
    t.record(h(1, 0, 0, 1, 1_000), 1, 0);
    t.record(h(1, 0, 1, 1, 1_000), 2, 1);
    t.record(h(2, 0, 0, 1, 5_000), 3, 2);
    t.prune(1);
    expect(t.describe(1)?.batches.map((b) => b.baseOffset)).toEqual([1]);
    t.prune(2);
    expect(t.describe(1)).toBeUndefined();
    expect(t.expireIdle(10_000, 6_000)).toBe(0);
    expect(t.expireIdle(12_000, 6_000)).toBe(1);
    expect(t.size).toBe(0);
  });

  it('refuses a nonsensical bound', () => {
    expect(() => new ProducerStateTable(0)).toThrow(/positive integer/);
  });
});

/**
 * A leader that appends what check() allows, fed by producers that send, lose, retry and bump
 * epochs at random. Whatever happens: no batch is in the log twice, each producer epoch's
 * sequences in the log are contiguous from 0, retries of recent batches are recognised with
 * their original place, and a table rebuilt by replaying the log agrees with the live one.
 */
describe('ProducerStateTable against a model of producers and a log', () => {
  type Cmd =
    | { t: 'send'; p: number; n: number; lose: boolean }
    | { t: 'retry'; p: number; back: number }
    | { t: 'bump'; p: number }
    | { t: 'prune'; frac: number }
    | { t: 'restart' };
  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ t: fc.constant('send' as const), p: fc.nat(3), n: fc.integer({ min: 1, max: 4 }), lose: fc.boolean() }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('retry' as const), p: fc.nat(3), back: fc.nat(7) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('bump' as const), p: fc.nat(3) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('prune' as const), frac: fc.double({ min: 0, max: 1, noNaN: true }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const) }) },
  );

  it('never appends a duplicate or a gap, and replays to the same state', () => {
    fc.assert(fc.property(fc.array(cmd, { maxLength: 120 }), (cmds) => {
      interface LogBatch { header: ProducerBatchHeader; index: number; baseOffset: number }
      const log: LogBatch[] = [];
      let logStart = 0;
      let nextOffset = 0;
      let table = new ProducerStateTable(3);
      const producers = [0, 1, 2, 3].map((id) => ({ id: id + 10, epoch: 0, next: 0, sent: [] as ProducerBatchHeader[] }));
      // A retry of a first batch (sequence 0) from a producer whose state is gone (evicted past
      // maxProducers, or pruned with the log start) looks exactly like a producer starting anew,
      // so it is appended again: the documented limit of bounded producer state (Kafka's too,
      // once producer state expires). Such re-appends are exempt from the duplicate check.
      const restarts = new Set<LogBatch>();
      const offer = (hd: ProducerBatchHeader, retry = false): void => {
        const forgotten = retry && table.describe(hd.producerId) === undefined;
        const v = table.check(hd);
        if (v.kind === 'append') {
          const b = { header: hd, index: log.length + 1, baseOffset: nextOffset };
          if (forgotten) restarts.add(b);
          log.push(b);
          nextOffset += hd.lastOffsetDelta + 1;
          table.record(hd, b.index, b.baseOffset);
        } else if (v.kind === 'duplicate') {
          const original = log[v.batch.index - 1]!;
          expect(original.header).toMatchObject({ producerId: hd.producerId, producerEpoch: hd.producerEpoch, baseSequence: hd.baseSequence });
          expect(v.batch.baseOffset).toBe(original.baseOffset);
        }
      };
      for (const c of cmds) {
        if (c.t === 'send') {
          const p = producers[c.p]!;
          const hd = h(p.id, p.epoch, p.next, c.n);
          p.next = (p.next + c.n) % 2 ** 31;
          p.sent.push(hd);
          if (!c.lose) offer(hd);
        } else if (c.t === 'retry') {
          const p = producers[c.p]!;
          const hd = p.sent[p.sent.length - 1 - c.back];
          if (hd) offer(hd, true);
        } else if (c.t === 'bump') {
          const p = producers[c.p]!;
          p.epoch += 1;
          p.next = 0;
          p.sent = [];
        } else if (c.t === 'prune') {
          logStart = Math.max(logStart, Math.floor(nextOffset * c.frac));
          table.prune(logStart);
        } else {
          const rebuilt = new ProducerStateTable(3);
          for (const b of log) rebuilt.record(b.header, b.index, b.baseOffset);
          rebuilt.prune(logStart);
          for (const p of producers) expect(rebuilt.describe(p.id)).toEqual(table.describe(p.id));
          table = rebuilt;
        }
        expect(table.size).toBeLessThanOrEqual(3);
      }
      // Every (producer, epoch, sequence) is in the log once, contiguous from 0 per epoch while the
      // producer's state was kept (an evicted or pruned producer restarts at 0 or is refused).
      const seen = new Set<string>();
      for (const b of log) {
        const k = `${b.header.producerId}/${b.header.producerEpoch}/${b.header.baseSequence}`;
        if (restarts.has(b)) {
          expect(b.header.baseSequence).toBe(0);
          continue;
        }
        expect(seen.has(k)).toBe(false);
        seen.add(k);
      }
      const lastSeq = new Map<string, number>();
      for (const b of log) {
        const k = `${b.header.producerId}/${b.header.producerEpoch}`;
        const prev = lastSeq.get(k);
        if (prev !== undefined && b.header.baseSequence !== 0) expect(b.header.baseSequence).toBe((prev + 1) % 2 ** 31);
        lastSeq.set(k, lastSequenceOf(b.header.baseSequence, b.header.lastOffsetDelta));
      }
    }), { numRuns: 300 });
  });
});
