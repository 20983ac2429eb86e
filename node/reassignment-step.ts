/**
 * The next membership step of a partition reassignment, decided by the partition's Raft leader
 * from what it knows now (pure: the driver calls it every round, so a leader change or a restart
 * simply resumes from the group's committed configuration):
 *
 *   1. a learner that is not in the target is removed (left over from a replaced target);
 *   2. each target node that is not a member is added as a learner (receives the log, no vote);
 *   3. a learner that has caught up (holds everything committed, heard from lately) is promoted,
 *      if the voters after the change still have a majority of caught-up members;
 *   4. once every target node votes, each voter outside the target is removed, with the same
 *      majority check; the leader hands leadership to a caught-up target voter before its own;
 *   5. voters = target and no learners: done, the controller is told.
 *
 * Raft (raft/confchange.ts) makes one change at a time, each taking effect when committed. Adding
 * before removing, and the majority check, mean the group never has fewer caught-up voters than a
 * majority of its current configuration because of a step of the move.
 */
import type { ConfChangeType } from '../raft/types.js';

export interface MemberProgress {
  /** Highest index known to be on that member. */
  readonly match: number;
  /** Heard from since the leader's last check-quorum round. */
  readonly recentActive: boolean;
}

export interface ReassignmentView {
  readonly selfId: number;
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  readonly target: readonly number[];
  readonly commit: number;
  /** The leader's progress per member (itself included). */
  readonly progress: ReadonlyMap<number, MemberProgress>;
}

export type ReassignmentStep =
  | { readonly kind: 'done' }
  | { readonly kind: 'wait'; readonly why: string }
  | { readonly kind: 'change'; readonly change: { readonly type: ConfChangeType; readonly nodeId: number } }
  | { readonly kind: 'transfer'; readonly to: number };

export function nextReassignmentStep(v: ReassignmentView): ReassignmentStep {
  if (v.target.length === 0) throw new Error('a reassignment target needs at least one node');
  const target = new Set(v.target);
  const voters = new Set(v.voters);
  const learners = new Set(v.learners);
  const caughtUp = (id: number): boolean => {
    if (id === v.selfId) return true;
    const pr = v.progress.get(id);
    return pr !== undefined && pr.recentActive && pr.match >= v.commit;
  };
  const keepsMajority = (after: readonly number[]): boolean => after.filter(caughtUp).length >= Math.floor(after.length / 2) + 1;

  for (const id of v.learners) if (!target.has(id)) return { kind: 'change', change: { type: 'removeNode', nodeId: id } };
  for (const id of v.target) {
    if (!voters.has(id) && !learners.has(id)) return { kind: 'change', change: { type: 'addLearner', nodeId: id } };
  }
  for (const id of v.target) {
    if (!learners.has(id)) continue;
    if (!caughtUp(id)) return { kind: 'wait', why: `node ${id} is catching up (match ${v.progress.get(id)?.match ?? 0}, commit ${v.commit})` };
    if (!keepsMajority([...v.voters, id])) return { kind: 'wait', why: `promoting node ${id} would leave too few caught-up voters` };
    return { kind: 'change', change: { type: 'addVoter', nodeId: id } };
  }
  for (const id of v.voters) {
    if (target.has(id)) continue;
    if (id === v.selfId) {
      const heir = v.target.find((t) => voters.has(t) && caughtUp(t));
      return heir === undefined ? { kind: 'wait', why: 'no caught-up target voter to hand leadership to' } : { kind: 'transfer', to: heir };
    }
    if (!keepsMajority(v.voters.filter((x) => x !== id))) return { kind: 'wait', why: `removing node ${id} would leave too few caught-up voters` };
    return { kind: 'change', change: { type: 'removeNode', nodeId: id } };
  }
  return { kind: 'done' };
}
