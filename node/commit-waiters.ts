/**
 * Proposers waiting for their Raft entry's fate, in index order. An entry proposed at (index,
 * term) succeeded iff the entry that reaches the awaited point at that index has the same term;
 * a different term means it was replaced and definitely did not happen. No decision before the
 * timeout means the outcome is unknown, and the error says so.
 */
import { ReplicaError } from './replica-error.js';

interface Waiter {
  readonly index: number;
  readonly term: number;
  readonly resolve: () => void;
  readonly reject: (err: ReplicaError) => void;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
}

export class CommitWaiters {
  private queue: Waiter[] = [];

  /** `what` names the point awaited in messages: "commit" or "persist". */
  constructor(private readonly what: string) {}

  get size(): number {
    return this.queue.length;
  }

  /** Waits for the fate of an entry this node has just proposed (the newest in its log). */
  wait(index: number, term: number, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w = this.waiter(index, term, timeoutMs, resolve, reject);
      // A waiter at or above this index was proposed in an older term and has left this node's
      // log (it lost and regained leadership). Another node may still hold that entry and commit
      // it as a later leader, so its fate is unknown here: TIMEOUT, never a definite failure.
      while (this.queue.length > 0 && this.queue[this.queue.length - 1]!.index >= index) {
        const stale = this.queue.pop()!;
        this.finish(stale, new ReplicaError('TIMEOUT', `Raft entry ${stale.index} left this node's log after a leadership change; the write may or may not have happened`));
      }
      this.queue.push(w);
    });
  }

  /**
   * Waits for the fate of an entry proposed earlier (a retried batch answered with the original's
   * offset): it joins the queue in index order and, unlike wait(), says nothing about the entries
   * proposed after it.
   */
  waitExisting(index: number, term: number, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w = this.waiter(index, term, timeoutMs, resolve, reject);
      let at = this.queue.length;
      while (at > 0 && this.queue[at - 1]!.index > index) at -= 1;
      this.queue.splice(at, 0, w);
    });
  }

  private waiter(index: number, term: number, timeoutMs: number, resolve: () => void, reject: (err: ReplicaError) => void): Waiter {
    const w: Waiter = { index, term, resolve, reject, done: false, timer: undefined };
    w.timer = setTimeout(() => this.finish(w, new ReplicaError('TIMEOUT',
      `no ${this.what} decision for Raft entry ${index} within ${timeoutMs} ms; the write may or may not have happened`)), timeoutMs);
    return w;
  }

  /** Every waiter up to `lastIndex` learns its fate; `termAt` gives the term now at an index. */
  settleThrough(lastIndex: number, termAt: (index: number) => number | undefined): void {
    let n = 0;
    while (n < this.queue.length && this.queue[n]!.index <= lastIndex) {
      const w = this.queue[n]!;
      if (termAt(w.index) === w.term) this.finish(w, undefined);
      else this.finish(w, new ReplicaError('NOT_LEADER', `leadership changed and Raft entry ${w.index} was replaced: the write did not happen`));
      n += 1;
    }
    if (n > 0) this.queue = this.queue.slice(n);
  }

  /**
   * Waiters through `index` can no longer learn their fate here (a snapshot replaced that part of
   * the log): the outcome is unknown.
   */
  unknownThrough(index: number, reason: string): void {
    while (this.queue.length > 0 && this.queue[0]!.index <= index) {
      this.finish(this.queue.shift()!, new ReplicaError('TIMEOUT', `${reason}; the write may or may not have happened`));
    }
  }

  /**
   * Answers every waiter now (shutdown, group removal). The entries may already be on followers
   * and commit under the next leader, so the outcome is unknown: TIMEOUT, never a definite failure.
   */
  abortAll(reason: string): void {
    for (const w of this.queue.splice(0)) this.finish(w, new ReplicaError('TIMEOUT', `${reason}; the write may or may not have happened`));
  }

  private finish(w: Waiter, err: ReplicaError | undefined): void {
    if (w.done) return;
    w.done = true;
    if (w.timer) clearTimeout(w.timer);
    if (err) w.reject(err);
    else w.resolve();
  }
}
