/** Counting for QueueStats: records in a dead-letter topic. */
import { countRecords } from './source-records.js';
import { windowReadBytes } from './constants.js';
import type { TopicAccess } from './topic-access.js';

/** Bytes of a dead-letter partition a stats call counts records in; beyond, offsets are counted. */
const statsScanBytesMax = 16 * 1024 * 1024;
/**
 * Records in the dead-letter topic (-1 while it does not exist): counted from batch headers
 * (a partition's first batch is its leader's Raft no-op, which takes an offset but holds no
 * record); past statsScanBytesMax per partition the rest is estimated as offsets.
 */
export async function deadLetterDepth(topics: TopicAccess, topic: string): Promise<number> {
  const partitions = topics.partitionCount(topic);
  if (partitions === undefined) return -1;
  let depth = 0;
  for (let p = 0; p < partitions; p += 1) {
    let offset = 0;
    for (let scanned = 0; ;) {
      const r = await topics.read(topic, p, Math.max(offset, 0), windowReadBytes).catch(() => undefined);
      if (!r) break;
      if (r.outOfRange || offset < r.logStartOffset) {
        offset = r.logStartOffset;
        continue;
      }
      const c = countRecords(r.records);
      if (c.nextOffset === undefined) break;
      depth += c.records;
      offset = c.nextOffset;
      scanned += r.records.length;
      if (scanned >= statsScanBytesMax) {
        depth += Math.max(0, r.highWatermark - offset);
        break;
      }
    }
  }
  return depth;
}
