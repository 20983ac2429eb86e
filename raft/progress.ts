// What a leader knows about one follower's log (etcd's tracker/ in spirit), pure.
//   probe:     we do not know where the follower's log ends; one append at a time until it answers.
//   replicate: the follower is in sync; stream appends optimistically within the inflight window.
//   snapshot:  the follower is behind our log start; wait for it to install a snapshot.
import { assert } from './assert.js';
import { Inflights } from './inflights.js';
import { asIndex, type Index } from './types.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to be persisted on the follower. */
  match: Index = asIndex(0);
  /** Next index to send. match < next always. */
  next: Index;
  state: ProgressState = 'probe';
  /** probe: an append is outstanding, wait for an answer (or the next heartbeat) before another. */
  probeSent = false;
  /** snapshot: the index of the snapshot in flight. */
  pendingSnapshot: Index = asIndex(0);
  /** Heartbeat responses since match last advanced while we wait for acks (lost appends or snapshot). */
  stalledBeats = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: Index, public isLearner: boolean, maxInflightMsgs: number, maxInflightBytes: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = asIndex(0);
    this.stalledBeats = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    const fromSnapshot = this.state === 'snapshot' ? this.pendingSnapshot : 0;
    this.resetState('probe');
    this.next = asIndex(Math.max(this.match + 1, fromSnapshot + 1));
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = asIndex(this.match + 1);
  }

  becomeSnapshot(snapshotIndex: Index): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** The follower acknowledged index n. Returns true if that told us something new. */
  maybeUpdate(n: Index): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      this.stalledBeats = 0;
      updated = true;
      this.probeSent = false;
    }
    this.next = asIndex(Math.max(this.next, n + 1));
    return updated;
  }

  /** Optimistic advance after sending entries up to lastIndex in the replicate state. */
  sentEntries(lastIndex: Index, bytes: number): void {
    if (this.state === 'replicate') {
      this.next = asIndex(lastIndex + 1);
      this.inflights.add(lastIndex, bytes);
    } else {
      assert(this.state === 'probe', `sent entries in the ${this.state} state`);
      this.probeSent = true;
    }
  }

  /**
   * The follower rejected an append at `rejected`; matchHint is where our logs may agree.
   * Returns false for a stale rejection (one that no longer tells us anything).
   */
  maybeDecrTo(rejected: Index, matchHint: Index): boolean {
    // A rejection of an append sent at or past our match that hints below it: the follower lost
    // entries it had acknowledged (its disk was damaged and it restarted). Believe it and probe
    // from its hint; a late duplicate of an old rejection can look the same and costs only a
    // re-probe (match falls, commit never does).
    if (rejected >= this.match && matchHint < this.match) {
      this.match = matchHint;
      this.next = asIndex(matchHint + 1);
      this.probeSent = false;
      return true;
    }
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false; // stale: sent before a later success
      this.next = asIndex(this.match + 1);
      return true;
    }
    if (this.next - 1 !== rejected) return false; // stale: not the probe we sent last
    this.next = asIndex(Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1));
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent;
      case 'replicate': return this.inflights.full();
      case 'snapshot': return true;
    }
  }
}
