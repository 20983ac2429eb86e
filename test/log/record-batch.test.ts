import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  batchCrcValid,
  decodeBatch,
  encodeBatch,
  offsetAfterBatches,
  patchBaseOffset,
  patchLeaderEpoch,
  readBatchHeader,
  validateBatch,
  type RecordInput,
} from '../../log/index.js';
import { kafka, type KafkaRecordInput } from './helpers.js';

const baseTs = 1_700_000_000_000;
const sameBytes = (a: Buffer | null, b: Buffer | null): boolean => (a === null || b === null ? a === b : a.equals(b));
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const nullableBytes = fc.oneof(
  { weight: 4, arbitrary: bytes(64) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 150_000 }).map((n) => Buffer.alloc(n, n % 251)) },
);
const header = fc.record({ key: fc.string({ maxLength: 16 }), value: fc.option(bytes(32), { nil: null }) });
const record: fc.Arbitrary<RecordInput> = fc.record({
  key: nullableBytes,
  value: nullableBytes,
  headers: fc.array(header, { maxLength: 12 }),
  // negative deltas: records need not be in timestamp order
  timestamp: fc.integer({ min: baseTs - 2 ** 40, max: baseTs + 2 ** 40 }),
});
const batchInput = fc.record({
  records: fc.array(record, { minLength: 1, maxLength: 20 }),
  baseOffset: fc.integer({ min: 0, max: 2 ** 50 }),
  partitionLeaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  isControl: fc.boolean(),
  isTransactional: fc.boolean(),
  producerId: fc.integer({ min: -1, max: 2 ** 50 }),
  producerEpoch: fc.integer({ min: -1, max: 32767 }),
  baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
});

describe('RecordBatch v2 codec', () => {
  it('round-trips arbitrary batches (nulls, huge keys, many headers, negative timestamp deltas, control)', () => {
    fc.assert(
      fc.property(batchInput, (input) => {
        const buf = encodeBatch(input);
        const batch = decodeBatch(buf);
        expect(batch.baseOffset).toBe(input.baseOffset);
        expect(batch.lastOffset).toBe(input.baseOffset + input.records.length - 1);
        expect(batch.partitionLeaderEpoch).toBe(input.partitionLeaderEpoch);
        expect(batch.isControl).toBe(input.isControl);
        expect((batch.attributes & 0x20) !== 0).toBe(input.isControl);
        expect(batch.isTransactional).toBe(input.isTransactional);
        expect([batch.producerId, batch.producerEpoch, batch.baseSequence]).toEqual([
          input.producerId,
          input.producerEpoch,
          input.baseSequence,
        ]);
        expect(batch.recordCount).toBe(input.records.length);
        expect(batch.maxTimestamp).toBe(Math.max(...input.records.map((r) => r.timestamp)));
        batch.records.forEach((r, i) => {
          const want = input.records[i] as RecordInput;
          expect(r.offset).toBe(input.baseOffset + i);
          expect(r.timestamp).toBe(want.timestamp);
          // Buffer.equals, not toEqual: deep equality on 100 KiB buffers is very slow
          expect(sameBytes(r.key, want.key) && sameBytes(r.value, want.value)).toBe(true);
          expect(r.headers).toEqual(want.headers);
        });
        expect(batch.sizeBytes).toBe(buf.length);
      }),
      { numRuns: 150 },
    );
  });

  it('patching base offset and leader epoch keeps the CRC valid', () => {
    fc.assert(
      fc.property(
        batchInput,
        fc.integer({ min: 0, max: 2 ** 52 }),
        fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        (input, offset, epoch) => {
          const buf = encodeBatch(input);
          const crcBefore = readBatchHeader(buf).crc;
          patchBaseOffset(buf, offset);
          patchLeaderEpoch(buf, epoch);
          expect(batchCrcValid(buf, 0, buf.length)).toBe(true);
          const h = validateBatch(buf, buf.length);
          expect([h.baseOffset, h.partitionLeaderEpoch, h.crc]).toEqual([offset, epoch, crcBefore]);
        },
      ),
      { numRuns: 100 },
    );
  });
});

// kafkajs is an independent RecordBatch v2 implementation (its own CRC-32C and varints).
const kafkaRecords = fc.array(
  fc.record({
    key: fc.option(bytes(40), { nil: null }),
    value: fc.option(bytes(200), { nil: null }),
    headers: fc.uniqueArray(fc.record({ key: fc.string({ maxLength: 8 }).map((s) => `h-${s}`), value: bytes(16) }), {
      maxLength: 6,
      selector: (h) => h.key,
    }),
    timestamp: fc.integer({ min: baseTs - 1_000_000, max: baseTs + 1_000_000 }),
  }),
  { minLength: 1, maxLength: 15 },
);
const kafkaMeta = fc.record({
  baseOffset: fc.integer({ min: 0, max: 2 ** 40 }),
  epoch: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  producerId: fc.integer({ min: -1, max: 2 ** 40 }),
  producerEpoch: fc.integer({ min: 0, max: 32767 }),
  baseSequence: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  transactional: fc.boolean(),
});

describe('cross-check against kafkajs', () => {
  it('batches kafkajs encodes decode in Ferry, and are byte-identical to what Ferry encodes', async () => {
    await fc.assert(
      fc.asyncProperty(kafkaRecords, kafkaMeta, async (records, meta) => {
        const first = (records[0] as { timestamp: number }).timestamp;
        const theirs = (
          await kafka.RecordBatch({
            firstOffset: kafka.Long.fromValue(meta.baseOffset),
            firstTimestamp: first,
            maxTimestamp: Math.max(...records.map((r) => r.timestamp)),
            partitionLeaderEpoch: meta.epoch,
            lastOffsetDelta: records.length - 1,
            producerId: kafka.Long.fromValue(meta.producerId),
            producerEpoch: meta.producerEpoch,
            firstSequence: meta.baseSequence,
            transactional: meta.transactional,
            records: records.map((r, i) => {
              const input: KafkaRecordInput = {
                offsetDelta: i,
                timestampDelta: r.timestamp - first,
                key: r.key,
                value: r.value,
                headers: Object.fromEntries(r.headers.map((h) => [h.key, h.value])),
              };
              return kafka.Record(input);
            }),
          })
        ).buffer;
        const batch = decodeBatch(theirs);
        expect(batch.baseOffset).toBe(meta.baseOffset);
        expect(batch.partitionLeaderEpoch).toBe(meta.epoch);
        expect(batch.isTransactional).toBe(meta.transactional);
        expect(batch.producerId).toBe(meta.producerId);
        batch.records.forEach((r, i) => {
          const want = records[i] as (typeof records)[number];
          expect([r.offset, r.timestamp]).toEqual([meta.baseOffset + i, want.timestamp]);
          expect([r.key, r.value]).toEqual([want.key, want.value]);
          expect(r.headers).toEqual(want.headers);
        });
        const ours = encodeBatch({
          records,
          baseOffset: meta.baseOffset,
          partitionLeaderEpoch: meta.epoch,
          isTransactional: meta.transactional,
          producerId: meta.producerId,
          producerEpoch: meta.producerEpoch,
          baseSequence: meta.baseSequence,
        });
        expect(ours.toString('hex')).toBe(theirs.toString('hex'));
      }),
      { numRuns: 100 },
    );
  });

  it('batches Ferry encodes (incl. control batches, null header values) decode in kafkajs', async () => {
    await fc.assert(
      fc.asyncProperty(kafkaRecords, kafkaMeta, fc.boolean(), fc.boolean(), async (records, meta, isControl, nullHeaderValues) => {
        const withNulls = records.map((r) => ({ ...r, headers: r.headers.map((h) => ({ key: h.key, value: nullHeaderValues ? null : h.value })) }));
        const ours = encodeBatch({ records: withNulls, baseOffset: meta.baseOffset, partitionLeaderEpoch: meta.epoch, isControl });
        const theirs = await kafka.decodeBatch(new kafka.Decoder(ours));
        expect(theirs.firstOffset).toBe(String(meta.baseOffset));
        expect(theirs.partitionLeaderEpoch).toBe(meta.epoch);
        expect(theirs.isControlBatch).toBe(isControl);
        expect(theirs.lastOffsetDelta).toBe(records.length - 1);
        expect(theirs.maxTimestamp).toBe(String(Math.max(...records.map((r) => r.timestamp))));
        expect(theirs.records).toHaveLength(records.length);
        theirs.records.forEach((r, i) => {
          const want = withNulls[i] as (typeof withNulls)[number];
          expect([r.offset, r.timestamp]).toEqual([String(meta.baseOffset + i), String(want.timestamp)]);
          expect([r.key, r.value]).toEqual([want.key, want.value]);
          expect(r.headers).toEqual(Object.fromEntries(want.headers.map((h) => [h.key, h.value])));
        });
      }),
      { numRuns: 100 },
    );
  });
});

describe('offsetAfterBatches', () => {
  it('gives the offset after the last of back-to-back batches, or the fallback when there are none', () => {
    const a = encodeBatch({ baseOffset: 10, records: [{ key: null, value: Buffer.from('x'), timestamp: 1 }, { key: null, value: Buffer.from('y'), timestamp: 1 }] });
    const b = encodeBatch({ baseOffset: 12, records: [{ key: null, value: Buffer.from('z'), timestamp: 1 }] });
    expect(offsetAfterBatches(Buffer.concat([a, b]), 0)).toBe(13);
    expect(offsetAfterBatches(Buffer.alloc(0), 42)).toBe(42);
  });
});
