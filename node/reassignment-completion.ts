/**
 * The CompleteReassignment RPC: a partition leader whose group's voters are exactly the target
 * asks the controller to record the move (replicas := target). Any node accepts it and forwards it
 * to the controller leader; the metadata command checks that the target is still the recorded
 * one, so a report that lost a race with a newer reassignment changes nothing.
 */
import type { CompleteReassignmentRequest__Output } from '../proto/gen/ferry/v1/CompleteReassignmentRequest.js';
import type { CompleteReassignmentResponse } from '../proto/gen/ferry/v1/CompleteReassignmentResponse.js';
import type { ControllerForwarder } from './controller-forwarder.js';
import type { ControllerReplica } from './controller-replica.js';
import { noError, toWireError, wireError } from './proto-errors.js';

const completeTimeoutMs = 10_000;

export class ReassignmentCompletion {
  constructor(private readonly o: { readonly clusterId: string; readonly controller: ControllerReplica; readonly forwarder: ControllerForwarder }) {}

  handle(req: CompleteReassignmentRequest__Output): Promise<CompleteReassignmentResponse> {
    const fail = (error: ReturnType<typeof wireError>): CompleteReassignmentResponse => ({ error });
    if (req.clusterId !== this.o.clusterId) {
      return Promise.resolve(fail(wireError('INVALID_REQUEST', `cluster id "${req.clusterId}" is not this cluster's "${this.o.clusterId}"`)));
    }
    if (req.target.length === 0) return Promise.resolve(fail(wireError('INVALID_REQUEST', 'a completed reassignment names its target replicas')));
    return this.o.forwarder.run('controller', 'CompleteReassignment', req, async () => {
      try {
        const r = await this.o.controller.propose(
          { type: 'completeReassignment', topicId: Number(req.topicId), partition: req.partition, target: req.target }, completeTimeoutMs);
        return r.ok ? { error: noError } : fail(wireError(r.code, r.message));
      } catch (e) {
        return fail(toWireError(e, () => undefined));
      }
    }, fail);
  }

  /** The driver's report: resolves with the problem, or undefined once the move is recorded. */
  async report(topicId: number, partition: number, target: readonly number[]): Promise<string | undefined> {
    const r = await this.handle({ clusterId: this.o.clusterId, topicId, partition, target: [...target] });
    return r.error?.code === 'ERROR_CODE_NONE' ? undefined : `${r.error?.code}: ${r.error?.message}`;
  }
}
