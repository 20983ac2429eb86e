/**
 * The internal group-state topic: where consumer groups' committed offsets and generations live
 * (Kafka's __consumer_offsets). Each group belongs to one of its partitions, chosen by a stable
 * hash of the group id; that partition's leader is the group's coordinator, so when leadership
 * moves, the coordinator moves with it. The controller creates the topic the first time a
 * coordinator is asked for; its records are keyed so that keep-latest-per-key compaction is
 * correct (cleanup.policy compact: retention must never drop a live offset).
 */
import { crc32c } from '@node-rs/crc32';

export const groupStateTopicName = '__group_state';
export const groupStatePartitionsDefault = 16;
export const groupStatePartitionsMax = 1_000;

/** Topic config of the group-state topic (strings, as a CreateTopic carries them). */
export const groupStateTopicConfig: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  // Small segments, so a moved log start (after a state checkpoint) frees disk soon.
  'segment.bytes': String(4 * 1024 * 1024),
  // One batch may carry a large group's metadata or a whole commit.
  'max.message.bytes': String(8 * 1024 * 1024),
};

/** Internal topics: hidden from topic listings, closed to client produce, delete and alter. */
export function isInternalTopic(name: string): boolean {
  return name.startsWith('__');
}

/**
 * The group-state partition of a group: CRC-32C of the UTF-8 group id, modulo the partition
 * count. Stable across versions and processes (unlike a language's string hash); changing it would
 * strand every group's offsets.
 */
export function groupStatePartitionOf(groupId: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`group-state partitions must be >= 1, got ${partitions}`);
  return crc32c(Buffer.from(groupId, 'utf8')) % partitions;
}
