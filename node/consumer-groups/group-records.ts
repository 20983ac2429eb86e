/**
 * The records of the group-state partition: one Kafka record per fact, keyed so that the latest
 * record of a key is the whole truth about it (keep-latest-per-key compaction is then correct,
 * and so is the coordinator's fold, which applies records in offset order):
 *
 *   key "offset:<group>:<topic>:<partition>"  value {v, offset, metadata, commitTimestampMs}
 *   key "group:<group>"                        value {v, snapshot}   (GroupMachine.snapshot())
 *   key "loaded"                               value {v, nodeId, term} (a coordinator's load marker)
 *   any key with a null value                  tombstone: the fact is gone (group deleted)
 *   "queue:", "qfloor:", "qmsg:" keys           queue groups (node/queues/queue-records.ts)
 *
 * Group ids and topic names are [a-zA-Z0-9._-], so ":" cannot be ambiguous. Values are JSON with
 * a format version; a record of an unknown version stops the load rather than being misread.
 */
import { decodeQueueKey, encodeQueueKey, type QueueStateKey, type QueueStateRecord } from '../queues/queue-records.js';
import type { GroupSnapshot } from './group-machine.js';

const formatVersion = 1;

export interface CommittedOffsetValue {
  readonly offset: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

export type GroupStateKey =
  | { readonly type: 'offset'; readonly group: string; readonly topic: string; readonly partition: number }
  | { readonly type: 'group'; readonly group: string }
  | { readonly type: 'loaded' }
  | QueueStateKey;

export type GroupStateRecord =
  | { readonly key: Extract<GroupStateKey, { type: 'offset' }>; readonly value: CommittedOffsetValue | null }
  | { readonly key: Extract<GroupStateKey, { type: 'group' }>; readonly value: GroupSnapshot | null }
  | { readonly key: Extract<GroupStateKey, { type: 'loaded' }>; readonly value: { nodeId: number; term: number } | null }
  | QueueStateRecord;

export function encodeKey(key: GroupStateKey): Buffer {
  switch (key.type) {
    case 'offset': return Buffer.from(`offset:${key.group}:${key.topic}:${key.partition}`);
    case 'group': return Buffer.from(`group:${key.group}`);
    case 'loaded': return Buffer.from('loaded');
    default: return Buffer.from(encodeQueueKey(key));
  }
}

export function decodeKey(raw: Buffer): GroupStateKey {
  const text = raw.toString('utf8');
  const parts = text.split(':');
  if (parts[0] === 'offset' && parts.length === 4) {
    const partition = Number(parts[3]);
    if (Number.isInteger(partition) && partition >= 0) return { type: 'offset', group: parts[1]!, topic: parts[2]!, partition };
  }
  if (parts[0] === 'group' && parts.length === 2) return { type: 'group', group: parts[1]! };
  if (text === 'loaded') return { type: 'loaded' };
  const queueKey = decodeQueueKey(text);
  if (queueKey) return queueKey;
  throw new Error(`group-state record with an unknown key "${text.slice(0, 100)}"`);
}

export function encodeValue(value: object | null): Buffer | null {
  return value === null ? null : Buffer.from(JSON.stringify({ v: formatVersion, value }));
}

export function decodeRecord(rawKey: Buffer | null, rawValue: Buffer | null): GroupStateRecord {
  if (!rawKey) throw new Error('group-state record without a key');
  const key = decodeKey(rawKey);
  if (rawValue === null) return { key, value: null } as GroupStateRecord;
  const parsed = JSON.parse(rawValue.toString('utf8')) as { v?: unknown; value?: unknown };
  if (parsed.v !== formatVersion || typeof parsed.value !== 'object' || parsed.value === null) {
    throw new Error(`group-state record ${rawKey.toString('utf8').slice(0, 100)} has unknown format v=${String(parsed.v)}`);
  }
  return { key, value: parsed.value } as GroupStateRecord;
}

export function recordOf(r: GroupStateRecord): { key: Buffer; value: Buffer | null } {
  return { key: encodeKey(r.key), value: encodeValue(r.value) };
}
