// Small metadata files (the recovery-point checkpoint, and any future ones) with a self-checking
// frame, replaced atomically: write `<name>.tmp`, fsync it, rename over `<name>`, fsync the dir.
// A crash leaves either the old or the new file, never a mix; a damaged file is detected, never
// half-trusted.
//
//  pos  size  field
//    0     4  magic    "FRYM"
//    4     2  version  uint16 (format version of the payload, owned by the caller)
//    6     4  length   uint32 payload bytes
//   10     n  payload
//  10+n    4  crc      CRC-32C of bytes [0, 10+n)
import fs from 'node:fs';
import path from 'node:path';
import { crc32cOf } from './crc.js';
import { LogError } from './errors.js';
import { metadataFileBytesMax } from './constants.js';

const magic = Buffer.from('FRYM', 'latin1');
const frameHeaderBytes = 10;
const frameBytes = frameHeaderBytes + 4;

export function encodeMetadata(version: number, payload: Buffer): Buffer {
  if (payload.length + frameBytes > metadataFileBytesMax) {
    throw new LogError('INVALID_ARGUMENT', `metadata payload of ${payload.length} bytes is too large`);
  }
  const buf = Buffer.alloc(frameBytes + payload.length);
  magic.copy(buf, 0);
  buf.writeUInt16BE(version, 4);
  buf.writeUInt32BE(payload.length, 6);
  payload.copy(buf, frameHeaderBytes);
  buf.writeUInt32BE(crc32cOf(buf, 0, frameHeaderBytes + payload.length), frameHeaderBytes + payload.length);
  return buf;
}

export function decodeMetadata(file: string, buf: Buffer, expectedVersion: number): Buffer {
  const bad = (what: string): LogError =>
    new LogError('CORRUPT_METADATA', `${file}: ${what}; delete it to fall back to a full recovery scan`, { file });
  if (buf.length < frameBytes || !buf.subarray(0, 4).equals(magic)) throw bad('not a Ferry metadata file');
  const version = buf.readUInt16BE(4);
  if (version !== expectedVersion) throw bad(`version ${version}, expected ${expectedVersion}`);
  const length = buf.readUInt32BE(6);
  if (length !== buf.length - frameBytes) throw bad(`length field ${length} disagrees with file size ${buf.length}`);
  if (buf.readUInt32BE(frameHeaderBytes + length) !== crc32cOf(buf, 0, frameHeaderBytes + length)) {
    throw bad('CRC-32C mismatch');
  }
  return buf.subarray(frameHeaderBytes, frameHeaderBytes + length);
}

/** Reads and verifies a metadata file; null if it does not exist. */
export function readMetadataFile(dir: string, name: string, expectedVersion: number): Buffer | null {
  const file = path.join(dir, name);
  let buf: Buffer;
  try {
    const size = fs.statSync(file).size;
    if (size > metadataFileBytesMax) {
      throw new LogError('CORRUPT_METADATA', `${file}: ${size} bytes exceeds ${metadataFileBytesMax}`, { file });
    }
    buf = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return decodeMetadata(file, buf, expectedVersion);
}

/** fsync a directory so that creates, renames and unlinks inside it are durable. */
export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Atomically replaces `dir/name` with a framed payload (temp file, fsync, rename, fsync dir). */
export function writeMetadataFileSync(dir: string, name: string, version: number, payload: Buffer): void {
  const file = path.join(dir, name);
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    const buf = encodeMetadata(version, payload);
    fs.writeSync(fd, buf, 0, buf.length, 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDirSync(dir);
}

/** The recovery-point checkpoint (Kafka's recovery-point-offset-checkpoint, one partition). */
export interface RecoveryCheckpoint {
  /** Every segment that ends at or below this offset was fsynced with its indexes. */
  readonly recoveryPointOffset: number;
  /** Written by close(): the last segment also ends exactly at recoveryPointOffset. */
  readonly cleanShutdown: boolean;
}

const recoveryCheckpointVersion = 1;

export function readRecoveryCheckpoint(dir: string, name: string): RecoveryCheckpoint | null {
  const payload = readMetadataFile(dir, name, recoveryCheckpointVersion);
  if (payload === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new LogError('CORRUPT_METADATA', `${name}: payload is not JSON`, { file: name }, err);
  }
  const p = parsed as Partial<RecoveryCheckpoint>;
  if (!Number.isSafeInteger(p.recoveryPointOffset) || (p.recoveryPointOffset as number) < 0 || typeof p.cleanShutdown !== 'boolean') {
    throw new LogError('CORRUPT_METADATA', `${name}: unexpected payload ${payload.toString('utf8')}`, { file: name });
  }
  return { recoveryPointOffset: p.recoveryPointOffset as number, cleanShutdown: p.cleanShutdown };
}

export function writeRecoveryCheckpoint(dir: string, name: string, cp: RecoveryCheckpoint): void {
  writeMetadataFileSync(dir, name, recoveryCheckpointVersion, Buffer.from(JSON.stringify(cp), 'utf8'));
}
