/**
 * What a Raft snapshot's `data` carries on the wire. Two kinds of group use snapshots, and a
 * group must never install the other kind's:
 *
 *   partition groups: a log-start reset, the offset the log resumes at (the log *is* the state);
 *   the controller:   the same, plus the MetadataState image the log after it applies onto.
 *
 * Layout: kind (1 byte) | resume offset (8 bytes, big-endian) | image (kind 2 only; it carries
 * its own magic, length and CRC-32C, controller/metadata-image.ts). A kind byte, an exact length
 * for kind 1 and a non-empty image for kind 2 keep the two from being mistaken for each other.
 */
export type SnapshotKind = 'logStart' | 'metadataImage';

const kindCodes: Record<SnapshotKind, number> = { logStart: 1, metadataImage: 2 };
const headerBytes = 9;

export interface SnapshotData {
  readonly kind: SnapshotKind;
  readonly resumeOffset: number;
  /** The state-machine image (metadataImage only; empty for logStart). */
  readonly image: Uint8Array;
}

export class SnapshotDataError extends Error {
  override readonly name = 'SnapshotDataError';
}

export function encodeSnapshotData(d: SnapshotData): Uint8Array {
  if (!Number.isSafeInteger(d.resumeOffset) || d.resumeOffset < 0) throw new SnapshotDataError(`resume offset ${d.resumeOffset} is not a valid offset`);
  if ((d.kind === 'logStart') !== (d.image.byteLength === 0)) {
    throw new SnapshotDataError(`a ${d.kind} snapshot ${d.kind === 'logStart' ? 'carries no image' : 'needs an image'}, got ${d.image.byteLength} image bytes`);
  }
  const out = Buffer.alloc(headerBytes + d.image.byteLength);
  out.writeUInt8(kindCodes[d.kind], 0);
  out.writeBigUInt64BE(BigInt(d.resumeOffset), 1);
  out.set(d.image, headerBytes);
  return out;
}

/** Decodes and checks that the data is of the kind `expected`; throws SnapshotDataError otherwise. */
export function decodeSnapshotData(data: Uint8Array, expected: SnapshotKind): SnapshotData {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < headerBytes) throw new SnapshotDataError(`snapshot data is ${b.length} bytes, shorter than its ${headerBytes}-byte header`);
  const code = b.readUInt8(0);
  const kind = (Object.keys(kindCodes) as SnapshotKind[]).find((k) => kindCodes[k] === code);
  if (kind === undefined) throw new SnapshotDataError(`snapshot data has unknown kind ${code}`);
  if (kind !== expected) throw new SnapshotDataError(`a ${kind} snapshot was sent to a group that installs ${expected} snapshots`);
  const resumeOffset = Number(b.readBigUInt64BE(1));
  if (!Number.isSafeInteger(resumeOffset)) throw new SnapshotDataError(`snapshot resume offset ${b.readBigUInt64BE(1)} is out of range`);
  const image = b.subarray(headerBytes);
  if (kind === 'logStart' && image.length !== 0) throw new SnapshotDataError(`a log-start snapshot is ${headerBytes} bytes, got ${b.length}`);
  if (kind === 'metadataImage' && image.length === 0) throw new SnapshotDataError('a metadata-image snapshot carries no image');
  return { kind, resumeOffset, image };
}
