/**
 * The controller's snapshot: the whole MetadataState as of one controller log index, so the log
 * before it can be compacted and a node that restarts, or a lagging node sent the image by the
 * leader, rebuilds the state from it plus the log after it.
 *
 * Byte layout (all integers big-endian):
 *
 *   0   4  magic "FMDI" (Ferry Metadata Image): nothing else Ferry stores starts with it
 *   4   2  format version (1)
 *   6   4  payload length in bytes
 *   10  4  CRC-32C of the payload
 *   14  n  payload: UTF-8 JSON of MetadataImageContent
 *
 * Decoding checks every one of those and then the payload's structure, and names what was wrong:
 * an image that does not decode is never applied (the state stays as it was).
 */
import { crc32c } from '@node-rs/crc32';
import type { BrokerInfo, PartitionInfo } from './metadata-state.js';

const magic = Buffer.from('FMDI', 'ascii');
export const metadataImageFormatVersion = 1;
const headerBytes = 14;
/** Largest image written or accepted; it travels in one Raft message (gRPC limit 80 MiB). */
export const metadataImageBytesMax = 64 * 1024 * 1024;

/** The image holds MetadataState's own records (one definition, documented there); fenced always set. */
export type ImageBroker = BrokerInfo & { readonly fenced: boolean };
export type ImagePartition = PartitionInfo;

export interface ImageTopic {
  readonly name: string;
  readonly topicId: number;
  /** Every topic config key as a string, as clients send them (re-validated on load). */
  readonly config: Readonly<Record<string, string>>;
  readonly partitions: readonly ImagePartition[];
}

/** Everything MetadataState holds. */
export interface MetadataImageContent {
  /** The controller log index the image is the state after. */
  readonly appliedIndex: number;
  readonly nextProducerId: number;
  readonly brokers: readonly ImageBroker[];
  readonly topics: readonly ImageTopic[];
}

export class MetadataImageError extends Error {
  override readonly name = 'MetadataImageError';
}

export function encodeMetadataImage(content: MetadataImageContent): Buffer {
  const payload = Buffer.from(JSON.stringify(content), 'utf8');
  if (headerBytes + payload.length > metadataImageBytesMax) {
    throw new MetadataImageError(`metadata image of ${headerBytes + payload.length} bytes exceeds the ${metadataImageBytesMax}-byte limit`);
  }
  const out = Buffer.allocUnsafe(headerBytes + payload.length);
  magic.copy(out, 0);
  out.writeUInt16BE(metadataImageFormatVersion, 4);
  out.writeUInt32BE(payload.length, 6);
  out.writeUInt32BE(crc32c(payload), 10);
  payload.copy(out, headerBytes);
  return out;
}

/** The content of an image; throws MetadataImageError saying what is wrong with it. */
export function decodeMetadataImage(bytes: Uint8Array): MetadataImageContent {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < headerBytes) throw new MetadataImageError(`metadata image is ${b.length} bytes, shorter than its ${headerBytes}-byte header`);
  if (!b.subarray(0, 4).equals(magic)) {
    throw new MetadataImageError(`not a metadata image: magic is 0x${b.subarray(0, 4).toString('hex')}, want "FMDI"`);
  }
  if (b.length > metadataImageBytesMax) throw new MetadataImageError(`metadata image of ${b.length} bytes exceeds the ${metadataImageBytesMax}-byte limit`);
  const version = b.readUInt16BE(4);
  if (version !== metadataImageFormatVersion) {
    throw new MetadataImageError(`metadata image format version ${version} is not supported (this node reads version ${metadataImageFormatVersion})`);
  }
  const length = b.readUInt32BE(6);
  if (length !== b.length - headerBytes) {
    throw new MetadataImageError(`metadata image header says ${length} payload bytes, but ${b.length - headerBytes} follow (truncated or padded)`);
  }
  const payload = b.subarray(headerBytes);
  const stored = b.readUInt32BE(10);
  const computed = crc32c(payload);
  if (stored !== computed) {
    throw new MetadataImageError(`metadata image CRC-32C mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)} (the image is corrupt)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new MetadataImageError(`metadata image payload is not JSON: ${(err as Error).message}`);
  }
  return checkContent(parsed);
}

// ---- structure checks (a checksum proves the bytes are what was written, not that the writer was right)

function fail(what: string): never {
  throw new MetadataImageError(`metadata image: ${what}`);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function int(v: unknown, what: string, min = 0): number {
  if (!Number.isSafeInteger(v) || (v as number) < min) fail(`${what} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v as number;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(`${what} must be a string`);
  return v;
}

function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) fail(`${what} must be an array`);
  return v;
}

function nodeSet(v: unknown, what: string): number[] {
  const ids = arr(v, what).map((id, i) => int(id, `${what}[${i}]`, 1));
  if (ids.length === 0 || new Set(ids).size !== ids.length) fail(`${what} must be a non-empty set of distinct node ids, got ${JSON.stringify(ids)}`);
  return ids;
}

function checkBroker(v: unknown, i: number): ImageBroker {
  const o = obj(v, `brokers[${i}]`);
  if (typeof o.fenced !== 'boolean') fail(`brokers[${i}].fenced must be a boolean`);
  const fencedAtMs = o.fencedAtMs === undefined ? undefined : int(o.fencedAtMs, `brokers[${i}].fencedAtMs`);
  return {
    nodeId: int(o.nodeId, `brokers[${i}].nodeId`, 1), address: str(o.address, `brokers[${i}].address`), rack: str(o.rack, `brokers[${i}].rack`),
    fenced: o.fenced, ...(fencedAtMs !== undefined ? { fencedAtMs } : {}),
  };
}

function checkPartition(v: unknown, what: string, index: number): ImagePartition {
  const o = obj(v, what);
  if (o.partition !== index) fail(`${what}.partition is ${JSON.stringify(o.partition)}, want ${index}`);
  if (o.moved !== undefined && typeof o.moved !== 'boolean') fail(`${what}.moved must be a boolean`);
  const target = o.target === undefined ? undefined : nodeSet(o.target, `${what}.target`);
  return {
    partition: index, replicas: nodeSet(o.replicas, `${what}.replicas`),
    ...(target ? { target } : {}), ...(o.moved === true ? { moved: true } : {}),
  };
}

function checkTopic(v: unknown, i: number): ImageTopic {
  const o = obj(v, `topics[${i}]`);
  const name = str(o.name, `topics[${i}].name`);
  const config = obj(o.config, `topic "${name}" config`);
  for (const [k, value] of Object.entries(config)) str(value, `topic "${name}" config "${k}"`);
  const partitions = arr(o.partitions, `topic "${name}" partitions`).map((p, k) => checkPartition(p, `topic "${name}" partition ${k}`, k));
  if (partitions.length === 0) fail(`topic "${name}" has no partitions`);
  return { name, topicId: int(o.topicId, `topic "${name}" topicId`, 1), config: config as Record<string, string>, partitions };
}

function checkContent(v: unknown): MetadataImageContent {
  const o = obj(v, 'content');
  const brokers = arr(o.brokers, 'brokers').map(checkBroker);
  const topics = arr(o.topics, 'topics').map(checkTopic);
  if (new Set(brokers.map((b) => b.nodeId)).size !== brokers.length) fail('a broker appears twice');
  if (new Set(topics.map((t) => t.name)).size !== topics.length) fail('a topic name appears twice');
  return { appliedIndex: int(o.appliedIndex, 'appliedIndex', 1), nextProducerId: int(o.nextProducerId, 'nextProducerId'), brokers, topics };
}
