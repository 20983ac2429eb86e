/**
 * Calls to ferry.v1.GroupService and ferry.v1.QueueService (queue groups live on the same
 * coordinators): one gRPC client per service and node address, deadlines, and finding a group's
 * coordinator (FindCoordinator on any node, retried while the group-state topic is created or its
 * partition elects a leader). Wire errors come back as FerryError.
 */
import * as grpc from '@grpc/grpc-js';
import { ferryGrpc } from '../proto/load.js';
import type { Error__Output as WireError } from '../proto/gen/ferry/v1/Error.js';
import type { FindCoordinatorResponse__Output } from '../proto/gen/ferry/v1/FindCoordinatorResponse.js';
import type { GroupServiceClient } from '../proto/gen/ferry/v1/GroupService.js';
import type { QueueServiceClient } from '../proto/gen/ferry/v1/QueueService.js';
import { FerryError } from './errors.js';
import type { MetadataCache } from './metadata-cache.js';

export type GroupMethod = 'FindCoordinator' | 'JoinGroup' | 'SyncGroup' | 'GroupHeartbeat' | 'LeaveGroup' | 'OffsetCommit' | 'OffsetFetch'
  | 'ListGroups' | 'DescribeGroup' | 'DeleteGroup';
export type QueueMethod = 'ConfigureQueueGroup' | 'Receive' | 'Ack' | 'Nack' | 'ExtendVisibility' | 'Reject' | 'QueueStats' | 'ListQueueGroups' | 'DeleteQueueGroup';

const queueMethods: ReadonlySet<string> = new Set<QueueMethod>(['ConfigureQueueGroup', 'Receive', 'Ack', 'Nack', 'ExtendVisibility', 'Reject', 'QueueStats', 'ListQueueGroups', 'DeleteQueueGroup']);

/** Group ids whose coordinator address is remembered. */
const coordinatorCacheMax = 10_000;
/** How long FindCoordinator is retried while no coordinator is available (topic being created). */
const findCoordinatorWaitMs = 30_000;

export class GroupRpc {
  private readonly clients = new Map<string, GroupServiceClient | QueueServiceClient>();
  private closed = false;
  /** Last known coordinator address per group id (bounded: cleared when it grows past the limit). */
  private readonly coordinators = new Map<string, string>();

  constructor(private readonly metadata: MetadataCache, readonly requestTimeoutMs: number) {}

  private client(address: string, method: GroupMethod | QueueMethod): GroupServiceClient | QueueServiceClient {
    if (this.closed) throw new FerryError('CLIENT_CLOSED', 'the client is closed', false);
    const queues = queueMethods.has(method);
    const key = `${queues ? 'queues' : 'groups'}@${address}`;
    let c = this.clients.get(key);
    if (!c) {
      const service = queues ? ferryGrpc().ferry.v1.QueueService : ferryGrpc().ferry.v1.GroupService;
      c = new service(address, grpc.credentials.createInsecure(), { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1_000 });
      this.clients.set(key, c);
    }
    return c;
  }

  /** One call; a transport failure is UNAVAILABLE (retriable), a deadline TIMEOUT. */
  call<Res extends { error?: WireError | null }>(address: string, method: GroupMethod | QueueMethod, request: object, timeoutMs = this.requestTimeoutMs): Promise<Res> {
    const client = this.client(address, method);
    return new Promise<Res>((resolve, reject) => {
      const fn = (client as unknown as Record<string, unknown>)[method] as (r: object, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Res) => void) => void;
      fn.call(client, request, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        if (!err && res) return resolve(res);
        const timedOut = err?.code === grpc.status.DEADLINE_EXCEEDED;
        reject(new FerryError(timedOut ? 'TIMEOUT' : 'UNAVAILABLE', `${method} to ${address}: ${err?.details || err?.message || 'no response'}`, true, undefined, { cause: err }));
      });
    });
  }

  /** Like call(), but a wire error is thrown as a FerryError. */
  async ok<Res extends { error?: WireError | null }>(address: string, method: GroupMethod | QueueMethod, request: object, context: string, timeoutMs?: number): Promise<Res> {
    const res = await this.call<Res>(address, method, request, timeoutMs);
    const err = FerryError.fromWire(res.error, context);
    if (err) throw err;
    return res;
  }

  /** The coordinator's address, retrying while none is available. */
  async findCoordinator(groupId: string): Promise<{ nodeId: number; address: string }> {
    const deadline = Date.now() + findCoordinatorWaitMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const r = await this.ok<FindCoordinatorResponse__Output>(this.metadata.anyAddress(), 'FindCoordinator', { groupId }, `find coordinator of ${groupId}`);
        return { nodeId: r.nodeId, address: r.address };
      } catch (err) {
        if (!(err instanceof FerryError) || !err.retriable || Date.now() > deadline || this.closed) throw err;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 1_000)));
      }
    }
  }

  /** Calls the group's coordinator, re-finding it on NOT_COORDINATOR / unavailable (a few times). */
  async onCoordinator<Res extends { error?: WireError | null }>(groupId: string, method: GroupMethod | QueueMethod, request: object, timeoutMs?: number): Promise<Res> {
    for (let attempt = 0; ; attempt += 1) {
      // The coordinator found last time is asked again until it says it is not (queue calls are
      // frequent: a FindCoordinator before each would double their round trips).
      const address = this.coordinators.get(groupId) ?? (await this.findCoordinator(groupId)).address;
      if (this.coordinators.size >= coordinatorCacheMax) this.coordinators.clear();
      this.coordinators.set(groupId, address);
      try {
        return await this.ok<Res>(address, method, request, `${method} ${groupId}`, timeoutMs);
      } catch (err) {
        const retry = err instanceof FerryError && (err.code === 'NOT_COORDINATOR' || err.code === 'COORDINATOR_NOT_AVAILABLE' || err.code === 'UNAVAILABLE');
        if (retry) this.coordinators.delete(groupId);
        if (!retry || attempt >= 20 || this.closed) throw err;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 1_000)));
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
