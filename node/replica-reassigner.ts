/**
 * The controller leader's side of reassignment: a broker fenced for longer than `reassignAfterMs`
 * is not coming back soon, so every partition it holds a replica of gets a target with that
 * replica replaced by a live broker (controller/placement.ts's chooseReplacement: another rack if
 * one is free, then the least loaded). The move itself is done by each partition's leader
 * (ReassignmentDriver). A target that itself names a broker fenced that long is replaced again.
 */
import type { Logger } from 'pino';
import type { MetadataState } from '../controller/metadata-state.js';
import { planMovesOff } from '../controller/reassignment-plan.js';
import type { ControllerReplica } from './controller-replica.js';

/** Partitions given a new target per round at most, so a dead big broker moves in waves. */
export const reassignmentsPerRoundMax = 100;

export interface ReassignerOptions {
  /** A broker fenced this long has its replicas moved; 0 = never. */
  readonly reassignAfterMs: number;
  readonly intervalMs: number;
  readonly controller: ControllerReplica;
  readonly log: Logger;
  readonly nowMs: () => number;
}

export class ReplicaReassigner {
  private timer: NodeJS.Timeout | undefined;
  /** When this node, as controller leader, first saw a broker fenced without a recorded time. */
  private readonly firstSeenFencedMs = new Map<number, number>();
  private running = false;

  constructor(private readonly o: ReassignerOptions) {}

  start(): void {
    if (this.o.reassignAfterMs > 0) this.timer = setInterval(() => void this.round(), this.o.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Brokers fenced for longer than the reassignment delay. */
  private overdue(state: MetadataState, now: number): Set<number> {
    const out = new Set<number>();
    for (const b of state.brokers()) {
      if (!b.fenced) {
        this.firstSeenFencedMs.delete(b.nodeId);
        continue;
      }
      const since = b.fencedAtMs ?? this.firstSeenFencedMs.get(b.nodeId) ?? now;
      if (!this.firstSeenFencedMs.has(b.nodeId)) this.firstSeenFencedMs.set(b.nodeId, since);
      if (now - since >= this.o.reassignAfterMs) out.add(b.nodeId);
    }
    return out;
  }

  /** One pass (controller leader only); one pass at a time, so a slow commit is not planned twice. */
  async round(): Promise<number> {
    const { controller } = this.o;
    if (!controller.isLeader || this.running) return 0;
    const gone = this.overdue(controller.state, this.o.nowMs());
    if (gone.size === 0) return 0;
    this.running = true;
    try {
      const plan = planMovesOff(controller.state, gone, reassignmentsPerRoundMax);
      let moved = 0;
      for (const [topic, moves] of plan) {
        try {
          const r = await controller.propose({ type: 'reassignPartitions', topic, moves }, 10_000);
          if (r.ok) moved += moves.length;
          this.o.log[r.ok ? 'warn' : 'info']({ topic, moves, brokers: [...gone], ...(r.ok ? {} : { problem: r.message }) },
            r.ok ? 'reassigning replicas off brokers fenced past the reassignment delay' : 'reassignment not recorded');
        } catch (err) {
          this.o.log.info({ topic, err: (err as Error).message }, 'reassignment not proposed (controller leadership changed?)');
        }
      }
      return moved;
    } finally {
      this.running = false;
    }
  }
}
