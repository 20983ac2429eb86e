import { describe, expect, it } from 'vitest';
import { nextReassignmentStep, type MemberProgress, type ReassignmentView } from '../../node/reassignment-step.js';

const live = (match: number): MemberProgress => ({ match, recentActive: true });
const dead = (match: number): MemberProgress => ({ match, recentActive: false });

function view(o: Partial<ReassignmentView> & Pick<ReassignmentView, 'voters' | 'target'>): ReassignmentView {
  return { selfId: 1, learners: [], commit: 100, progress: new Map(), ...o };
}

describe('nextReassignmentStep', () => {
  it('walks add learner → wait for catch-up → promote → remove the dead voter → done', () => {
    const progress = new Map([[1, live(100)], [2, live(100)], [3, dead(40)]]);
    const target = [1, 2, 4];
    expect(nextReassignmentStep(view({ voters: [1, 2, 3], target, progress })))
      .toEqual({ kind: 'change', change: { type: 'addLearner', nodeId: 4 } });
    // Each call starts from the committed configuration only: a new leader resumes from here.
    progress.set(4, live(10));
    expect(nextReassignmentStep(view({ voters: [1, 2, 3], learners: [4], target, progress })))
      .toEqual({ kind: 'wait', why: 'node 4 is catching up (match 10, commit 100)' });
    progress.set(4, live(100));
    expect(nextReassignmentStep(view({ voters: [1, 2, 3], learners: [4], target, progress })))
      .toEqual({ kind: 'change', change: { type: 'addVoter', nodeId: 4 } });
    expect(nextReassignmentStep(view({ voters: [1, 2, 3, 4], target, progress })))
      .toEqual({ kind: 'change', change: { type: 'removeNode', nodeId: 3 } });
    expect(nextReassignmentStep(view({ voters: [1, 2, 4], target, progress }))).toEqual({ kind: 'done' });
  });

  it('never promotes or removes when that would leave fewer caught-up voters than a majority', () => {
    // Voters 1,2,3 with 2 and 3 down: promoting 4 makes 4 voters with only 2 caught up.
    const progress = new Map([[1, live(100)], [2, dead(90)], [3, dead(40)], [4, live(100)]]);
    expect(nextReassignmentStep(view({ voters: [1, 2, 3], learners: [4], target: [1, 2, 4], progress })))
      .toEqual({ kind: 'wait', why: 'promoting node 4 would leave too few caught-up voters' });
    // Removing 2 from {1,2,3,4} leaves {1,3,4}, where only the leader is caught up (4 is behind).
    progress.set(4, live(50));
    expect(nextReassignmentStep(view({ voters: [1, 2, 3, 4], target: [1, 4], progress })))
      .toEqual({ kind: 'wait', why: 'removing node 2 would leave too few caught-up voters' });
  });

  it('hands leadership to a caught-up target voter before removing the leader itself', () => {
    const progress = new Map([[1, live(100)], [2, live(100)], [3, live(100)]]);
    expect(nextReassignmentStep(view({ voters: [1, 2, 3], target: [3, 2], progress }))).toEqual({ kind: 'transfer', to: 3 });
    progress.set(3, live(20));
    expect(nextReassignmentStep(view({ voters: [1, 2, 3], target: [3, 2], progress }))).toEqual({ kind: 'transfer', to: 2 });
    progress.set(2, dead(100));
    expect(nextReassignmentStep(view({ voters: [1, 2, 3], target: [3, 2], progress })).kind).toBe('wait');
  });

  it('removes a learner a replaced target left behind, before anything else', () => {
    const progress = new Map([[1, live(100)], [2, live(100)], [4, live(3)]]);
    expect(nextReassignmentStep(view({ voters: [1, 2, 3], learners: [4], target: [1, 2, 5], progress })))
      .toEqual({ kind: 'change', change: { type: 'removeNode', nodeId: 4 } });
    expect(() => nextReassignmentStep(view({ voters: [1], target: [] }))).toThrow(/at least one node/);
  });

  it('changes the replication factor: grows by learners first, shrinks by removals', () => {
    const progress = new Map([[1, live(100)], [2, live(100)], [3, live(100)]]);
    expect(nextReassignmentStep(view({ voters: [1, 2, 3], target: [1, 2], progress })))
      .toEqual({ kind: 'change', change: { type: 'removeNode', nodeId: 3 } });
    expect(nextReassignmentStep(view({ voters: [1, 2], target: [1, 2], progress }))).toEqual({ kind: 'done' });
    expect(nextReassignmentStep(view({ voters: [1], target: [1, 2, 3], progress })))
      .toEqual({ kind: 'change', change: { type: 'addLearner', nodeId: 2 } });
    expect(nextReassignmentStep(view({ voters: [1], learners: [2, 3], target: [1, 2, 3], progress })))
      .toEqual({ kind: 'change', change: { type: 'addVoter', nodeId: 2 } });
  });
});
