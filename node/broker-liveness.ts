/**
 * Broker liveness. Every node heartbeats the controller leader every sessionTimeoutMs/4; the
 * controller leader remembers when it last heard each broker and, through the metadata log, fences
 * one that stays silent for the session timeout and unfences it when it heartbeats again. Fenced
 * brokers show as not alive and get no new replicas. A node that just became controller leader
 * gives every broker a full session of grace (it has heard nobody yet).
 */
import type { Logger } from 'pino';
import type { BrokerHeartbeatRequest__Output } from '../proto/gen/ferry/v1/BrokerHeartbeatRequest.js';
import type { BrokerHeartbeatResponse } from '../proto/gen/ferry/v1/BrokerHeartbeatResponse.js';
import type { ControllerForwarder } from './controller-forwarder.js';
import type { ControllerReplica } from './controller-replica.js';
import { noError, toWireError, wireError } from './proto-errors.js';

export interface LivenessOptions {
  readonly selfId: number;
  readonly clusterId: string;
  readonly sessionTimeoutMs: number;
  readonly controller: ControllerReplica;
  readonly forwarder: ControllerForwarder;
  readonly log: Logger;
}

export class BrokerLiveness {
  private readonly lastHeardMs = new Map<number, number>();
  /** Fence/unfence proposals under way, by node id, so a slow commit is not proposed twice. */
  private readonly changing = new Set<number>();
  private wasLeader = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: LivenessOptions) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.floor(this.o.sessionTimeoutMs / 4)));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The BrokerHeartbeat RPC: recorded on the controller leader (forwarded there from anywhere). */
  handle(req: BrokerHeartbeatRequest__Output): Promise<BrokerHeartbeatResponse> {
    const fail = (error: ReturnType<typeof wireError>): BrokerHeartbeatResponse => ({ error, fenced: false });
    if (req.clusterId !== this.o.clusterId) {
      return Promise.resolve(fail(wireError('INVALID_REQUEST', `cluster id "${req.clusterId}" is not this cluster's "${this.o.clusterId}"`)));
    }
    return this.o.forwarder.run('controller', 'BrokerHeartbeat', req, () => {
      this.lastHeardMs.set(req.nodeId, Date.now());
      const fenced = this.o.controller.state.broker(req.nodeId)?.fenced === true;
      if (fenced) this.change(req.nodeId, 'unfenceBroker');
      return Promise.resolve({ error: noError, fenced });
    }, fail);
  }

  private tick(): void {
    void this.handle({ clusterId: this.o.clusterId, nodeId: this.o.selfId }).catch(() => undefined);
    const leader = this.o.controller.isLeader;
    if (leader && !this.wasLeader) {
      const now = Date.now();
      for (const b of this.o.controller.state.brokers()) this.lastHeardMs.set(b.nodeId, now);
    }
    this.wasLeader = leader;
    if (!leader) return;
    const now = Date.now();
    for (const b of this.o.controller.state.brokers()) {
      const heard = this.lastHeardMs.get(b.nodeId) ?? now;
      if (!b.fenced && now - heard > this.o.sessionTimeoutMs) this.change(b.nodeId, 'fenceBroker');
    }
  }

  private change(nodeId: number, type: 'fenceBroker' | 'unfenceBroker'): void {
    if (this.changing.has(nodeId)) return;
    this.changing.add(nodeId);
    // The fence carries its time, so how long a broker has been fenced survives controller failover.
    const cmd = type === 'fenceBroker' ? { type, nodeId, atMs: Date.now() } : { type, nodeId };
    this.o.controller.propose(cmd, this.o.sessionTimeoutMs)
      .then((r) => {
        if (r.ok) this.o.log.warn({ broker: nodeId }, type === 'fenceBroker' ? 'broker fenced: no heartbeat within the session timeout' : 'broker unfenced');
      }, (err: unknown) => this.o.log.debug({ broker: nodeId, err: toWireError(err, () => undefined).message }, `${type} not committed`))
      .finally(() => this.changing.delete(nodeId));
  }
}
