import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand, MetadataState, partitionGroupKey, type MetadataCommand } from '../../controller/metadata-state.js';
import { defaultTopicConfig } from '../../controller/topic-config.js';

const create = (name: string, replicas: number[][]): MetadataCommand => ({ type: 'createTopic', name, config: defaultTopicConfig, replicas });

describe('MetadataState', () => {
  it('applies commands in order; the topic id is the creating index', () => {
    const s = new MetadataState();
    s.skip(1);
    expect(s.apply(2, { type: 'registerBroker', broker: { nodeId: 1, address: '127.0.0.1:9091', rack: '' } })).toEqual({ ok: true });
    const r = s.apply(3, create('orders', [[1, 2, 3], [2, 3, 1]]));
    expect(r).toMatchObject({ ok: true, topic: { name: 'orders', topicId: 3 } });
    expect(s.topic('orders')?.partitions).toEqual([{ partition: 0, replicas: [1, 2, 3] }, { partition: 1, replicas: [2, 3, 1] }]);
    expect(s.version).toBe(3);
    expect(partitionGroupKey(3, 1)).toBe('3/1');
  });

  it('answers a duplicate create or an unknown delete with an error and changes nothing', () => {
    const s = new MetadataState();
    s.apply(1, create('t', [[1]]));
    expect(s.apply(2, create('t', [[2]]))).toEqual({ ok: false, code: 'TOPIC_ALREADY_EXISTS', message: 'topic "t" already exists' });
    expect(s.topic('t')?.partitions[0]?.replicas).toEqual([1]);
    expect(s.apply(3, { type: 'deleteTopic', name: 'nope' })).toMatchObject({ ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(s.apply(4, create('u', [[1, 1]]))).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
    expect([...s.topics()].map((t) => t.name)).toEqual(['t']);
  });

  it('applies config changes as changes: concurrent alters of different keys compose; bad ones change nothing', () => {
    const s = new MetadataState();
    s.apply(1, create('t', [[1, 2]]));
    expect(s.apply(2, { type: 'alterTopicConfig', name: 't', set: { 'retention.ms': '1000' }, reset: [] }))
      .toMatchObject({ ok: true, topic: { topicId: 1, config: { retentionMs: 1000 } } });
    // Proposed concurrently from the same earlier state: the second must not undo the first.
    s.apply(3, { type: 'alterTopicConfig', name: 't', set: { 'segment.bytes': '1048576' }, reset: [] });
    expect(s.topic('t')?.config).toMatchObject({ retentionMs: 1000, segmentBytes: 1048576 });
    s.apply(4, { type: 'alterTopicConfig', name: 't', set: {}, reset: ['retention.ms'] });
    expect(s.topic('t')?.config.retentionMs).toBe(defaultTopicConfig.retentionMs);
    expect(s.apply(5, { type: 'alterTopicConfig', name: 't', set: { constructor: 'x' }, reset: ['toString'] }))
      .toMatchObject({ ok: false, code: 'INVALID_CONFIG', message: expect.stringMatching(/unknown topic config "toString"/) });
    expect(s.topic('t')?.config.segmentBytes).toBe(1048576);
    expect(s.apply(6, { type: 'alterTopicConfig', name: 'x', set: {}, reset: [] })).toMatchObject({ ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  it('gives a re-created topic a new id', () => {
    const s = new MetadataState();
    s.apply(5, create('t', [[1]]));
    s.apply(6, { type: 'deleteTopic', name: 't' });
    expect(s.apply(7, create('t', [[1]]))).toMatchObject({ ok: true, topic: { topicId: 7 } });
  });

  it('fences and unfences registered brokers; registration lifts a fence', () => {
    const s = new MetadataState();
    s.apply(1, { type: 'registerBroker', broker: { nodeId: 2, address: 'h:2', rack: 'r' } });
    expect(s.broker(2)?.fenced).toBe(false);
    expect(s.apply(2, { type: 'fenceBroker', nodeId: 2 })).toEqual({ ok: true });
    expect(s.broker(2)).toEqual({ nodeId: 2, address: 'h:2', rack: 'r', fenced: true });
    s.apply(3, { type: 'unfenceBroker', nodeId: 2 });
    expect(s.broker(2)?.fenced).toBe(false);
    s.apply(4, { type: 'fenceBroker', nodeId: 2 });
    s.apply(5, { type: 'registerBroker', broker: { nodeId: 2, address: 'h:3', rack: 'r' } });
    expect(s.broker(2)).toMatchObject({ address: 'h:3', fenced: false });
    expect(s.apply(6, { type: 'fenceBroker', nodeId: 9 })).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
  });

  it('adds partitions to a topic, decided against the count the proposer saw', () => {
    const s = new MetadataState();
    s.apply(1, create('t', [[1, 2], [2, 3]]));
    expect(s.apply(2, { type: 'addPartitions', name: 't', fromCount: 2, replicas: [[3, 1]] })).toMatchObject({ ok: true, topic: { topicId: 1 } });
    expect(s.topic('t')!.partitions).toEqual([{ partition: 0, replicas: [1, 2] }, { partition: 1, replicas: [2, 3] }, { partition: 2, replicas: [3, 1] }]);
    expect(s.apply(3, { type: 'addPartitions', name: 't', fromCount: 2, replicas: [[1, 2]] })).toMatchObject({ ok: false, message: expect.stringMatching(/has 3 partitions now, not 2/) });
    expect(s.apply(4, { type: 'addPartitions', name: 't', fromCount: 3, replicas: [[1, 1]] })).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
    expect(s.apply(5, { type: 'addPartitions', name: 'nope', fromCount: 1, replicas: [[1]] })).toMatchObject({ ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(s.topic('t')!.partitions).toHaveLength(3);
  });

  it('reserves producer id blocks that never overlap, and refuses bad block sizes', () => {
    const s = new MetadataState();
    expect(s.apply(1, { type: 'allocateProducerIds', nodeId: 1, count: 1000 })).toEqual({ ok: true, firstProducerId: 0 });
    expect(s.apply(2, { type: 'allocateProducerIds', nodeId: 2, count: 10 })).toEqual({ ok: true, firstProducerId: 1000 });
    expect(s.apply(3, { type: 'allocateProducerIds', nodeId: 2, count: 0 })).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
    expect(s.apply(4, { type: 'allocateProducerIds', nodeId: 2, count: 100_001 })).toMatchObject({ ok: false, message: expect.stringMatching(/1-100000/) });
    expect(s.nextProducerId).toBe(1010);
  });

  it('refuses to apply an entry twice or out of order', () => {
    const s = new MetadataState();
    s.skip(2);
    expect(() => s.skip(2)).toThrow(/entry 2 applied after 2/);
    expect(() => s.apply(1, create('t', [[1]]))).toThrow(/must apply once, in order/);
  });

  it('round-trips commands and refuses unknown formats', () => {
    const cmd = create('x', [[1, 2]]);
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    expect(() => decodeCommand(Buffer.from('{"v":9,"cmd":{"type":"x"}}'))).toThrow(/unknown format/);
  });
});
