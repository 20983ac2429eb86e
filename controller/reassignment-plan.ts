/**
 * Which partitions move where when brokers are gone for good (fenced past the reassignment
 * delay): each replica on such a broker is replaced in place (so the preferred-leader order is
 * kept) by chooseReplacement's pick. Deterministic for a given state, so it can be tested as is.
 */
import { hostsOf, type MetadataState } from './metadata-state.js';
import { chooseReplacement, type ReplacementCandidate } from './placement.js';

export type MovePlan = Map<string, Array<{ partition: number; target: number[] }>>;

/**
 * The moves, per topic, that take replicas off the brokers in `gone`, at most `movesMax`
 * partitions. A partition already moving is planned from its target. A partition for which no
 * live broker is left to take a replica is left out (it waits for one).
 */
export function planMovesOff(state: MetadataState, gone: ReadonlySet<number>, movesMax: number): MovePlan {
  const brokers: ReplacementCandidate[] = [...state.brokers()].map((b) => ({ nodeId: b.nodeId, rack: b.rack, live: !b.fenced && !gone.has(b.nodeId) }));
  const load = new Map<number, number>();
  for (const t of state.topics()) for (const p of t.partitions) for (const id of hostsOf(p)) load.set(id, (load.get(id) ?? 0) + 1);
  const plan = new Map<string, Array<{ partition: number; target: number[] }>>();
  let planned = 0;
  for (const t of state.topics()) {
    for (const p of t.partitions) {
      if (planned >= movesMax) return plan;
      const current = p.target ?? p.replicas;
      if (!current.some((id) => gone.has(id))) continue;
      const next = [...current];
      for (const dead of current.filter((id) => gone.has(id))) {
        const replacement = chooseReplacement(brokers, next, dead, load);
        if (replacement === undefined) break; // no live broker left to take it: keep waiting
        next[next.indexOf(dead)] = replacement;
        load.set(replacement, (load.get(replacement) ?? 0) + 1);
      }
      if (next.some((id) => gone.has(id))) continue;
      const moves = plan.get(t.name) ?? [];
      moves.push({ partition: p.partition, target: next });
      plan.set(t.name, moves);
      planned += 1;
    }
  }
  return plan;
}

