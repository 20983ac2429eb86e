/**
 * Executes reassignments on the partitions this node leads: every round, for each partition the
 * metadata says is moving, take the next membership step (node/reassignment-step.ts) through the
 * partition's own Raft group, and once its voters are exactly the target, ask the controller to
 * record the move as done. Nothing here is remembered across rounds but which completions are
 * being reported: the group's committed configuration and the metadata say where a move stands,
 * so a new leader, or this node after a restart, carries on where the last one stopped.
 */
import type { Logger } from 'pino';
import { asNodeId } from '../raft/types.js';
import type { RaftHost } from './raft-host.js';
import { nextReassignmentStep, type MemberProgress } from './reassignment-step.js';

/** Partition moves a node steps per round at most (each step is one small Raft entry). */
const stepsPerRoundMax = 100;

export interface MovingPartition {
  readonly key: string;
  readonly topicId: number;
  readonly partition: number;
  readonly target: readonly number[];
}

export interface ReassignmentDriverOptions {
  readonly selfId: number;
  readonly intervalMs: number;
  readonly host: Pick<RaftHost, 'status' | 'proposeConfChange' | 'transferLeadership'>;
  /** Partitions hosted here whose metadata has a reassignment target. */
  movingPartitions(): Iterable<MovingPartition>;
  /** Asks the controller to record the move as done; resolves with an error message, or undefined on success. */
  reportDone(p: MovingPartition): Promise<string | undefined>;
  readonly log: Logger;
}

export class ReassignmentDriver {
  private timer: NodeJS.Timeout | undefined;
  /** Completion reports in flight, by group key (one at a time per partition). */
  private readonly reporting = new Set<string>();
  /** The last wait reason logged per group, so a long catch-up logs once, not every round. */
  private readonly waiting = new Map<string, string>();

  constructor(private readonly o: ReassignmentDriverOptions) {}

  start(): void {
    this.timer = setInterval(() => this.round(), this.o.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass over the moving partitions this node leads; returns how many it acted on. */
  round(): number {
    let acted = 0;
    const seen = new Set<string>();
    for (const p of this.o.movingPartitions()) {
      seen.add(p.key);
      if (acted >= stepsPerRoundMax) break;
      if (this.stepOne(p)) acted += 1;
    }
    for (const key of this.waiting.keys()) if (!seen.has(key)) this.waiting.delete(key);
    return acted;
  }

  private stepOne(p: MovingPartition): boolean {
    const status = this.o.host.status(p.key);
    if (status?.role !== 'leader' || !status.progress) return false;
    const progress = new Map<number, MemberProgress>([...status.progress].map(([id, pr]) => [id as number, { match: pr.match, recentActive: pr.recentActive }]));
    const step = nextReassignmentStep({
      selfId: this.o.selfId, voters: status.conf.voters, learners: status.conf.learners, target: p.target, commit: status.commit, progress,
    });
    const ctx = { partition: p.key, target: p.target, voters: status.conf.voters, learners: status.conf.learners };
    switch (step.kind) {
      case 'wait':
        if (this.waiting.get(p.key) !== step.why) this.o.log.info({ ...ctx, why: step.why }, 'reassignment waiting');
        this.waiting.set(p.key, step.why);
        return false;
      case 'change': {
        const r = this.o.host.proposeConfChange(p.key, { type: step.change.type, nodeId: asNodeId(step.change.nodeId) });
        // confChangePending: the previous step has not committed yet; the next round looks again.
        if (r?.ok) this.o.log.info({ ...ctx, change: step.change, index: r.index }, 'reassignment: membership change proposed');
        return r?.ok === true;
      }
      case 'transfer': {
        const r = this.o.host.transferLeadership(p.key, asNodeId(step.to));
        if (r?.ok) this.o.log.info({ ...ctx, to: step.to }, 'reassignment: handing leadership to a target replica before leaving');
        return r?.ok === true;
      }
      case 'done':
        this.report(p);
        return true;
    }
  }

  private report(p: MovingPartition): void {
    if (this.reporting.has(p.key)) return;
    this.reporting.add(p.key);
    void this.o.reportDone(p)
      .then((problem) => {
        if (problem === undefined) this.o.log.info({ partition: p.key, replicas: p.target }, 'reassignment complete');
        else this.o.log.warn({ partition: p.key, target: p.target, problem }, 'reassignment completion not recorded; retrying');
      })
      .finally(() => this.reporting.delete(p.key));
  }
}
