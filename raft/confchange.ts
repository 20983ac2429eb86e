// Membership changes, one server at a time (Ongaro's thesis §4.1), pure.
//
// Why one-at-a-time rather than joint consensus: Ferry reassigns a partition replica by "add as
// learner → let it catch up → promote → remove the old one", which is a sequence of single steps
// anyway; with one majority config at a time the quorum math stays trivial and there is no joint
// state to persist, recover or leave. Any majority of C and any majority of C ± one server
// intersect, which is what makes a single step safe, given three rules the core enforces:
//   1. at most one change is in flight: a leader refuses a new one until the last is committed;
//   2. a leader first commits an entry of its own term (its no-op) before proposing a change —
//      the fix for the bug Ongaro described on raft-dev in 2015;
//   3. a change takes effect when the node learns it is committed (the approach of etcd), so a
//      truncated, uncommitted change never has to be rolled back. The leader proposes C_k+1 only
//      after committing C_k, and any append carrying C_k+1 also carries a commit ≥ C_k, so a node
//      that holds C_k+1 already uses C_k: live configurations differ by at most one step.
// Learners receive the log but neither vote nor count toward commit; promotion is addVoter on a
// learner, done when its progress shows it caught up.
import { assert } from './assert.js';
import { asNodeId, type ConfChange, type ConfChangeType, type ConfState, type NodeId } from './types.js';

const typeCodes: Record<ConfChangeType, number> = { addVoter: 1, addLearner: 2, removeNode: 3 };
const codeTypes: readonly (ConfChangeType | undefined)[] = [undefined, 'addVoter', 'addLearner', 'removeNode'];

/** Five bytes: type, then the node id as a big-endian uint32 (what a conf entry's data holds). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  assert(Number.isInteger(cc.nodeId) && cc.nodeId > 0 && cc.nodeId <= 0xffff_ffff, `bad node id ${cc.nodeId}`);
  const out = new Uint8Array(5);
  out[0] = typeCodes[cc.type];
  new DataView(out.buffer).setUint32(1, cc.nodeId);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  assert(data.byteLength === 5, `conf change of ${data.byteLength} bytes, want 5`);
  const type = codeTypes[data[0]!];
  assert(type !== undefined, `unknown conf change type ${data[0]}`);
  const nodeId = new DataView(data.buffer, data.byteOffset, 5).getUint32(1);
  return { type, nodeId: asNodeId(nodeId) };
}

/** Why a change cannot be applied to a config, or undefined when it can. */
export function validateConfChange(cs: ConfState, cc: ConfChange): string | undefined {
  const isVoter = cs.voters.includes(cc.nodeId);
  const isLearner = cs.learners.includes(cc.nodeId);
  switch (cc.type) {
    case 'addVoter':
      return isVoter ? `node ${cc.nodeId} is already a voter` : undefined;
    case 'addLearner':
      if (isVoter) return `node ${cc.nodeId} is a voter; demoting a voter is not supported`;
      return isLearner ? `node ${cc.nodeId} is already a learner` : undefined;
    case 'removeNode':
      if (!isVoter && !isLearner) return `node ${cc.nodeId} is not a member`;
      return isVoter && cs.voters.length === 1 ? 'cannot remove the last voter' : undefined;
  }
}

/** The config after cc. Callers validate first; an invalid change here is a bug. */
export function applyConfChange(cs: ConfState, cc: ConfChange): ConfState {
  const problem = validateConfChange(cs, cc);
  assert(problem === undefined, `applying an invalid conf change: ${problem}`);
  const voters = cs.voters.filter((id) => id !== cc.nodeId);
  const learners = cs.learners.filter((id) => id !== cc.nodeId);
  if (cc.type === 'addVoter') voters.push(cc.nodeId);
  if (cc.type === 'addLearner') learners.push(cc.nodeId);
  voters.sort((a, b) => a - b);
  learners.sort((a, b) => a - b);
  return { voters, learners };
}

export function isMember(cs: ConfState, id: NodeId): boolean {
  return cs.voters.includes(id) || cs.learners.includes(id);
}
