/**
 * Kafka's default key partitioner: murmur2 (32-bit, seed 0x9747b28c) of the key bytes, made
 * positive by masking the sign bit, modulo the partition count. Matching Kafka bit for bit means
 * a key lands on the same partition number from a Java, librdkafka (murmur2 mode) or kafkajs
 * producer as from Ferry's, so keyed ordering survives a client change.
 */

const seed = 0x9747b28c;
const multiplier = 0x5bd1e995;
const shift = 24;

/** Kafka's `Utils.murmur2`: a signed 32-bit hash of `data`. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (seed ^ length) | 0;
  const wholeWords = length >>> 2;
  for (let i = 0; i < wholeWords; i += 1) {
    const at = i << 2;
    // Little-endian word, as Kafka reads it.
    let k = (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) | 0;
    k = Math.imul(k, multiplier);
    k ^= k >>> shift;
    k = Math.imul(k, multiplier);
    h = Math.imul(h, multiplier);
    h ^= k;
  }
  const tail = length & ~3;
  switch (length & 3) {
    case 3:
      h ^= data[tail + 2]! << 16;
      h ^= data[tail + 1]! << 8;
      h ^= data[tail]!;
      h = Math.imul(h, multiplier);
      break;
    case 2:
      h ^= data[tail + 1]! << 8;
      h ^= data[tail]!;
      h = Math.imul(h, multiplier);
      break;
    case 1:
      h ^= data[tail]!;
      h = Math.imul(h, multiplier);
      break;
    default:
      break;
  }
  h ^= h >>> 13;
  h = Math.imul(h, multiplier);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner picks for a non-null key. */
export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError(`partitionCount must be a positive integer, got ${partitionCount}`);
  }
  // Kafka's Utils.toPositive: mask the sign bit rather than Math.abs (abs(MIN_INT) overflows).
  return (murmur2(key) & 0x7fffffff) % partitionCount;
}
