// What a host asks of a leader: new entries, membership changes, leadership transfer. Every refusal
// is a value with a code and the current leader id (the "not leader" hint for clients).
import { encodeConfChange, validateConfChange } from './confchange.js';
import type { ProposeErrorCode, ProposeResult, Raft } from './raft.js';
import { NO_NODE, type ConfChange, type EntryType, type NodeId } from './types.js';

function refuse(r: Raft, code: ProposeErrorCode, message: string): ProposeResult {
  return { ok: false, code, leader: r.lead, message };
}

function proposeEntry(r: Raft, type: EntryType, data: Uint8Array): ProposeResult {
  if (r.role !== 'leader') return refuse(r, 'notLeader', `node ${r.id} is not the leader`);
  if (r.leadTransferee !== NO_NODE) {
    return refuse(r, 'transferring', `leadership is moving to ${r.leadTransferee}; retry there`);
  }
  if (r.uncommittedBytes > 0 && r.uncommittedBytes + data.byteLength > r.maxUncommittedBytes) {
    return refuse(r, 'overloaded', `${r.uncommittedBytes} bytes await commit; slow down`);
  }
  const e = r.appendEntry(type, data);
  return { ok: true, index: e.index, term: e.term };
}

/** Propose one entry (for Ferry: one record batch). Replication happens at the next Ready. */
export function propose(r: Raft, data: Uint8Array): ProposeResult {
  return proposeEntry(r, 'normal', data);
}

/** One server at a time; refused while the previous change (or the leader's no-op) is uncommitted. */
export function proposeConfChange(r: Raft, cc: ConfChange): ProposeResult {
  if (r.role === 'leader' && r.pendingConfIndex > r.log.committed) {
    return refuse(r, 'confChangePending', `entry ${r.pendingConfIndex} (a conf change or this leader's no-op) is not committed yet`);
  }
  const problem = r.role === 'leader' ? validateConfChange(r.conf, cc) : undefined;
  if (problem !== undefined) return refuse(r, 'invalidConfChange', problem);
  const result = proposeEntry(r, 'conf', encodeConfChange(cc));
  if (result.ok) r.pendingConfIndex = result.index;
  return result;
}

/**
 * Leadership transfer (§3.10): bring `to` up to date, then tell it to campaign at once. Proposals
 * are refused meanwhile; the transfer is aborted if it does not finish within an election timeout.
 */
export function transferLeadership(r: Raft, to: NodeId): ProposeResult {
  if (r.role !== 'leader') return refuse(r, 'notLeader', `node ${r.id} is not the leader`);
  if (!r.conf.voters.includes(to)) return refuse(r, 'invalidConfChange', `node ${to} is not a voter`);
  if (to === r.id) return { ok: true, index: r.log.lastIndex(), term: r.term };
  r.leadTransferee = to;
  r.transferElapsed = 0; // the timeout for the transfer starts now
  const pr = r.progress.get(to)!;
  if (pr.match === r.log.lastIndex()) r.send({ type: 'timeoutNow', term: r.term, from: r.id, to });
  else r.sendAppend(to, true);
  return { ok: true, index: r.log.lastIndex(), term: r.term };
}
