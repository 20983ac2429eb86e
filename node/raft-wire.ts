/**
 * Converts raft/'s message union to and from the ferry.v1 RaftMessage wire form. A frame from a
 * peer is input like any other: fromWire checks every field a well-formed message must have and
 * throws WireError instead of handing the core something it would assert on.
 */
import { decodeConfChange, encodeConfChange } from '../raft/confchange.js';
import {
  asIndex, asNodeId, asTerm,
  type ConfChangeType, type Entry, type EntryType, type Message, type NodeId,
} from '../raft/types.js';
import type { ConfChangeType__Output } from '../proto/gen/ferry/v1/ConfChangeType.js';
import type { Entry as WireEntry, Entry__Output as WireEntryOut } from '../proto/gen/ferry/v1/Entry.js';
import type { EntryType__Output } from '../proto/gen/ferry/v1/EntryType.js';
import type { RaftMessage, RaftMessage__Output } from '../proto/gen/ferry/v1/RaftMessage.js';

export class WireError extends Error {
  override readonly name = 'WireError';
}

const entryTypeToWire: Record<EntryType, EntryType__Output> = {
  normal: 'ENTRY_TYPE_NORMAL', noop: 'ENTRY_TYPE_NOOP', conf: 'ENTRY_TYPE_CONF',
};
const confTypeToWire: Record<ConfChangeType, ConfChangeType__Output> = {
  addVoter: 'CONF_CHANGE_TYPE_ADD_VOTER', addLearner: 'CONF_CHANGE_TYPE_ADD_LEARNER', removeNode: 'CONF_CHANGE_TYPE_REMOVE_NODE',
};
const confTypeFromWire: Partial<Record<string, ConfChangeType>> = Object.fromEntries(
  Object.entries(confTypeToWire).map(([k, v]) => [v, k as ConfChangeType]),
);
const emptyBytes = new Uint8Array(0);

function entryToWire(e: Entry): WireEntry {
  if (e.type === 'conf') {
    const cc = decodeConfChange(e.data);
    return { term: e.term, index: e.index, type: 'ENTRY_TYPE_CONF', confChange: { type: confTypeToWire[cc.type], nodeId: cc.nodeId } };
  }
  return { term: e.term, index: e.index, type: entryTypeToWire[e.type], data: e.type === 'normal' ? e.data : emptyBytes };
}

function entryFromWire(w: WireEntryOut): Entry {
  const term = asTerm(w.term);
  const index = asIndex(w.index);
  if (w.index < 1) throw new WireError(`entry index must be >= 1, got ${w.index}`);
  switch (w.type) {
    case 'ENTRY_TYPE_NORMAL':
      if (w.data.byteLength === 0) throw new WireError(`normal entry ${w.index} has no data`);
      return { term, index, type: 'normal', data: w.data };
    case 'ENTRY_TYPE_NOOP':
      return { term, index, type: 'noop', data: emptyBytes };
    case 'ENTRY_TYPE_CONF': {
      const type = w.confChange ? confTypeFromWire[w.confChange.type] : undefined;
      if (!w.confChange || type === undefined || w.confChange.nodeId < 1) {
        throw new WireError(`conf entry ${w.index} lacks a valid conf_change`);
      }
      return { term, index, type: 'conf', data: encodeConfChange({ type, nodeId: asNodeId(w.confChange.nodeId) }) };
    }
    default:
      throw new WireError(`entry ${w.index} has type ${String(w.type)}`);
  }
}

/** The wire form of a raft message (the group key travels beside it, in GroupMessage). */
export function messageToWire(m: Message): RaftMessage {
  const head = { term: m.term, from: m.from, to: m.to };
  switch (m.type) {
    case 'vote':
    case 'preVote':
      return { ...head, voteRequest: { preVote: m.type === 'preVote', lastIndex: m.lastIndex, lastTerm: m.lastTerm, transfer: m.transfer } };
    case 'voteResp':
    case 'preVoteResp':
      return { ...head, voteResponse: { preVote: m.type === 'preVoteResp', reject: m.reject } };
    case 'app':
      return { ...head, appendRequest: { prevIndex: m.prevIndex, prevTerm: m.prevTerm, commit: m.commit, entries: m.entries.map(entryToWire) } };
    case 'appResp':
      return { ...head, appendResponse: { index: m.index, reject: m.reject, rejectHint: m.rejectHint, logTerm: m.logTerm } };
    case 'heartbeat':
      return { ...head, heartbeat: { commit: m.commit } };
    case 'heartbeatResp':
      return { ...head, heartbeatResponse: {} };
    case 'snap': {
      const { meta, data } = m.snapshot;
      return {
        ...head,
        installSnapshot: {
          index: meta.index, term: meta.term, data,
          confState: { voters: [...meta.confState.voters], learners: [...meta.confState.learners] },
        },
      };
    }
    case 'timeoutNow':
      return { ...head, timeoutNow: {} };
    default:
      return assertNever(m);
  }
}

function assertNever(m: never): never {
  throw new Error(`unhandled raft message ${JSON.stringify(m)}`);
}

function nodeIds(ids: readonly number[], what: string): NodeId[] {
  for (const id of ids) if (!Number.isInteger(id) || id < 1) throw new WireError(`${what} holds invalid node id ${id}`);
  return ids.map(asNodeId);
}

/** The raft message a wire frame carries; throws WireError on anything malformed. */
export function messageFromWire(w: RaftMessage__Output): Message {
  if (w.from < 1 || w.to < 1) throw new WireError(`message from ${w.from} to ${w.to}: node ids must be >= 1`);
  const head = { term: asTerm(w.term), from: asNodeId(w.from), to: asNodeId(w.to) };
  switch (w.body) {
    case 'voteRequest': {
      const b = w.voteRequest!;
      return { ...head, type: b.preVote ? 'preVote' : 'vote', lastIndex: asIndex(b.lastIndex), lastTerm: asTerm(b.lastTerm), transfer: b.transfer };
    }
    case 'voteResponse': {
      const b = w.voteResponse!;
      return { ...head, type: b.preVote ? 'preVoteResp' : 'voteResp', reject: b.reject };
    }
    case 'appendRequest': {
      const b = w.appendRequest!;
      const entries = b.entries.map(entryFromWire);
      entries.forEach((e, k) => {
        if (e.index !== b.prevIndex + 1 + k) throw new WireError(`append entries not contiguous after ${b.prevIndex}`);
      });
      return { ...head, type: 'app', prevIndex: asIndex(b.prevIndex), prevTerm: asTerm(b.prevTerm), commit: asIndex(b.commit), entries };
    }
    case 'appendResponse': {
      const b = w.appendResponse!;
      return { ...head, type: 'appResp', index: asIndex(b.index), reject: b.reject, rejectHint: asIndex(b.rejectHint), logTerm: asTerm(b.logTerm) };
    }
    case 'heartbeat':
      return { ...head, type: 'heartbeat', commit: asIndex(w.heartbeat!.commit) };
    case 'heartbeatResponse':
      return { ...head, type: 'heartbeatResp' };
    case 'installSnapshot': {
      const b = w.installSnapshot!;
      const confState = { voters: nodeIds(b.confState?.voters ?? [], 'snapshot voters'), learners: nodeIds(b.confState?.learners ?? [], 'snapshot learners') };
      if (confState.voters.length === 0) throw new WireError('snapshot has no voters');
      return { ...head, type: 'snap', snapshot: { meta: { index: asIndex(b.index), term: asTerm(b.term), confState }, data: b.data } };
    }
    case 'timeoutNow':
      return { ...head, type: 'timeoutNow' };
    default:
      throw new WireError(`raft message without a body (body=${String(w.body)})`);
  }
}
