// Safety invariants of Raft, checked incrementally after every step of the simulation. The checker
// sees only what a node exposes (its log, role, commit, what it applies) and what clients were
// told; it never trusts the core's own assertions.
import type { Entry, Index, NodeId, Term } from '../types.js';

export type ViolationKind =
  | 'electionSafety' | 'logMatching' | 'leaderCompleteness' | 'committedChanged' | 'ackedLost'
  | 'appliedDiverged' | 'commitRegressed' | 'isolatedLeader' | 'liveness' | 'coreAssert';

export class Violation extends Error {
  override name = 'Violation';
  constructor(readonly kind: ViolationKind, message: string) {
    super(`${kind}: ${message}`);
  }
}

/** What the checker needs to read from one node's log. */
export interface LogView {
  firstIndex(): Index;
  lastIndex(): Index;
  term(i: Index): Term | undefined;
  entryAt(i: Index): Entry | undefined;
}

export function entryKey(e: Entry): string {
  let data = '';
  for (const b of e.data) data += b.toString(16).padStart(2, '0');
  return `${e.term}/${e.type}/${data}`;
}

export class InvariantChecker {
  /** term → the node seen leading it (Election Safety, §5.2). */
  private leaders = new Map<number, NodeId>();
  /** "index:term" → entry key and the term before it: Log Matching by induction (§5.3). */
  private byIndexTerm = new Map<string, { key: string; prevTerm: number }>();
  /** index → key of the entry committed there, as first reported by any node. */
  readonly committed = new Map<number, string>();
  /** Client-acknowledged entries: index → term. */
  readonly acked = new Map<number, number>();
  /** per node: the commit it last reported while alive (reset on a restart). */
  private commitSeen = new Map<NodeId, number>();

  /** A node reports itself leader of `term` (called often; cheap unless it is a new leadership). */
  observeLeader(id: NodeId, term: Term, log: LogView): void {
    const seen = this.leaders.get(term);
    if (seen === id) return;
    if (seen !== undefined) throw new Violation('electionSafety', `nodes ${seen} and ${id} both lead term ${term}`);
    this.leaders.set(term, id);
    // Leader Completeness (§5.4): every entry committed so far — in earlier terms — is in its log.
    const first = log.firstIndex();
    for (const [i, key] of this.committed) {
      if (i < first) continue;
      const e = log.entryAt(i as Index);
      if (e === undefined || entryKey(e) !== key) {
        throw new Violation('leaderCompleteness', `leader ${id} of term ${term} lacks committed entry ${i} (${key})`);
      }
    }
    for (const [i, t] of this.acked) {
      if (i >= first && log.term(i as Index) !== t) {
        throw new Violation('ackedLost', `leader ${id} of term ${term} lacks acknowledged entry ${i}@${t}`);
      }
    }
  }

  /** A node is about to persist these entries, appended after an entry of term prevTerm. */
  observeAppend(id: NodeId, entries: readonly Entry[], prevTerm: Term): void {
    let prev: number = prevTerm;
    for (const e of entries) {
      const k = `${e.index}:${e.term}`;
      const key = entryKey(e);
      const seen = this.byIndexTerm.get(k);
      if (seen === undefined) this.byIndexTerm.set(k, { key, prevTerm: prev });
      else if (seen.key !== key || seen.prevTerm !== prev) {
        throw new Violation('logMatching', `node ${id}: entry ${k} is ${key} after term ${prev}, elsewhere ${seen.key} after term ${seen.prevTerm}`);
      }
      prev = e.term;
    }
  }

  /** A node reports commit index `commit`: its log must agree with everything committed so far. */
  observeCommit(id: NodeId, commit: Index, log: LogView): void {
    const before = this.commitSeen.get(id) ?? 0;
    if (commit < before) throw new Violation('commitRegressed', `node ${id} commit went from ${before} to ${commit} without a restart`);
    const from = Math.max(before + 1, log.firstIndex());
    for (let i = from; i <= commit; i += 1) {
      const e = log.entryAt(i as Index);
      if (e === undefined) throw new Violation('committedChanged', `node ${id} reports commit ${commit} but lacks entry ${i}`);
      this.recordCommitted(id, e);
    }
    this.commitSeen.set(id, commit);
  }

  /** A node restarted: its in-memory commit may legitimately be lower now. */
  observeRestart(id: NodeId): void {
    this.commitSeen.delete(id);
  }

  /** A node applies e (it is committed): the applied sequences of all nodes are one sequence. */
  observeApply(id: NodeId, e: Entry): void {
    const known = this.committed.get(e.index);
    if (known !== undefined && known !== entryKey(e)) {
      throw new Violation('appliedDiverged', `node ${id} applied ${entryKey(e)} at ${e.index}; committed there: ${known}`);
    }
    this.recordCommitted(id, e);
  }

  private recordCommitted(id: NodeId, e: Entry): void {
    const key = entryKey(e);
    const known = this.committed.get(e.index);
    if (known === undefined) this.committed.set(e.index, key);
    else if (known !== key) {
      throw new Violation('committedChanged', `node ${id} has ${key} at committed index ${e.index}; it was ${known}`);
    }
  }

  /** A client was told its entry committed. */
  observeAck(index: Index, term: Term): void {
    this.acked.set(index, term);
  }

  leaderOf(term: number): NodeId | undefined {
    return this.leaders.get(term);
  }
}
