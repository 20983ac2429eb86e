/**
 * The queue side of the group-state log: what a queue group's coordinator writes through Raft.
 * One Kafka record per fact, keyed so that the latest record of a key is the whole truth about it
 * (the coordinator's fold applies them in offset order; keep-latest-per-key compaction stays
 * correct):
 *
 *   key "queue:<group>"                              value QueueGroupValue (settings, dead-letter producer, incarnation)
 *   key "qfloor:<group>:<topic>:<partition>"         value {inc, floor}: every record below is done
 *   key "qmsg:<group>:<topic>:<partition>:<offset>"  value {inc, state}: one record at or above the floor
 *   "queue:<group>" with a null value                the group is deleted
 *
 * Every partition record names the group's incarnation (a random id given when the group is
 * created), so no record depends on another key's record coming first: compaction may remove a
 * group's creation record and keep only a later one, after its partition records, and a group
 * deleted and created again never inherits the old one's states.
 *
 * Nothing about a lock's expiry is written: a lock carries its deadline, and what follows from
 * it (visible again after the backoff, or due for the dead-letter topic) is a pure function of the
 * record, the deadline and the clock, so a coordinator that replays the log after a failover
 * decides the same.
 */
import type { QueueConfig } from './queue-config.js';

export type DeadReason = 'max-deliveries' | 'rejected' | 'expired';

export type MessageState =
  /** Delivered `d` times; invisible to others until `until` (ms since the epoch). */
  | { readonly s: 'locked'; readonly d: number; readonly until: number }
  /** Nacked after `d` deliveries: visible again from `at`. */
  | { readonly s: 'released'; readonly d: number; readonly at: number }
  /** Decided to go to the dead-letter topic as its sequence number `seq`; not yet appended there. */
  | { readonly s: 'dead'; readonly d: number; readonly reason: DeadReason; readonly seq: number }
  /** Finished: acked, expired (skipped), or appended to the dead-letter topic. */
  | { readonly s: 'done'; readonly d: number; readonly how: 'acked' | 'expired' | 'dead-lettered' };

/** The idempotent producer the coordinators of a group append dead letters with. */
export interface DeadLetterProducer {
  /** -1 until the first dead letter needs one. */
  readonly producerId: number;
  readonly producerEpoch: number;
  /** Sequence number the next dead-letter decision gets (one record per batch). */
  readonly nextSeq: number;
}

export interface QueueGroupValue {
  /** Random id of this creation of the group (see the file comment). */
  readonly incarnation: string;
  readonly config: QueueConfig;
  readonly deadLetters: DeadLetterProducer;
}

export type QueueStateKey =
  | { readonly type: 'queue'; readonly group: string }
  | { readonly type: 'qfloor'; readonly group: string; readonly topic: string; readonly partition: number }
  | { readonly type: 'qmsg'; readonly group: string; readonly topic: string; readonly partition: number; readonly offset: number };

export type QueueStateRecord =
  | { readonly key: Extract<QueueStateKey, { type: 'queue' }>; readonly value: QueueGroupValue | null }
  | { readonly key: Extract<QueueStateKey, { type: 'qfloor' }>; readonly value: { readonly inc: string; readonly floor: number } | null }
  | { readonly key: Extract<QueueStateKey, { type: 'qmsg' }>; readonly value: { readonly inc: string; readonly state: MessageState } | null };

export function encodeQueueKey(key: QueueStateKey): string {
  switch (key.type) {
    case 'queue': return `queue:${key.group}`;
    case 'qfloor': return `qfloor:${key.group}:${key.topic}:${key.partition}`;
    case 'qmsg': return `qmsg:${key.group}:${key.topic}:${key.partition}:${key.offset}`;
  }
}

function natural(text: string | undefined): number | undefined {
  const n = Number(text);
  return text !== undefined && text !== '' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** The key of a queue record, or undefined when `text` is not one. */
export function decodeQueueKey(text: string): QueueStateKey | undefined {
  const parts = text.split(':');
  if (parts[0] === 'queue' && parts.length === 2) return { type: 'queue', group: parts[1]! };
  const partition = natural(parts[3]);
  if (partition === undefined) return undefined;
  if (parts[0] === 'qfloor' && parts.length === 4) return { type: 'qfloor', group: parts[1]!, topic: parts[2]!, partition };
  const offset = natural(parts[4]);
  if (parts[0] === 'qmsg' && parts.length === 5 && offset !== undefined) return { type: 'qmsg', group: parts[1]!, topic: parts[2]!, partition, offset };
  return undefined;
}
