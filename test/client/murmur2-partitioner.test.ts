import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../client/murmur2-partitioner.js';

const require = createRequire(import.meta.url);
// kafkajs: an independent implementation of Kafka's murmur2 (takes a string or Buffer).
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

describe('murmur2 partitioner', () => {
  it("matches the vectors of Kafka's UtilsTest.testMurmur2", () => {
    const cases: Array<[Uint8Array, number]> = [
      [Buffer.from('21'), -973932308],
      [Buffer.from('foobar'), -790332482],
      [Buffer.from('a-little-bit-long-string'), -985981536],
      [Buffer.from('a-little-bit-longer-string'), -1486304829],
      [Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
      [Buffer.from([0x61, 0x62, 0x63]), 479470107],
    ];
    for (const [data, expected] of cases) expect(murmur2(data)).toBe(expected);
  });

  it('agrees with kafkajs for arbitrary keys (all tail lengths, high bytes)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      expect(murmur2(bytes)).toBe(kafkajsMurmur2(Buffer.from(bytes)));
    }), { numRuns: 2000 });
  });

  it('maps keys to a partition in range, stable for the same key', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: 1, max: 10_000 }), (key, n) => {
      const p = partitionForKey(key, n);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(n);
      expect(partitionForKey(Buffer.from(key), n)).toBe(p);
    }));
  });

  it('rejects a non-positive partition count', () => {
    expect(() => partitionForKey(Buffer.from('k'), 0)).toThrow(/positive integer/);
    expect(() => partitionForKey(Buffer.from('k'), 1.5)).toThrow(/positive integer/);
  });
});
