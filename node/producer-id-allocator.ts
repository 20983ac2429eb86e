/**
 * Idempotent producer ids. The controller hands out blocks of ids through its Raft log (an
 * allocation is a committed metadata command), and each node serves InitProducerId from its own
 * block, so a new producer costs no Raft write until the block is used up. A block is never
 * handed out twice, and a node that restarts abandons what was left of its block, so an id is
 * never given to two producers (ids are plentiful: 2^53).
 */
import type { AllocateProducerIdsRequest__Output } from '../proto/gen/ferry/v1/AllocateProducerIdsRequest.js';
import type { AllocateProducerIdsResponse } from '../proto/gen/ferry/v1/AllocateProducerIdsResponse.js';
import type { InitProducerIdRequest__Output } from '../proto/gen/ferry/v1/InitProducerIdRequest.js';
import type { InitProducerIdResponse } from '../proto/gen/ferry/v1/InitProducerIdResponse.js';
import { producerIdBlockMax } from '../controller/metadata-state.js';
import { adminTimeoutMsMax, type ControllerForwarder } from './controller-forwarder.js';
import type { ControllerReplica } from './controller-replica.js';
import { noError, toWireError, wireError } from './proto-errors.js';

/** Ids a node reserves at a time. */
export const producerIdBlockSize = 1_000;
const allocateTimeoutMsDefault = 10_000;

export interface ProducerIdAllocatorOptions {
  readonly clusterId: string;
  readonly nodeId: number;
  /** Every configured node id: others may not reserve ids. */
  readonly knownNodeIds: ReadonlySet<number>;
  readonly controller: ControllerReplica;
  readonly forwarder: ControllerForwarder;
}

export class ProducerIdAllocator {
  private next = 0;
  private end = 0;
  /** One reservation at a time; concurrent InitProducerId calls wait for it. */
  private refilling: Promise<AllocateProducerIdsResponse> | undefined;

  constructor(private readonly o: ProducerIdAllocatorOptions) {}

  /** The AllocateProducerIds RPC: validated here, applied on the controller leader. */
  allocate(req: AllocateProducerIdsRequest__Output, timeoutMs = allocateTimeoutMsDefault): Promise<AllocateProducerIdsResponse> {
    const fail = (error: ReturnType<typeof wireError>): AllocateProducerIdsResponse => ({ error, firstProducerId: -1, count: 0 });
    if (req.clusterId !== this.o.clusterId) {
      return Promise.resolve(fail(wireError('INVALID_REQUEST', `cluster id "${req.clusterId}" is not this cluster's "${this.o.clusterId}"`)));
    }
    if (!this.o.knownNodeIds.has(req.nodeId)) {
      return Promise.resolve(fail(wireError('INVALID_REQUEST', `node ${req.nodeId} is not in this cluster's peer list`)));
    }
    if (!(req.count >= 1 && req.count <= producerIdBlockMax)) {
      return Promise.resolve(fail(wireError('INVALID_REQUEST', `a producer id block holds 1-${producerIdBlockMax} ids, not ${req.count}`)));
    }
    return this.o.forwarder.run('controller', 'AllocateProducerIds', req, async () => {
      try {
        const r = await this.o.controller.propose({ type: 'allocateProducerIds', nodeId: req.nodeId, count: req.count }, timeoutMs);
        if (!r.ok) return fail(wireError(r.code, r.message));
        if (r.firstProducerId === undefined) throw new Error('producer id allocation applied without a first id');
        return { error: noError, firstProducerId: r.firstProducerId, count: req.count };
      } catch (e) {
        return fail(toWireError(e, () => undefined));
      }
    }, fail);
  }

  /** The InitProducerId RPC: the next id of this node's block (reserving a new block if needed). */
  async initProducerId(req: InitProducerIdRequest__Output): Promise<InitProducerIdResponse> {
    const timeoutMs = Math.min(req.timeoutMs || allocateTimeoutMsDefault, adminTimeoutMsMax);
    while (this.next >= this.end) {
      this.refilling ??= this.allocate({ clusterId: this.o.clusterId, nodeId: this.o.nodeId, count: producerIdBlockSize }, timeoutMs)
        .finally(() => {
          this.refilling = undefined;
        });
      const res = await this.refilling;
      if (res.error?.code !== 'ERROR_CODE_NONE') return { error: res.error, producerId: -1, producerEpoch: -1 };
      // Forwarded answers arrive decoded (longs as numbers), local ones as built above.
      const first = Number(res.firstProducerId);
      const count = res.count ?? 0;
      if (!(Number.isSafeInteger(first) && first >= 0 && count >= 1)) throw new Error(`controller answered an empty producer id block at ${first}`);
      // Several waiters see the same answer: only the first takes the new block.
      if (this.next >= this.end && first >= this.end) {
        this.next = first;
        this.end = first + count;
      }
    }
    const producerId = this.next;
    this.next += 1;
    return { error: noError, producerId, producerEpoch: 0 };
  }
}
