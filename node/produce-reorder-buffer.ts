/**
 * Idempotent batches that reached the leader ahead of their turn. The SDK keeps up to five
 * batches in flight per partition, each its own gRPC call; HTTP/2 interleaves the frames of
 * concurrent calls, so a small batch sent after a large one can arrive first. Kafka's connection
 * processes requests in order; a gRPC channel does not. Refusing such a batch with
 * OUT_OF_ORDER_SEQUENCE would make the producer re-send its whole window, so the leader holds it
 * until the batches before it are appended (release) or a short deadline passes (then the
 * original refusal stands). Leadership loss fails everything held (failAll).
 *
 * Bounded per partition in batches and bytes; past either bound a batch is refused at once, as
 * it would be without this buffer.
 */
import { sequenceDistance } from './producer-state.js';

export interface ReorderLimits {
  /** Most batches held at once (the SDK window is five per producer). */
  readonly batchesMax: number;
  /** Most bytes held at once. */
  readonly bytesMax: number;
  /** How long a batch is held before its refusal stands, in ms. */
  readonly waitMs: number;
}

export const reorderLimitsDefault: ReorderLimits = { batchesMax: 32, bytesMax: 32 * 1024 * 1024, waitMs: 250 };

interface Held {
  readonly producerId: number;
  readonly baseSequence: number;
  readonly bytes: number;
  readonly timer: NodeJS.Timeout;
  /** Checks the batch again (it may append, be held again, or be refused). */
  readonly retry: (deadlineMs: number) => void;
  /** Refuses the batch: with `err`, or with its original refusal when undefined. */
  readonly fail: (err?: Error) => void;
  readonly deadlineMs: number;
}

export class ProduceReorderBuffer {
  private held: Held[] = [];
  private bytes = 0;

  constructor(private readonly limits: ReorderLimits = reorderLimitsDefault) {}

  get size(): number {
    return this.held.length;
  }

  /**
   * Holds a batch until release(producerId) or `deadlineMs` (performance.now() ms). Returns
   * false, holding nothing, when the buffer is full or the deadline has passed.
   */
  hold(
    producerId: number, baseSequence: number, bytes: number, deadlineMs: number,
    retry: (deadlineMs: number) => void, fail: (err?: Error) => void,
  ): boolean {
    const waitMs = deadlineMs - performance.now();
    if (waitMs <= 0 || this.held.length >= this.limits.batchesMax || this.bytes + bytes > this.limits.bytesMax) return false;
    const timer = setTimeout(() => {
      if (this.take((h) => h === entry).length > 0) fail();
    }, waitMs);
    const entry: Held = { producerId, baseSequence, bytes, timer, retry, fail, deadlineMs };
    this.held.push(entry);
    this.bytes += bytes;
    return true;
  }

  /** The deadline a newly held batch gets. */
  deadlineFromNow(): number {
    return performance.now() + this.limits.waitMs;
  }

  /**
   * A batch of `producerId` was appended and `nextSequence` follows it: its held batches try
   * again, nearest first (counted from nextSequence, as sequences wrap). A retry that throws
   * fails its own batch only.
   */
  release(producerId: number, nextSequence: number): void {
    if (this.held.length === 0) return;
    const distance = (h: Held): number => sequenceDistance(nextSequence, h.baseSequence);
    const mine = this.take((h) => h.producerId === producerId).sort((a, b) => distance(a) - distance(b));
    for (const h of mine) {
      try {
        h.retry(h.deadlineMs);
      } catch (err) {
        h.fail(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** Refuses everything held (leadership lost). */
  failAll(err: Error): void {
    for (const h of this.take(() => true)) h.fail(err);
  }

  private take(match: (h: Held) => boolean): Held[] {
    const out: Held[] = [];
    const keep: Held[] = [];
    for (const h of this.held) (match(h) ? out : keep).push(h);
    this.held = keep;
    for (const h of out) {
      clearTimeout(h.timer);
      this.bytes -= h.bytes;
    }
    if (this.bytes < 0 || (this.held.length === 0 && this.bytes !== 0)) throw new Error(`reorder buffer counts ${this.bytes} bytes with ${this.held.length} batches held`);
    return out;
  }
}
