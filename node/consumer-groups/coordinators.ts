/**
 * Every group coordinator of this node: one per hosted group-state partition, serving while this
 * node leads it. Routes a group id to its partition (the hash FindCoordinator uses too), ticks
 * session and rebalance deadlines, and follows leadership and metadata changes.
 */
import type { Logger } from 'pino';
import { groupStatePartitionOf } from '../../controller/group-state-topic.js';
import { GroupCoordinator, type Outcome } from './coordinator.js';
import type { StatePartition } from './state-partition.js';
import type { TopicAccess } from '../queues/topic-access.js';

/** Deadlines (sessions, rebalances) are checked this often. */
const tickIntervalMs = 100;

export interface CoordinatorsEnv {
  readonly nodeId: number;
  readonly log: Logger;
  readonly partitionsOf: (topic: string) => number;
  /** Partition count of the group-state topic, or undefined while it does not exist. */
  readonly statePartitionCount: () => number | undefined;
  /** This node's replica of a group-state partition, if it hosts one. */
  readonly stateReplica: (partition: number) => (StatePartition & { logRecordCount(): number }) | undefined;
  /** Ordinary topics, for queue groups. */
  readonly topics: TopicAccess;
}

export class GroupCoordinators {
  private readonly coordinators = new Map<number, GroupCoordinator>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly env: CoordinatorsEnv) {}

  start(): void {
    this.timer = setInterval(() => {
      this.refresh();
      for (const c of this.coordinators.values()) c.tick();
    }, tickIntervalMs);
  }

  /** Starts, loads or drops coordinators to match the replicas hosted and led here. */
  refresh(): void {
    if (this.stopped) return;
    const count = this.env.statePartitionCount() ?? 0;
    for (let p = 0; p < count; p += 1) {
      const replica = this.env.stateReplica(p);
      let c = this.coordinators.get(p);
      if (!replica) {
        c?.unload('the group-state partition is no longer hosted here');
        this.coordinators.delete(p);
        continue;
      }
      if (!c) {
        c = new GroupCoordinator(p, {
          nodeId: this.env.nodeId, partition: replica, partitionsOf: this.env.partitionsOf, log: this.env.log,
          nowMs: () => Date.now(), logRecordCount: () => replica.logRecordCount(), topics: this.env.topics,
        });
        this.coordinators.set(p, c);
      }
      c.refresh();
    }
  }

  onMetadataChange(): void {
    this.refresh();
    for (const c of this.coordinators.values()) c.onMetadataChange();
  }

  /** The coordinator of a group on this node, or why there is none here. */
  coordinatorOf(groupId: string): Outcome<GroupCoordinator> {
    const count = this.env.statePartitionCount();
    if (count === undefined) return { ok: false, error: { code: 'COORDINATOR_NOT_AVAILABLE', message: 'the group-state topic does not exist yet; call FindCoordinator' } };
    const p = groupStatePartitionOf(groupId, count);
    const c = this.coordinators.get(p);
    if (!c) return { ok: false, error: { code: 'NOT_COORDINATOR', message: `node ${this.env.nodeId} does not host group-state partition ${p}; find the coordinator again` } };
    return { ok: true, value: c };
  }

  /** Coordinators serving now (for ListGroups). */
  active(): GroupCoordinator[] {
    return [...this.coordinators.values()].filter((c) => c.isActive);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const c of this.coordinators.values()) c.unload('node shutting down');
  }
}
