// Majority quorum math, pure. One-at-a-time membership changes mean one majority config at a time
// (see confchange.ts for why we chose that over joint consensus).
import type { Index, NodeId } from './types.js';

export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * The largest index that a majority of voters has persisted: sort the acknowledged indexes in
 * descending order and take the one at position ⌊n/2⌋. Voters without an entry count as 0.
 * Allocates one small array: it runs per acknowledgement, never per idle tick.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => Index): Index {
  if (voters.length === 0) return Number.MAX_SAFE_INTEGER as Index; // nobody to wait for (caller asserts)
  const matches = voters.map(matchOf);
  matches.sort((a, b) => b - a);
  return matches[Math.floor(voters.length / 2)]!;
}

/** Outcome of an election given the votes received so far (true = granted). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted += 1;
    else if (v === false) rejected += 1;
  }
  const majority = Math.floor(voters.length / 2) + 1;
  if (granted >= majority) return 'won';
  if (voters.length - rejected < majority) return 'lost';
  return 'pending';
}

/** True when the voters for which isActive holds form a majority. */
export function hasQuorum(voters: readonly NodeId[], isActive: (id: NodeId) => boolean): boolean {
  let active = 0;
  for (const id of voters) if (isActive(id)) active += 1;
  return active >= Math.floor(voters.length / 2) + 1;
}
