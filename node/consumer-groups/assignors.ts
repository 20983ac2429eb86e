/**
 * Partition assignment strategies, computed by the coordinator (server-side, as in Kafka's
 * KIP-848 protocol) so every member sees one consistent decision and the clients stay simple.
 * All three are pure and deterministic: the same members, subscriptions, partition counts and
 * current owners always give the same target.
 *
 *   range               per topic, contiguous ranges to members in id order (Kafka's RangeAssignor)
 *   round-robin         every subscribed partition in (topic, partition) order, dealt to members
 *                       in id order, skipping members not subscribed to the topic
 *   cooperative-sticky  keeps current owners where balance allows and moves only what must move
 *                       (sticky-assignor.ts); the group revokes moved partitions in a first round
 *                       and hands them over in a second (KIP-429), so nobody stops the world
 *
 * range and round-robin are eager: members give up every partition before rejoining.
 */
import { partitionKey, partitionsOfTopics } from './partition-ref.js';
import { stickyAssignment } from './sticky-assignor.js';

export const assignorNames = ['range', 'round-robin', 'cooperative-sticky'] as const;
export type AssignorName = (typeof assignorNames)[number];

export function isAssignorName(name: string): name is AssignorName {
  return (assignorNames as readonly string[]).includes(name);
}

/** Cooperative assignors keep partitions across a rebalance; eager ones revoke everything first. */
export function isCooperative(name: AssignorName): boolean {
  return name === 'cooperative-sticky';
}

export interface AssignmentMember {
  readonly id: string;
  readonly topics: readonly string[];
}

export interface AssignmentInput {
  /** Members with their subscriptions, in any order (assignors order them by id). */
  readonly members: readonly AssignmentMember[];
  /** Partition count of a topic; 0 when the topic does not exist. */
  readonly partitionsOf: (topic: string) => number;
  /** Who consumes each partition now (partition key → member id); only sticky uses it. */
  readonly owners: ReadonlyMap<string, string>;
}

/** Target owner per partition key; partitions no member subscribes to are absent. */
export type TargetAssignment = Map<string, string>;

function sortedMembers(members: readonly AssignmentMember[]): AssignmentMember[] {
  return [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function rangeAssignment(input: AssignmentInput): TargetAssignment {
  const out: TargetAssignment = new Map();
  const members = sortedMembers(input.members);
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
  for (const topic of topics) {
    const subscribed = members.filter((m) => m.topics.includes(topic));
    const count = input.partitionsOf(topic);
    const per = Math.floor(count / subscribed.length);
    const extra = count % subscribed.length;
    subscribed.forEach((m, i) => {
      const start = i * per + Math.min(i, extra);
      const n = per + (i < extra ? 1 : 0);
      for (let p = start; p < start + n; p += 1) out.set(partitionKey(topic, p), m.id);
    });
  }
  return out;
}

function roundRobinAssignment(input: AssignmentInput): TargetAssignment {
  const out: TargetAssignment = new Map();
  const members = sortedMembers(input.members);
  if (members.length === 0) return out;
  let next = 0;
  for (const key of partitionsOfTopics(members.flatMap((m) => m.topics), input.partitionsOf)) {
    const topic = key.slice(0, key.lastIndexOf('/'));
    // At least one member subscribes to `topic` (it came from a subscription), so this ends.
    while (!members[next % members.length]!.topics.includes(topic)) next += 1;
    out.set(key, members[next % members.length]!.id);
    next += 1;
  }
  return out;
}

export function computeAssignment(name: AssignorName, input: AssignmentInput): TargetAssignment {
  switch (name) {
    case 'range':
      return rangeAssignment(input);
    case 'round-robin':
      return roundRobinAssignment(input);
    case 'cooperative-sticky':
      return stickyAssignment(input);
    default: {
      const never: never = name;
      throw new Error(`unknown assignor ${String(never)}`);
    }
  }
}
