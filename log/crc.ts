// CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2, via @node-rs/crc32 (SIMD).
import { crc32c } from '@node-rs/crc32';

/** CRC-32C of buf[start, end) as an unsigned 32-bit number. */
export function crc32cOf(buf: Buffer, start = 0, end = buf.length): number {
  return crc32c(buf.subarray(start, end)) >>> 0;
}
