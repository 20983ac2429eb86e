// Shared fixtures for the log/ tests: temp dirs, batch builders, and a typed window onto kafkajs's
// internal RecordBatch v2 codec (an independent implementation used as the cross-check).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { encodeBatch, type PartitionLog, type RecordInput } from '../../log/index.js';

export function tempDir(prefix = 'ferry-log-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Runs `fn` with a fresh temp dir that is removed afterwards, pass or fail. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = tempDir();
  try {
    return await fn(dir);
  } finally {
    removeDir(dir);
  }
}

/** A batch of `count` records whose values identify them (`tag-i`), timestamps `ts + i`. */
export function makeBatch(count: number, tag: string, ts = 1_700_000_000_000, opts: { isControl?: boolean; valueBytes?: number } = {}): Buffer {
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    const value = Buffer.alloc(Math.max(opts.valueBytes ?? 0, 0), i);
    records.push({ key: Buffer.from(`k${i}`), value: Buffer.concat([Buffer.from(`${tag}-${i}|`), value]), timestamp: ts + i });
  }
  return encodeBatch({ records, isControl: opts.isControl ?? false });
}

/** Splits concatenated stored batches into individual batch buffers. */
export function splitBatches(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const size = buf.readInt32BE(pos + 8) + 12;
    out.push(buf.subarray(pos, pos + size));
    pos += size;
  }
  return out;
}

export function listFiles(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of fs.readdirSync(dir).sort()) out[name] = fs.readFileSync(path.join(dir, name));
  return out;
}

// ---- kafkajs internals (CommonJS, untyped): the shapes we use, typed here once ----
const require = createRequire(import.meta.url);

export interface KafkaLong {
  readonly value: bigint;
}
interface KafkaEncoder {
  readonly buffer: Buffer;
  writeVarInt(v: number): KafkaEncoder;
  writeVarLong(v: number | KafkaLong): KafkaEncoder;
}
interface KafkaDecoder {
  readVarInt(): number;
  readVarLong(): KafkaLong;
}
export interface KafkaDecodedRecord {
  readonly offset: string;
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, Buffer | Buffer[] | null>;
  readonly isControlRecord: boolean;
}
export interface KafkaDecodedBatch {
  readonly firstOffset: string;
  readonly partitionLeaderEpoch: number;
  readonly lastOffsetDelta: number;
  readonly firstTimestamp: string;
  readonly maxTimestamp: string;
  readonly producerId: string;
  readonly producerEpoch: number;
  readonly firstSequence: number;
  readonly isControlBatch: boolean;
  readonly inTransaction: boolean;
  readonly records: KafkaDecodedRecord[];
}
export interface KafkaRecordInput {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}
export interface KafkaBatchInput {
  firstOffset: KafkaLong;
  firstTimestamp: number;
  maxTimestamp: number;
  partitionLeaderEpoch: number;
  lastOffsetDelta: number;
  producerId: KafkaLong;
  producerEpoch: number;
  firstSequence: number;
  transactional: boolean;
  records: KafkaEncoder[];
}

export const kafka = {
  Long: require('kafkajs/src/utils/long') as { fromValue(v: number | string | bigint): KafkaLong },
  Encoder: require('kafkajs/src/protocol/encoder') as new () => KafkaEncoder,
  Decoder: require('kafkajs/src/protocol/decoder') as new (buf: Buffer) => KafkaDecoder,
  Record: require('kafkajs/src/protocol/recordBatch/record/v0') as (r: KafkaRecordInput) => KafkaEncoder,
  RecordBatch: (require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (b: KafkaBatchInput) => Promise<KafkaEncoder> })
    .RecordBatch,
  decodeBatch: require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: KafkaDecoder) => Promise<KafkaDecodedBatch>,
};

/** Reads every batch from `from` to the log end (or `until`), looping over segments. */
export function readAll(log: PartitionLog, from = log.logStartOffset, until = log.logEndOffset): Buffer[] {
  const out: Buffer[] = [];
  let next = from;
  while (next < until) {
    const r = log.read(next, 1 << 20, until);
    if (r.records.length === 0) break;
    out.push(...splitBatches(r.records));
    next = r.nextOffset;
  }
  return out;
}
