// Zigzag varints exactly as Kafka (and protobuf's sint32/sint64) encode them:
//   zigzag(n) = (n << 1) ^ (n >> bits-1)   maps 0,-1,1,-2,2… to 0,1,2,3,4…
//   then unsigned LEB128: 7 bits per byte, least significant group first, MSB set on every byte
//   but the last. A varint (int32) takes at most 5 bytes, a varlong (int64) at most 10.
// Values are JS numbers; varlongs outside the safe-integer range are refused (OFFSET_OVERFLOW),
// since Ferry only stores timestamps/offset deltas, which are far smaller.
import { LogError } from './errors.js';

const int32Min = -(2 ** 31);
const int32Max = 2 ** 31 - 1;
const varintBytesMax = 5;
const varlongBytesMax = 10;

function checkInt32(value: number): void {
  if (!Number.isInteger(value) || value < int32Min || value > int32Max) {
    throw new LogError('INVALID_ARGUMENT', `varint value ${value} is not an int32`);
  }
}

function checkSafe(value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new LogError('OFFSET_OVERFLOW', `varlong value ${value} is not a safe integer`);
  }
}

/**
 * Bytes needed for an unsigned LEB128 value held exactly in a JS number (may exceed 2^32): a
 * protobuf varint's size too.
 */
export function sizeOfUnsigned(u: number): number {
  let bytes = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    bytes += 1;
  }
  return bytes;
}

/** Writes an unsigned LEB128 value (a protobuf varint) at `pos`; returns the position after it. */
export function writeUnsigned(buf: Buffer, pos: number, u: number): number {
  while (u >= 0x80) {
    buf[pos++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[pos++] = u;
  return pos;
}

/** Reads an unsigned LEB128 value (a protobuf varint) at `at.pos` of well-formed bytes, moving it on. */
export function readUnsigned(buf: Buffer, at: { pos: number }): number {
  let u = 0;
  for (let mul = 1; ; mul *= 128) {
    const b = buf[at.pos++] as number;
    u += (b & 0x7f) * mul;
    if (b < 0x80) return u;
  }
}

export function sizeOfVarint(value: number): number {
  checkInt32(value);
  return sizeOfUnsigned(((value << 1) ^ (value >> 31)) >>> 0);
}

export function sizeOfVarlong(value: number): number {
  checkSafe(value);
  if (value >= int32Min && value <= int32Max) return sizeOfVarint(value);
  return sizeOfUnsignedBig(zigzag64(BigInt(value)));
}

/** Writes `value` as a zigzag varint at `pos`; returns the position after it. */
export function writeVarint(buf: Buffer, pos: number, value: number): number {
  checkInt32(value);
  let u = ((value << 1) ^ (value >> 31)) >>> 0;
  while (u >= 0x80) {
    buf[pos++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[pos++] = u;
  return pos;
}

/** Writes `value` as a zigzag varlong at `pos`; returns the position after it. */
export function writeVarlong(buf: Buffer, pos: number, value: number): number {
  checkSafe(value);
  if (value >= int32Min && value <= int32Max) return writeVarint(buf, pos, value);
  let u = zigzag64(BigInt(value));
  while (u >= 0x80n) {
    buf[pos++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  buf[pos++] = Number(u);
  return pos;
}

function zigzag64(v: bigint): bigint {
  return BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
}

function sizeOfUnsignedBig(u: bigint): number {
  let bytes = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    bytes += 1;
  }
  return bytes;
}

/**
 * A cursor over a byte range for decoding varints without allocating per value. Every read is
 * bounds-checked against `end`; running past it is a MALFORMED_RECORD (the bytes lie about sizes).
 */
export class ByteReader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  private byte(): number {
    if (this.pos >= this.end) {
      throw new LogError('MALFORMED_RECORD', `varint runs past the end of its bounds at byte ${this.pos}`);
    }
    return this.buf[this.pos++] as number;
  }

  readVarint(): number {
    let u = 0;
    for (let shift = 0; shift < 7 * varintBytesMax; shift += 7) {
      const b = this.byte();
      u |= (b & 0x7f) << shift;
      if (b < 0x80) return (u >>> 1) ^ -(u & 1);
    }
    throw new LogError('MALFORMED_RECORD', `varint longer than ${varintBytesMax} bytes at byte ${this.pos}`);
  }

  readVarlong(): number {
    const start = this.pos;
    // Fast path: up to 4 bytes fit 28 bits, exact in int32 arithmetic.
    let u = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const b = this.byte();
      u |= (b & 0x7f) << shift;
      if (b < 0x80) return (u >>> 1) ^ -(u & 1);
    }
    this.pos = start;
    let big = 0n;
    for (let shift = 0n; shift < 7n * BigInt(varlongBytesMax); shift += 7n) {
      const b = this.byte();
      big |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        const value = BigInt.asIntN(64, (big >> 1n) ^ -(big & 1n));
        if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new LogError('OFFSET_OVERFLOW', `varlong ${value} at byte ${start} is not a safe integer`);
        }
        return Number(value);
      }
    }
    throw new LogError('MALFORMED_RECORD', `varlong longer than ${varlongBytesMax} bytes at byte ${start}`);
  }

  /** Skips a varint/varlong without decoding it (used by the record walker). */
  skipVarlong(): void {
    for (let i = 0; i < varlongBytesMax; i++) {
      if (this.byte() < 0x80) return;
    }
    throw new LogError('MALFORMED_RECORD', `varlong longer than ${varlongBytesMax} bytes at byte ${this.pos}`);
  }

  /** Reads a varint length-prefixed byte string (-1 = null) as a view into the buffer. */
  readBytes(): Buffer | null {
    const len = this.readVarint();
    if (len === -1) return null;
    if (len < -1 || len > this.end - this.pos) {
      throw new LogError('MALFORMED_RECORD', `byte string length ${len} at byte ${this.pos} exceeds its record`);
    }
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
}
