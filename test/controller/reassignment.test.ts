import { describe, expect, it } from 'vitest';
import { decodeMetadataImage, encodeMetadataImage } from '../../controller/metadata-image.js';
import { hostsOf, MetadataState, replicationFactorOf } from '../../controller/metadata-state.js';
import { chooseReplacement } from '../../controller/placement.js';
import { planMovesOff } from '../../controller/reassignment-plan.js';
import { defaultTopicConfig } from '../../controller/topic-config.js';

/** Brokers 1-5 (racks a,b,c,a,b) and topic "t" with partitions [1,2,3] and [2,3,4]. */
function cluster(): MetadataState {
  const s = new MetadataState();
  ['a', 'b', 'c', 'a', 'b'].forEach((rack, i) => s.apply(i + 1, { type: 'registerBroker', broker: { nodeId: i + 1, address: `h${i + 1}:1`, rack } }));
  s.apply(6, { type: 'createTopic', name: 't', config: defaultTopicConfig, replicas: [[1, 2, 3], [2, 3, 4]] });
  return s;
}

describe('reassignment metadata', () => {
  it('records a target, keeps every possible member a host, and completes only on the recorded target', () => {
    const s = cluster();
    expect(s.apply(7, { type: 'reassignPartitions', topic: 't', moves: [{ partition: 0, target: [1, 2, 5] }] })).toMatchObject({ ok: true });
    const p = s.topic('t')!.partitions[0]!;
    expect(p).toEqual({ partition: 0, replicas: [1, 2, 3], target: [1, 2, 5] });
    expect(hostsOf(p)).toEqual([1, 2, 3, 5]);
    expect(s.apply(8, { type: 'completeReassignment', topicId: 6, partition: 0, target: [1, 2, 4] }))
      .toMatchObject({ ok: false, code: 'INVALID_REQUEST', message: expect.stringMatching(/is not moving to \[1,2,4\]/) });
    expect(s.apply(9, { type: 'completeReassignment', topicId: 6, partition: 0, target: [1, 2, 5] })).toMatchObject({ ok: true });
    expect(s.topic('t')!.partitions[0]).toEqual({ partition: 0, replicas: [1, 2, 5], moved: true });
    expect(s.apply(10, { type: 'completeReassignment', topicId: 6, partition: 0, target: [1, 2, 5] })).toMatchObject({ ok: false });
  });

  it('replacing a target keeps the old target\'s nodes as hosts until the new one completes', () => {
    const s = cluster();
    s.apply(7, { type: 'reassignPartitions', topic: 't', moves: [{ partition: 1, target: [2, 3, 5] }] });
    s.apply(8, { type: 'reassignPartitions', topic: 't', moves: [{ partition: 1, target: [2, 3, 1] }] });
    expect(s.topic('t')!.partitions[1]).toEqual({ partition: 1, replicas: [2, 3, 4, 5], target: [2, 3, 1], moved: true });
    // Four hosts while the move runs, but the topic's replication factor is still 3 (what
    // CreatePartitions places new partitions with).
    expect(replicationFactorOf(s.topic('t')!.partitions[1]!)).toBe(3);
    expect(replicationFactorOf(s.topic('t')!.partitions[0]!)).toBe(3);
    // A move to where the partition already is, with nothing under way, changes nothing.
    s.apply(9, { type: 'reassignPartitions', topic: 't', moves: [{ partition: 0, target: [1, 2, 3] }] });
    expect(s.topic('t')!.partitions[0]).toEqual({ partition: 0, replicas: [1, 2, 3] });
  });

  it('refuses a bad reassignment with a specific error and changes nothing', () => {
    const s = cluster();
    const before = JSON.stringify([...s.topics()]);
    const bad = (moves: Array<{ partition: number; target: number[] }>, topic = 't') => s.apply(s.version + 1, { type: 'reassignPartitions', topic, moves });
    expect(bad([{ partition: 0, target: [1] }], 'nope')).toMatchObject({ ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(bad([{ partition: 7, target: [1] }])).toMatchObject({ ok: false, message: expect.stringMatching(/partitions 0-1, not 7/) });
    expect(bad([{ partition: 0, target: [1, 1] }])).toMatchObject({ ok: false, code: 'INVALID_REPLICATION_FACTOR' });
    expect(bad([{ partition: 0, target: [1, 9] }])).toMatchObject({ ok: false, message: expect.stringMatching(/node\(s\) 9 are not registered/) });
    expect(bad([{ partition: 0, target: [1, 5] }, { partition: 0, target: [1, 4] }])).toMatchObject({ ok: false, message: expect.stringMatching(/appears twice/) });
    expect(bad([{ partition: 1, target: [5] }, { partition: 0, target: [] }])).toMatchObject({ ok: false });
    expect(bad([])).toMatchObject({ ok: false, message: expect.stringMatching(/1-1000 partitions/) });
    expect(JSON.stringify([...s.topics()])).toBe(before);
  });

  it('keeps targets, moved flags and fence times in the snapshot image', () => {
    const s = cluster();
    s.apply(7, { type: 'fenceBroker', nodeId: 4, atMs: 12345 });
    s.apply(8, { type: 'reassignPartitions', topic: 't', moves: [{ partition: 1, target: [2, 3, 5] }] });
    s.apply(9, { type: 'reassignPartitions', topic: 't', moves: [{ partition: 1, target: [2, 3, 1] }] });
    const restored = new MetadataState();
    restored.loadImage(decodeMetadataImage(encodeMetadataImage(s.toImage())));
    expect([...restored.topics()]).toEqual([...s.topics()]);
    expect(restored.broker(4)).toEqual({ nodeId: 4, address: 'h4:1', rack: 'a', fenced: true, fencedAtMs: 12345 });
    restored.apply(10, { type: 'unfenceBroker', nodeId: 4 });
    expect(restored.broker(4)).toEqual({ nodeId: 4, address: 'h4:1', rack: 'a', fenced: false });
  });
});

describe('choosing replacements', () => {
  const brokers = [
    { nodeId: 1, rack: 'a', live: true }, { nodeId: 2, rack: 'b', live: true }, { nodeId: 3, rack: 'c', live: false },
    { nodeId: 4, rack: 'a', live: true }, { nodeId: 5, rack: 'c', live: true }, { nodeId: 6, rack: 'c', live: true },
  ];

  it('prefers a free rack, then the least loaded broker, then the lowest id; never a replica or a dead broker', () => {
    expect(chooseReplacement(brokers, [1, 2, 3], 3, new Map())).toBe(5); // rack c is free again
    expect(chooseReplacement(brokers, [1, 2, 3], 3, new Map([[5, 4], [6, 1]]))).toBe(6);
    expect(chooseReplacement(brokers, [1, 5, 6], 1, new Map([[2, 9]]))).toBe(4); // racks a and b both free: the less loaded
    expect(chooseReplacement(brokers.filter((b) => b.nodeId <= 3), [1, 2, 3], 3, new Map())).toBeUndefined();
    expect(() => chooseReplacement(brokers, [1, 2], 3, new Map())).toThrow(/not a replica/);
  });

  it('plans a move per partition off the gone brokers, in place, within the limit', () => {
    const s = cluster();
    s.apply(7, { type: 'fenceBroker', nodeId: 3, atMs: 1 });
    const plan = planMovesOff(s, new Set([3]), 100);
    // No live broker is in rack c. Partition 0 [1,2,3]: 4 and 5 are equal on racks, 5 hosts less.
    // Partition 1 [2,3,4]: 1 and 5 now host one each: the lower id.
    expect(plan.get('t')).toEqual([{ partition: 0, target: [1, 2, 5] }, { partition: 1, target: [2, 1, 4] }]);
    expect(planMovesOff(s, new Set([3]), 1).get('t')).toHaveLength(1);
    expect(planMovesOff(s, new Set([3, 5, 4]), 100).get('t')).toBeUndefined(); // nothing live left to take it
  });
});
