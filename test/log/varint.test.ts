import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from '../../log/varint.js';
import { isLogError } from '../../log/errors.js';
import { kafka } from './helpers.js';

function varint(v: number): string {
  const buf = Buffer.alloc(10);
  return buf.subarray(0, writeVarint(buf, 0, v)).toString('hex');
}
function varlong(v: number): string {
  const buf = Buffer.alloc(10);
  return buf.subarray(0, writeVarlong(buf, 0, v)).toString('hex');
}

describe('zigzag varint codec', () => {
  // Hand-computed from the protobuf encoding spec (sint32/sint64 = zigzag, then base-128 LEB128):
  // zigzag(n) = 2n for n >= 0, -2n-1 for n < 0; 7 bits per byte, low group first, MSB = "more".
  const vectors: [number, string][] = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-2, '03'],
    [-64, '7f'],
    [64, '8001'], // zigzag 128
    [150, 'ac02'], // zigzag 300: the spec's own "ac 02" example
    [-150, 'ab02'], // zigzag 299
    [2147483647, 'feffffff0f'], // zigzag 4294967294
    [-2147483648, 'ffffffff0f'], // zigzag 4294967295
  ];
  it.each(vectors)('varint %d encodes as %s', (value, hex) => {
    expect(varint(value)).toBe(hex);
    expect(sizeOfVarint(value)).toBe(hex.length / 2);
    expect(new ByteReader(Buffer.from(hex, 'hex')).readVarint()).toBe(value);
  });

  const longVectors: [number, string][] = [
    [2147483648, '8080808010'], // zigzag 2^32
    [-2147483649, '8180808010'], // zigzag 2^32 + 1
    [2 ** 35, '808080808002'], // zigzag 2^36
    [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f'], // zigzag 2^54 - 2
    [Number.MIN_SAFE_INTEGER, 'fdffffffffffff1f'], // zigzag 2^54 - 3
  ];
  it.each(longVectors)('varlong %d encodes as %s', (value, hex) => {
    expect(varlong(value)).toBe(hex);
    expect(sizeOfVarlong(value)).toBe(hex.length / 2);
    expect(new ByteReader(Buffer.from(hex, 'hex')).readVarlong()).toBe(value);
  });

  it('matches kafkajs byte for byte on arbitrary int32 varints, both directions', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => {
        const theirs = new kafka.Encoder().writeVarInt(v).buffer;
        expect(varint(v)).toBe(theirs.toString('hex'));
        expect(new ByteReader(theirs).readVarint()).toBe(v);
        const ours = Buffer.from(varint(v), 'hex');
        expect(new kafka.Decoder(ours).readVarInt()).toBe(v);
      }),
      { numRuns: 500 },
    );
  });

  it('matches kafkajs byte for byte on arbitrary safe-integer varlongs, both directions', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (v) => {
        const theirs = new kafka.Encoder().writeVarLong(kafka.Long.fromValue(v)).buffer;
        expect(varlong(v)).toBe(theirs.toString('hex'));
        expect(new ByteReader(theirs).readVarlong()).toBe(v);
        expect(new kafka.Decoder(Buffer.from(varlong(v), 'hex')).readVarLong().value).toBe(BigInt(v));
      }),
      { numRuns: 500 },
    );
  });

  it('rejects truncated, overlong and out-of-range encodings with typed errors', () => {
    expect(() => new ByteReader(Buffer.from('80', 'hex')).readVarint()).toThrow(expect.objectContaining({ code: 'MALFORMED_RECORD' }));
    expect(() => new ByteReader(Buffer.from('ffffffffff01', 'hex')).readVarint()).toThrow(
      expect.objectContaining({ code: 'MALFORMED_RECORD' }),
    );
    // zigzag 2^62 decodes to 2^61, beyond a JS safe integer
    const big = new kafka.Encoder().writeVarLong(kafka.Long.fromValue(2n ** 61n)).buffer;
    expect(() => new ByteReader(big).readVarlong()).toThrow(expect.objectContaining({ code: 'OFFSET_OVERFLOW' }));
    try {
      writeVarint(Buffer.alloc(8), 0, 2 ** 31);
      expect.unreachable();
    } catch (err) {
      expect(isLogError(err, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
