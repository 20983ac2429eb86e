import { describe, expect, it } from 'vitest';
import { decodeMetadataImage, encodeMetadataImage, MetadataImageError } from '../../controller/metadata-image.js';
import { MetadataState } from '../../controller/metadata-state.js';
import { defaultTopicConfig, parseTopicConfig } from '../../controller/topic-config.js';
import { decodeSnapshotData, encodeSnapshotData } from '../../node/snapshot-data.js';

/** A state that uses everything MetadataState holds. */
function busyState(): MetadataState {
  const s = new MetadataState();
  s.skip(1);
  s.apply(2, { type: 'registerBroker', broker: { nodeId: 1, address: 'h1:9091', rack: 'a' } });
  s.apply(3, { type: 'registerBroker', broker: { nodeId: 2, address: 'h2:9091', rack: 'b' } });
  s.apply(4, { type: 'fenceBroker', nodeId: 2 });
  const config = parseTopicConfig({ 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.25', 'retention.bytes': '-1' });
  if (!config.ok) throw new Error(config.problems.join());
  s.apply(5, { type: 'createTopic', name: 'orders', config: config.value, replicas: [[1, 2], [2, 1]] });
  s.apply(6, { type: 'createTopic', name: 'gone', config: defaultTopicConfig, replicas: [[1]] });
  s.apply(7, { type: 'deleteTopic', name: 'gone' });
  s.apply(8, { type: 'allocateProducerIds', nodeId: 1, count: 1000 });
  s.apply(9, { type: 'createTopic', name: 'gone', config: defaultTopicConfig, replicas: [[2]] });
  return s;
}

function corruptByte(image: Buffer, at: number): Buffer {
  const copy = Buffer.from(image);
  copy[at] = copy[at]! ^ 0x40;
  return copy;
}

describe('metadata image', () => {
  it('round-trips the whole state: brokers and fences, topics, ids, configs, producer ids, version', () => {
    const s = busyState();
    const image = encodeMetadataImage(s.toImage());
    const restored = new MetadataState();
    restored.loadImage(decodeMetadataImage(image));
    expect(restored.version).toBe(9);
    expect(restored.nextProducerId).toBe(1000);
    expect([...restored.brokers()]).toEqual([...s.brokers()]);
    expect([...restored.topics()]).toEqual([...s.topics()]);
    expect(restored.topic('gone')?.topicId).toBe(9); // the re-created topic keeps its new id
    // The restored state goes on applying the log after the image exactly as the original does.
    for (const st of [s, restored]) st.apply(10, { type: 'allocateProducerIds', nodeId: 2, count: 5 });
    expect(restored.nextProducerId).toBe(s.nextProducerId);
    expect(() => restored.apply(9, { type: 'deleteTopic', name: 'orders' })).toThrow(/applied after 10/);
  });

  it('rejects a corrupted, truncated or foreign image with a clear error, and a bad image changes nothing', () => {
    const image = encodeMetadataImage(busyState().toImage());
    expect(() => decodeMetadataImage(corruptByte(image, image.length - 3))).toThrow(/CRC-32C mismatch.*corrupt/);
    expect(() => decodeMetadataImage(image.subarray(0, image.length - 1))).toThrow(/truncated or padded/);
    expect(() => decodeMetadataImage(image.subarray(0, 10))).toThrow(/shorter than its 14-byte header/);
    expect(() => decodeMetadataImage(corruptByte(image, 0))).toThrow(/not a metadata image: magic/);
    expect(() => decodeMetadataImage(corruptByte(image, 5))).toThrow(/format version \d+ is not supported/);
    // A well-checksummed image whose content is wrong is refused too, naming the field.
    const content = { ...busyState().toImage(), brokers: [{ nodeId: 0, address: 'x', rack: '', fenced: false }] };
    expect(() => decodeMetadataImage(encodeMetadataImage(content))).toThrow(MetadataImageError);
    expect(() => decodeMetadataImage(encodeMetadataImage(content))).toThrow(/brokers\[0\]\.nodeId must be an integer >= 1/);
    const badConfig = busyState().toImage();
    const topics = badConfig.topics.map((t) => ({ ...t, config: { ...t.config, 'segment.bytes': '12' } }));
    const target = busyState();
    expect(() => target.loadImage({ ...badConfig, topics })).toThrow(/topic "orders" config is invalid: segment.bytes/);
    expect(target.version).toBe(9);
    expect([...target.topics()].map((t) => t.config.segmentBytes)).toEqual([defaultTopicConfig.segmentBytes, defaultTopicConfig.segmentBytes]);
  });
});

describe('snapshot data kinds', () => {
  const image = encodeMetadataImage(busyState().toImage());

  it('round-trips both kinds', () => {
    const logStart = encodeSnapshotData({ kind: 'logStart', resumeOffset: 500, image: new Uint8Array(0) });
    expect(logStart.byteLength).toBe(9);
    expect(decodeSnapshotData(logStart, 'logStart')).toMatchObject({ kind: 'logStart', resumeOffset: 500 });
    const withImage = decodeSnapshotData(encodeSnapshotData({ kind: 'metadataImage', resumeOffset: 77, image }), 'metadataImage');
    expect(withImage.resumeOffset).toBe(77);
    expect(Buffer.from(withImage.image).equals(image)).toBe(true);
  });

  it('never takes one kind for the other, nor a malformed one for either', () => {
    const logStart = encodeSnapshotData({ kind: 'logStart', resumeOffset: 500, image: new Uint8Array(0) });
    const withImage = encodeSnapshotData({ kind: 'metadataImage', resumeOffset: 77, image });
    expect(() => decodeSnapshotData(logStart, 'metadataImage')).toThrow(/a logStart snapshot was sent to a group that installs metadataImage snapshots/);
    expect(() => decodeSnapshotData(withImage, 'logStart')).toThrow(/a metadataImage snapshot was sent to a group that installs logStart/);
    // The format before kinds (a bare 8-byte offset) and anything else unframed are refused.
    expect(() => decodeSnapshotData(Buffer.alloc(8), 'logStart')).toThrow(/shorter than its 9-byte header/);
    expect(() => decodeSnapshotData(Buffer.concat([logStart, Buffer.from([0])]), 'logStart')).toThrow(/a log-start snapshot is 9 bytes/);
    expect(() => decodeSnapshotData(withImage.subarray(0, 9), 'metadataImage')).toThrow(/carries no image/);
    expect(() => decodeSnapshotData(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 0]), 'logStart')).toThrow(/unknown kind 9/);
    expect(() => encodeSnapshotData({ kind: 'logStart', resumeOffset: 1, image })).toThrow(/carries no image/);
  });
});
