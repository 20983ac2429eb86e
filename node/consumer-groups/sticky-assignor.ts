/**
 * The cooperative-sticky target: as balanced as the subscriptions allow, moving as few partitions
 * away from their current owners as that balance needs.
 *
 *   1. Every partition keeps its current owner if that owner is still a member subscribed to it.
 *   2. The rest go one by one to the eligible member holding the fewest (ties: lowest id).
 *   3. While some member holds two or more partitions more than an eligible other member, one of
 *      its partitions (the highest, so the choice is deterministic) moves there.
 *
 * Step 3 only moves from a member above another by two or more, and each move lowers the sum of
 * squared counts by at least 2, so it ends; for equal subscriptions it ends with every count
 * within one of every other, having moved only partitions above a member's fair share.
 */
import type { AssignmentInput, TargetAssignment } from './assignors.js';
import { compareKeys, partitionsOfTopics } from './partition-ref.js';

function topicOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/'));
}

export function stickyAssignment(input: AssignmentInput): TargetAssignment {
  const members = [...input.members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const subscribes = new Map(members.map((m) => [m.id, new Set(m.topics)]));
  const held = new Map<string, string[]>(members.map((m) => [m.id, []]));
  const out: TargetAssignment = new Map();
  const give = (key: string, memberId: string): void => {
    out.set(key, memberId);
    held.get(memberId)!.push(key);
  };
  const all = partitionsOfTopics(members.flatMap((m) => m.topics), input.partitionsOf);
  const unassigned: string[] = [];
  for (const key of all) {
    const owner = input.owners.get(key);
    if (owner !== undefined && subscribes.get(owner)?.has(topicOf(key))) give(key, owner);
    else unassigned.push(key);
  }
  const fewest = (topic: string, except?: string): string | undefined => {
    let best: string | undefined;
    for (const m of members) {
      if (m.id === except || !subscribes.get(m.id)!.has(topic)) continue;
      if (best === undefined || held.get(m.id)!.length < held.get(best)!.length) best = m.id;
    }
    return best;
  };
  for (const key of unassigned) give(key, fewest(topicOf(key))!);
  rebalance(members.map((m) => m.id), held, out, fewest, all.length * Math.max(1, members.length));
  return out;
}

function rebalance(
  memberIds: readonly string[],
  held: Map<string, string[]>,
  out: TargetAssignment,
  fewest: (topic: string, except?: string) => string | undefined,
  movesMax: number,
): void {
  for (let moves = 0; ; moves += 1) {
    if (moves > movesMax) throw new Error(`sticky assignor did not settle within ${movesMax} moves`);
    let moved = false;
    const byLoad = [...memberIds].sort((a, b) => held.get(b)!.length - held.get(a)!.length || (a < b ? -1 : 1));
    for (const from of byLoad) {
      const mine = held.get(from)!;
      const candidates = [...mine].sort(compareKeys).reverse();
      for (const key of candidates) {
        const to = fewest(topicOf(key), from);
        if (to === undefined || mine.length - held.get(to)!.length < 2) continue;
        mine.splice(mine.indexOf(key), 1);
        held.get(to)!.push(key);
        out.set(key, to);
        moved = true;
        break;
      }
      if (moved) break;
    }
    if (!moved) return;
  }
}
