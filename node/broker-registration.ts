/**
 * Brokers register their client-facing (advertised) address and rack in the metadata log, so
 * every node can tell clients where each broker is (Metadata, NOT_LEADER hints) even when nodes
 * reach each other by other names (docker-compose: ferry-2:9092 inside, localhost:9092 outside).
 * The node re-registers until the log holds its current address, and after any change.
 */
import type { Logger } from 'pino';
import type { RegisterBrokerRequest__Output } from '../proto/gen/ferry/v1/RegisterBrokerRequest.js';
import type { RegisterBrokerResponse } from '../proto/gen/ferry/v1/RegisterBrokerResponse.js';
import type { ControllerForwarder } from './controller-forwarder.js';
import type { ControllerReplica } from './controller-replica.js';
import { noError, toWireError, wireError } from './proto-errors.js';

const registrationRetryMs = 500;
const registrationTimeoutMs = 5_000;

export interface SelfDescription {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly advertisedAddress: string;
  readonly rack: string;
  /** Every configured node id: others may not register. */
  readonly knownNodeIds: ReadonlySet<number>;
}

export class BrokerRegistration {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly self: SelfDescription,
    private readonly controller: ControllerReplica,
    private readonly forwarder: ControllerForwarder,
    private readonly log: Logger,
  ) {}

  /** The RegisterBroker RPC: validated here, applied on the controller leader. */
  handle(req: RegisterBrokerRequest__Output): Promise<RegisterBrokerResponse> {
    const fail = (error: ReturnType<typeof wireError>): RegisterBrokerResponse => ({ error, metadataVersion: this.controller.state.version });
    if (req.clusterId !== this.self.clusterId) {
      return Promise.resolve(fail(wireError('INVALID_REQUEST', `cluster id "${req.clusterId}" is not this cluster's "${this.self.clusterId}"`)));
    }
    if (!this.self.knownNodeIds.has(req.nodeId)) {
      return Promise.resolve(fail(wireError('INVALID_REQUEST', `node ${req.nodeId} is not in this cluster's peer list`)));
    }
    if (!/^[^:\s]+:\d{1,5}$/.test(req.advertisedAddress)) {
      return Promise.resolve(fail(wireError('INVALID_REQUEST', `advertised address "${req.advertisedAddress}" is not host:port`)));
    }
    return this.forwarder.run('controller', 'RegisterBroker', req, async () => {
      try {
        const r = await this.controller.propose(
          { type: 'registerBroker', broker: { nodeId: req.nodeId, address: req.advertisedAddress, rack: req.rack } }, registrationTimeoutMs);
        return r.ok ? { error: noError, metadataVersion: this.controller.state.version } : fail(wireError(r.code, r.message));
      } catch (e) {
        return fail(toWireError(e, () => undefined));
      }
    }, fail);
  }

  private registered(): boolean {
    const b = this.controller.state.broker(this.self.nodeId);
    return b !== undefined && b.address === this.self.advertisedAddress && b.rack === this.self.rack;
  }

  /** Checks now and after every metadata change; registers when the log does not match. */
  poke(): void {
    if (this.busy || this.registered() || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, 0);
  }

  private async attempt(): Promise<void> {
    if (this.busy || this.registered()) return;
    this.busy = true;
    try {
      const res = await this.handle({
        clusterId: this.self.clusterId, nodeId: this.self.nodeId, advertisedAddress: this.self.advertisedAddress, rack: this.self.rack,
      });
      if (res.error && res.error.code !== 'ERROR_CODE_NONE') this.log.debug({ error: res.error.message }, 'broker registration not done yet');
      else this.log.info({ advertised: this.self.advertisedAddress, rack: this.self.rack }, 'broker registered');
    } finally {
      this.busy = false;
    }
    if (!this.registered()) this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, registrationRetryMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
