/**
 * Leader balancing, run by the controller leader: a partition whose preferred replica (the first
 * of its replica set, spread evenly at creation) is alive but does not lead gets its current
 * leader asked to hand over. Rate-limited to transfersPerRoundMax per interval, so a recovering
 * cluster is not shaken by a storm of elections; the leader itself refuses if the target is not
 * caught up, and the next round asks again.
 */
import type { Logger } from 'pino';
import { partitionGroupKey } from '../controller/metadata-state.js';
import type { ControllerForwarder } from './controller-forwarder.js';
import type { ControllerReplica } from './controller-replica.js';
import type { LeaderDirectory } from './leader-directory.js';

const transfersPerRoundMax = 10;

export interface BalancerOptions {
  readonly intervalMs: number;
  readonly controller: ControllerReplica;
  readonly leaders: LeaderDirectory;
  readonly forwarder: ControllerForwarder;
  readonly log: Logger;
}

export class LeaderBalancer {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: BalancerOptions) {}

  start(): void {
    if (this.o.intervalMs > 0) this.timer = setInterval(() => void this.round(), this.o.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One balancing pass; returns how many transfers it asked for. */
  async round(): Promise<number> {
    const { controller, leaders } = this.o;
    if (!controller.isLeader) return 0;
    const asks: Array<{ group: string; leader: number; preferred: number }> = [];
    for (const topic of controller.state.topics()) {
      for (const p of topic.partitions) {
        // A moving partition's leadership is the reassignment driver's (it hands over before the
        // old leader leaves); balancing towards the old preferred replica would fight it.
        if (p.target) continue;
        const preferred = p.replicas[0]!;
        const group = partitionGroupKey(topic.topicId, p.partition);
        const leader = leaders.leaderOf(group)?.nodeId;
        const broker = controller.state.broker(preferred);
        if (leader === undefined || leader === preferred || !broker || broker.fenced) continue;
        asks.push({ group, leader, preferred });
        if (asks.length >= transfersPerRoundMax) break;
      }
      if (asks.length >= transfersPerRoundMax) break;
    }
    await Promise.all(asks.map(async ({ group, leader, preferred }) => {
      const answer = await this.o.forwarder.askNode(leader, 'TransferLeadership', { group, targetNodeId: preferred });
      if (answer) this.o.log.info({ partition: group, from: leader, to: preferred, result: answer }, 'leader balancing: asked for a transfer');
    }));
    return asks.length;
  }
}
