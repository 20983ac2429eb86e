// Deliberately broken variants of the core, built by replacing methods on one instance. They live
// here, in tests only: the production code has no bug switches. Each one breaks one rule that
// the simulator's invariants must then catch.
import { asIndex, type AppendRequest, type Message, type RawNode } from '../../raft/index.js';
import { committedIndex } from '../../raft/quorum.js';

/** §5.4.2 / Figure 8 broken: commit whatever a majority holds, whatever its term. */
export function commitOldTermByCounting(node: RawNode): void {
  const r = node.raft;
  r.maybeCommit = () => {
    const mci = committedIndex(r.conf.voters, (id) => r.progress.get(id)?.match ?? asIndex(0));
    return mci > r.log.committed && r.commitTo(mci);
  };
}

/** Votes (and terms) are written but never fsynced: a crash forgets whom we voted for. */
export function voteWithoutPersisting(node: RawNode): void {
  node.mustSync = (_hs, entries, snapshot) => entries.length > 0 || snapshot !== undefined;
}

/** §5.1 broken: an AppendEntries from an older term is accepted as if it were current. */
export function acceptStaleAppends(node: RawNode): void {
  const r = node.raft;
  const step = r.step.bind(r);
  r.step = (m: Message) => {
    if (m.type === 'app' && m.term < r.term) {
      r.lead = m.from;
      r.handleAppend({ ...m, term: r.term });
      return;
    }
    step(m);
  };
}

/**
 * A follower that trusts the latest AppendEntries to be the whole truth: it cuts its log after the
 * message's last entry even when everything matched (so a delayed, reordered append deletes newer
 * — committed — entries), lowering its commit to fit.
 */
export function truncateOnEveryAppend(node: RawNode): void {
  const r = node.raft;
  const handle = r.handleAppend.bind(r);
  r.handleAppend = (m: AppendRequest) => {
    const end = m.prevIndex + m.entries.length;
    if (m.entries.length > 0 && r.log.matchTerm(m.prevIndex, m.prevTerm) && end < r.log.lastIndex() && end >= r.log.firstIndex()) {
      r.log.committed = asIndex(Math.min(r.log.committed, m.prevIndex));
      r.log.applying = asIndex(Math.min(r.log.applying, r.log.committed));
      r.log.applied = asIndex(Math.min(r.log.applied, r.log.committed));
      r.log.append(m.entries);
    }
    handle(m);
  };
}

/** Check-quorum broken: a leader always believes a majority hears it. */
export function ignoreCheckQuorum(node: RawNode): void {
  node.raft.quorumActive = () => true;
}

