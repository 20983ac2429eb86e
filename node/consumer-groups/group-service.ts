/**
 * ferry.v1.GroupService: checks every request's fields (a bad one gets INVALID_REQUEST naming the
 * field, and changes nothing), finds the group's coordinator on this node, and shapes answers.
 * FindCoordinator is answered by any node from its metadata; it asks the controller to create the
 * group-state topic the first time a coordinator is wanted.
 */
import type * as grpc from '@grpc/grpc-js';
import { groupStatePartitionOf } from '../../controller/group-state-topic.js';
import { partitionGroupKey, type TopicInfo } from '../../controller/metadata-state.js';
import { validateTopicName } from '../../controller/topic-config.js';
import { ferryGrpc } from '../../proto/load.js';
import type { CommittedOffset } from '../../proto/gen/ferry/v1/CommittedOffset.js';
import type { Error as WireError } from '../../proto/gen/ferry/v1/Error.js';
import type { ErrorCode } from '../../proto/gen/ferry/v1/ErrorCode.js';
import type { GroupServiceHandlers } from '../../proto/gen/ferry/v1/GroupService.js';
import type { JoinGroupRequest__Output } from '../../proto/gen/ferry/v1/JoinGroupRequest.js';
import type { OffsetCommitRequest__Output } from '../../proto/gen/ferry/v1/OffsetCommitRequest.js';
import type { TopicPartition } from '../../proto/gen/ferry/v1/TopicPartition.js';
import { noError } from '../proto-errors.js';
import { isAssignorName } from './assignors.js';
import {
  clientIdLengthMax, groupIdLengthMax, memberTopicsMax, offsetMetadataBytesMax, offsetRequestPartitionsMax,
  rebalanceTimeoutMsMax, rebalanceTimeoutMsMin, sessionTimeoutMsMax, sessionTimeoutMsMin,
} from './constants.js';
import type { CoordinatorErrorCode, GroupCoordinator, OffsetToCommit, Outcome } from './coordinator.js';
import type { GroupCoordinators } from './coordinators.js';
import type { JoinRequest } from './group-machine.js';
import { partitionKey, refOfKey, type PartitionRef } from './partition-ref.js';

const retriableCodes: ReadonlySet<CoordinatorErrorCode> = new Set(['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE']);

export function groupWireError(code: CoordinatorErrorCode, message: string): WireError {
  return { code: `ERROR_CODE_${code}` as ErrorCode, message, retriable: retriableCodes.has(code), leaderHintNodeId: -1, leaderHintAddress: '' };
}

export function validateGroupId(id: string): string | undefined {
  if (id.length === 0 || id.length > groupIdLengthMax) return `group_id must be 1-${groupIdLengthMax} characters, got ${id.length}`;
  if (!/^[a-zA-Z0-9._-]+$/.test(id)) return `group_id "${id.slice(0, 50)}" may only contain letters, digits, ".", "_" and "-"`;
  return undefined;
}

function topicProblem(topic: string): string | undefined {
  return validateTopicName(topic) ?? undefined;
}

function refsOf(parts: readonly TopicPartition[] | undefined): PartitionRef[] {
  return (parts ?? []).map((p) => ({ topic: p.topic ?? '', partition: p.partition ?? 0 }));
}

function wireRefs(refs: readonly PartitionRef[]): TopicPartition[] {
  return refs.map((r) => ({ topic: r.topic, partition: r.partition }));
}

function wireOffset(o: { topic: string; partition: number; offset: number; metadata: string; commitTimestampMs: number }): CommittedOffset {
  return { topic: o.topic, partition: o.partition, offset: o.offset, metadata: o.metadata, commitTimestampMs: o.commitTimestampMs };
}

/** A join's fields, checked; or what is wrong with them. */
export function parseJoin(req: JoinGroupRequest__Output): { ok: true; value: JoinRequest } | { ok: false; problem: string } {
  const bad = (problem: string) => ({ ok: false as const, problem });
  if (req.clientId.length > clientIdLengthMax) return bad(`client_id is ${req.clientId.length} characters; the limit is ${clientIdLengthMax}`);
  if (req.topics.length === 0 || req.topics.length > memberTopicsMax) return bad(`topics must name 1-${memberTopicsMax} topics, got ${req.topics.length}`);
  for (const t of req.topics) {
    const p = topicProblem(t);
    if (p) return bad(`topics: ${p}`);
  }
  if (!isAssignorName(req.assignor)) return bad(`assignor must be range, round-robin or cooperative-sticky, got "${req.assignor}"`);
  if (req.sessionTimeoutMs < sessionTimeoutMsMin || req.sessionTimeoutMs > sessionTimeoutMsMax) {
    return bad(`session_timeout_ms must be ${sessionTimeoutMsMin}-${sessionTimeoutMsMax}, got ${req.sessionTimeoutMs}`);
  }
  if (req.rebalanceTimeoutMs < rebalanceTimeoutMsMin || req.rebalanceTimeoutMs > rebalanceTimeoutMsMax) {
    return bad(`rebalance_timeout_ms must be ${rebalanceTimeoutMsMin}-${rebalanceTimeoutMsMax}, got ${req.rebalanceTimeoutMs}`);
  }
  if (req.owned.length > offsetRequestPartitionsMax) return bad(`owned lists ${req.owned.length} partitions; the limit is ${offsetRequestPartitionsMax}`);
  return {
    ok: true,
    value: {
      memberId: req.memberId, clientId: req.clientId, topics: req.topics, assignor: req.assignor,
      sessionTimeoutMs: req.sessionTimeoutMs, rebalanceTimeoutMs: req.rebalanceTimeoutMs, owned: refsOf(req.owned),
    },
  };
}

/** A commit's offsets, checked (count, offsets, metadata size, names, duplicates). */
export function parseCommit(req: OffsetCommitRequest__Output): { ok: true; value: OffsetToCommit[] } | { ok: false; problem: string } {
  const bad = (problem: string) => ({ ok: false as const, problem });
  if (req.partitions.length === 0 || req.partitions.length > offsetRequestPartitionsMax) {
    return bad(`partitions must name 1-${offsetRequestPartitionsMax} partitions, got ${req.partitions.length}`);
  }
  if ((req.memberId === '') !== (req.generation < 0)) return bad('give member_id with its generation, or an empty member_id with generation -1');
  const seen = new Set<string>();
  for (const p of req.partitions) {
    const key = partitionKey(p.topic, p.partition);
    const t = topicProblem(p.topic);
    if (t) return bad(`partitions: ${t}`);
    if (!Number.isSafeInteger(p.offset) || p.offset < 0) return bad(`${key}: offset must be an integer >= 0, got ${p.offset}`);
    if (Buffer.byteLength(p.metadata) > offsetMetadataBytesMax) return bad(`${key}: metadata is over ${offsetMetadataBytesMax} bytes`);
    if (seen.has(key)) return bad(`${key} appears twice`);
    seen.add(key);
  }
  return { ok: true, value: req.partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset, metadata: p.metadata })) };
}

export interface GroupServiceContext {
  readonly coordinators: GroupCoordinators;
  /** The group-state topic as this node's metadata has it. */
  stateTopic(): TopicInfo | undefined;
  leaderOf(groupKey: string): { nodeId: number } | undefined;
  addressOf(nodeId: number): string | undefined;
  /** Asks the controller to create the group-state topic (idempotent). */
  createStateTopic(): Promise<void>;
}

export class GroupService {
  private creating: Promise<void> | undefined;

  constructor(private readonly ctx: GroupServiceContext) {}

  findCoordinator(groupId: string): Promise<{ error: WireError; nodeId: number; address: string; statePartition: number }> {
    const none = (error: WireError) => ({ error, nodeId: -1, address: '', statePartition: 0 });
    const problem = validateGroupId(groupId);
    if (problem) return Promise.resolve(none(groupWireError('INVALID_REQUEST', problem)));
    const t = this.ctx.stateTopic();
    if (!t) {
      this.creating ??= this.ctx.createStateTopic().finally(() => (this.creating = undefined));
      return this.creating.then(
        () => none(groupWireError('COORDINATOR_NOT_AVAILABLE', 'the group-state topic was just created; its partitions are electing leaders, retry shortly')),
        (e: unknown) => none(groupWireError('COORDINATOR_NOT_AVAILABLE', `creating the group-state topic: ${e instanceof Error ? e.message : String(e)}; retry shortly`)),
      );
    }
    const statePartition = groupStatePartitionOf(groupId, t.partitions.length);
    const leader = this.ctx.leaderOf(partitionGroupKey(t.topicId, statePartition));
    const address = leader ? this.ctx.addressOf(leader.nodeId) : undefined;
    if (!leader || !address) {
      return Promise.resolve(none(groupWireError('COORDINATOR_NOT_AVAILABLE', `group-state partition ${statePartition} has no known leader yet; retry shortly`)));
    }
    return Promise.resolve({ error: noError, nodeId: leader.nodeId, address, statePartition });
  }

  /** Runs `fn` on the group's coordinator here, or answers why it cannot. */
  private on<T>(groupId: string, fn: (c: GroupCoordinator) => T, fail: (e: WireError) => T): T {
    const problem = validateGroupId(groupId);
    if (problem) return fail(groupWireError('INVALID_REQUEST', problem));
    const c = this.ctx.coordinators.coordinatorOf(groupId);
    if (!c.ok) return fail(groupWireError(c.error.code, c.error.message));
    return fn(c.value);
  }

  /** Every async handler answers a rejection as a failed call: an unhandled one would stop the node. */
  handlers(): GroupServiceHandlers {
    const err = <T>(o: Outcome<T>): WireError => (o.ok ? noError : groupWireError(o.error.code, o.error.message));
    const joinFailed = (error: WireError) => ({ error, generation: -1, memberId: '', leaderId: '', assignor: '', memberIds: [] });
    return {
      FindCoordinator: (call, done) => void this.findCoordinator(call.request.groupId).then((r) => done(null, r), (e: Error) => done(e)),
      JoinGroup: (call, done) => {
        const parsed = parseJoin(call.request);
        if (!parsed.ok) return done(null, joinFailed(groupWireError('INVALID_REQUEST', parsed.problem)));
        void this.on(call.request.groupId,
          (c) => c.join(call.request.groupId, parsed.value).then((o) => (o.ok ? { error: noError, ...o.value, memberIds: [...o.value.memberIds] } : joinFailed(err(o)))),
          (e) => Promise.resolve(joinFailed(e))).then((r) => done(null, r), (e: Error) => done(e));
      },
      SyncGroup: (call, done) => {
        const { groupId, memberId, generation } = call.request;
        done(null, this.on(groupId, (c) => {
          const o = c.sync(groupId, memberId, generation);
          return o.ok ? { error: noError, generation: o.value.generation, assignment: wireRefs(o.value.assignment), rejoin: o.value.rejoin }
            : { error: err(o), generation: -1, assignment: [], rejoin: false };
        }, (error) => ({ error, generation: -1, assignment: [], rejoin: false })));
      },
      GroupHeartbeat: (call, done) => {
        const { groupId, memberId, generation } = call.request;
        done(null, this.on(groupId, (c) => ({ error: err(c.heartbeat(groupId, memberId, generation)) }), (error) => ({ error })));
      },
      LeaveGroup: (call, done) => {
        const { groupId, memberId } = call.request;
        done(null, this.on(groupId, (c) => ({ error: err(c.leave(groupId, memberId)) }), (error) => ({ error })));
      },
      OffsetCommit: (call, done) => {
        const parsed = parseCommit(call.request);
        if (!parsed.ok) return done(null, { error: groupWireError('INVALID_REQUEST', parsed.problem) });
        const { groupId, memberId, generation } = call.request;
        void this.on(groupId, (c) => c.commit(groupId, memberId, generation, parsed.value).then((o) => ({ error: err(o) })),
          (error) => Promise.resolve({ error })).then((r) => done(null, r), (e: Error) => done(e));
      },
      OffsetFetch: (call, done) => {
        const { groupId } = call.request;
        const wanted = new Set(call.request.partitions.map((p) => partitionKey(p.topic, p.partition)));
        done(null, this.on(groupId, (c) => {
          const o = c.fetchOffsets(groupId);
          if (!o.ok) return { error: err(o), offsets: [] };
          const have = new Map(o.value.map((x) => [partitionKey(x.topic, x.partition), x]));
          const offsets = wanted.size === 0 ? o.value.map(wireOffset) : [...wanted].map((k) => {
            const x = have.get(k);
            const ref = refOfKey(k);
            return x ? wireOffset(x) : { topic: ref.topic, partition: ref.partition, offset: -1, metadata: '', commitTimestampMs: -1 };
          });
          return { error: noError, offsets };
        }, (error) => ({ error, offsets: [] })));
      },
      ListGroups: (_call, done) => {
        const groups = this.ctx.coordinators.active().flatMap((c) => {
          const o = c.list();
          return o.ok ? o.value : [];
        });
        done(null, { error: noError, groups });
      },
      DescribeGroup: (call, done) => {
        const { groupId } = call.request;
        const empty = { state: '', generation: 0, assignor: '', leaderId: '', members: [], offsets: [] };
        done(null, this.on(groupId, (c) => {
          const o = c.describe(groupId);
          if (!o.ok) return { error: err(o), ...empty };
          const d = o.value;
          return {
            error: noError, state: d.state, generation: d.generation, assignor: d.assignor, leaderId: d.leaderId,
            offsets: d.offsets.map(wireOffset),
            members: d.members.map((m) => ({
              memberId: m.id, clientId: m.clientId, topics: [...m.topics], sessionTimeoutMs: m.sessionTimeoutMs,
              assigned: wireRefs(m.assigned.map(refOfKey)), owned: wireRefs(m.owned.map(refOfKey)),
            })),
          };
        }, (error) => ({ error, ...empty })));
      },
      DeleteGroup: (call, done) => {
        const { groupId } = call.request;
        void this.on(groupId, (c) => c.deleteGroup(groupId).then((o) => ({ error: err(o) })), (error) => Promise.resolve({ error }))
          .then((r) => done(null, r), (e: Error) => done(e));
      },
    };
  }

  register(server: grpc.Server): void {
    server.addService(ferryGrpc().ferry.v1.GroupService.service, this.handlers());
  }
}
