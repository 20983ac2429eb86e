/**
 * Controller writes are decided by the controller leader; any node accepts them and forwards to
 * that leader over the node-facing gRPC services, so a client or broker may ask anyone.
 */
import * as grpc from '@grpc/grpc-js';
import { ferryGrpc } from '../proto/load.js';
import type { ControllerServiceClient } from '../proto/gen/ferry/v1/ControllerService.js';
import type { FerryServiceClient } from '../proto/gen/ferry/v1/FerryService.js';
import type { ControllerReplica } from './controller-replica.js';
import { wireError } from './proto-errors.js';

/**
 * A node that restarts is reachable again within a second: grpc's default reconnect back-off
 * (growing to 120 s after refused connections) would keep forwarding to a restarted controller
 * leader failing long after it is back.
 */
const channelOptions = { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1_000 };
/** Forwarded calls wait this long unless the request names its own timeout (capped below). */
const forwardTimeoutMs = 10_000;
export const adminTimeoutMsMax = 60_000;

type Callback<Res> = (e: grpc.ServiceError | null, r?: Res) => void;

export class ControllerForwarder {
  private readonly ferryClients = new Map<number, FerryServiceClient>();
  private readonly controllerClients = new Map<number, ControllerServiceClient>();

  constructor(
    private readonly selfId: number,
    private readonly controller: ControllerReplica,
    /** Node id → address nodes use to reach each other. */
    private readonly peers: ReadonlyMap<number, string>,
  ) {}

  private client<C extends grpc.Client>(cache: Map<number, C>, nodeId: number, make: (address: string) => C): C | undefined {
    const address = this.peers.get(nodeId);
    if (!address) return undefined;
    let c = cache.get(nodeId);
    if (!c) {
      c = make(address);
      cache.set(nodeId, c);
    }
    return c;
  }

  /**
   * Runs `local` when this node leads the controller; otherwise calls `method` on the leader's
   * `service`. Failures to reach a leader come back through `failed` as LEADER_NOT_AVAILABLE.
   */
  async run<Req, Res>(
    service: 'ferry' | 'controller',
    method: string,
    req: Req,
    local: () => Promise<Res>,
    failed: (err: ReturnType<typeof wireError>) => Res,
  ): Promise<Res> {
    if (this.controller.isLeader) return local();
    const leader = this.controller.leaderId;
    const pkg = ferryGrpc().ferry.v1;
    const client = !leader || leader === this.selfId ? undefined : service === 'ferry'
      ? this.client(this.ferryClients, leader, (a) => new pkg.FerryService(a, grpc.credentials.createInsecure(), channelOptions))
      : this.client(this.controllerClients, leader, (a) => new pkg.ControllerService(a, grpc.credentials.createInsecure(), channelOptions));
    if (!client) return failed(wireError('LEADER_NOT_AVAILABLE', 'the controller has no leader yet; retry shortly'));
    const asked = (req as { timeoutMs?: number }).timeoutMs;
    const timeoutMs = Math.min(asked && asked > 0 ? asked : forwardTimeoutMs, adminTimeoutMsMax) + 1_000;
    return new Promise<Res>((resolve) => {
      const fn = (client as unknown as Record<string, (r: Req, o: grpc.CallOptions, cb: Callback<Res>) => void>)[method]!;
      fn.call(client, req, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        if (res && !err) return resolve(res);
        // A deadline means the leader may still apply the request: the outcome is unknown.
        if (err?.code === grpc.status.DEADLINE_EXCEEDED) {
          return resolve(failed(wireError('TIMEOUT', `controller node ${leader} did not answer within ${timeoutMs} ms; the change may or may not apply`)));
        }
        resolve(failed(wireError('LEADER_NOT_AVAILABLE', `forwarding to controller node ${leader} failed: ${err?.message ?? 'no answer'}`)));
      });
    });
  }

  /**
   * Calls a ControllerService method on one node (not necessarily the controller leader).
   * Resolves with the error code string the node answered ("ERROR_CODE_NONE" on success), or
   * undefined if it could not be reached.
   */
  askNode<Req>(nodeId: number, method: 'TransferLeadership', req: Req): Promise<string | undefined> {
    const pkg = ferryGrpc().ferry.v1;
    const client = this.client(this.controllerClients, nodeId, (a) => new pkg.ControllerService(a, grpc.credentials.createInsecure(), channelOptions));
    if (!client) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const fn = (client as unknown as Record<string, (r: Req, o: grpc.CallOptions, cb: Callback<{ error?: { code?: string } }>) => void>)[method]!;
      fn.call(client, req, { deadline: new Date(Date.now() + forwardTimeoutMs) }, (err, res) => resolve(err ? undefined : res?.error?.code ?? 'ERROR_CODE_NONE'));
    });
  }

  close(): void {
    for (const c of [...this.ferryClients.values(), ...this.controllerClients.values()]) c.close();
  }
}
