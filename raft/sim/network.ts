// The simulated network: every fault the real one has, driven by one seeded PRNG. Messages are
// dropped, duplicated, delayed by a random number of ticks (hence reordered), and cut by
// partitions that hold for a minimum number of ticks so that they mean something.
import type { Xoshiro128 } from '../prng.js';
import type { Message, NodeId } from '../types.js';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  readonly dropRate: number;
  /** Probability that a message is delivered twice (with independent delays). */
  readonly duplicateRate: number;
  /** Delay is uniform in [1, maxDelayTicks]. */
  readonly maxDelayTicks: number;
  /** Deliver what is due in a random order (a healthy network, like one gRPC stream, is FIFO). */
  readonly reorder: boolean;
}

interface InFlight {
  readonly deliverAtTick: number;
  readonly msg: Message;
}

export class Network {
  private inflight: InFlight[] = [];
  /** node → side of the partition; nodes on different sides cannot talk. Absent: side 0. */
  private sides = new Map<NodeId, number>();
  partitioned = false;
  /** The partition may not heal before this tick. */
  partitionHoldUntilTick = 0;
  sent = 0;
  dropped = 0;

  constructor(private readonly rng: Xoshiro128, public faults: NetworkFaults) {}

  canTalk(a: NodeId, b: NodeId): boolean {
    return !this.partitioned || (this.sides.get(a) ?? 0) === (this.sides.get(b) ?? 0);
  }

  send(m: Message, nowTick: number): void {
    this.sent += 1;
    if (!this.canTalk(m.from, m.to) || this.rng.chance(this.faults.dropRate)) {
      this.dropped += 1;
      return;
    }
    const copies = this.rng.chance(this.faults.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i += 1) {
      const delay = this.faults.reorder ? 1 + this.rng.nextInt(this.faults.maxDelayTicks) : this.faults.maxDelayTicks;
      this.inflight.push({ deliverAtTick: nowTick + delay, msg: m });
    }
  }

  /** Messages due by nowTick, in a seeded-random order; a partition also cuts what is in flight. */
  takeDue(nowTick: number): Message[] {
    const due: Message[] = [];
    const keep: InFlight[] = [];
    for (const f of this.inflight) {
      if (f.deliverAtTick > nowTick) keep.push(f);
      else if (this.canTalk(f.msg.from, f.msg.to)) due.push(f.msg);
      else this.dropped += 1;
    }
    this.inflight = keep;
    if (!this.faults.reorder) return due;
    for (let i = due.length - 1; i > 0; i -= 1) {
      const j = this.rng.nextInt(i + 1);
      const t = due[i]!;
      due[i] = due[j]!;
      due[j] = t;
    }
    return due;
  }

  partition(sides: ReadonlyMap<NodeId, number>, holdUntilTick: number): void {
    this.sides = new Map(sides);
    this.partitioned = true;
    this.partitionHoldUntilTick = holdUntilTick;
  }

  heal(): void {
    this.partitioned = false;
    this.sides.clear();
  }

  inflightCount(): number {
    return this.inflight.length;
  }
}
