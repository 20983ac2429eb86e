/**
 * Metadata and topic administration. Metadata is answered from this node's replica of the
 * controller log; partition leaders come from the Raft groups hosted here (other partitions are
 * reported with leader -1 and the client follows NOT_LEADER hints). Create/delete are decided by
 * the controller leader: any other node forwards the request there, so a client may ask anyone.
 */
import type { Logger } from 'pino';
import { groupStateTopicConfig, groupStateTopicName, isInternalTopic } from '../controller/group-state-topic.js';
import { hostsOf, reassignmentMovesMax, replicationFactorOf, type TopicInfo } from '../controller/metadata-state.js';
import { placeReplicas } from '../controller/placement.js';
import { parseTopicConfig, resetTopicConfigKeys, topicConfigToStrings, validateTopicName } from '../controller/topic-config.js';
import type { AlterTopicConfigRequest__Output } from '../proto/gen/ferry/v1/AlterTopicConfigRequest.js';
import type { AlterTopicConfigResponse } from '../proto/gen/ferry/v1/AlterTopicConfigResponse.js';
import type { CreatePartitionsRequest__Output } from '../proto/gen/ferry/v1/CreatePartitionsRequest.js';
import type { CreatePartitionsResponse } from '../proto/gen/ferry/v1/CreatePartitionsResponse.js';
import type { CreateTopicRequest__Output } from '../proto/gen/ferry/v1/CreateTopicRequest.js';
import type { CreateTopicResponse } from '../proto/gen/ferry/v1/CreateTopicResponse.js';
import type { DeleteTopicRequest__Output } from '../proto/gen/ferry/v1/DeleteTopicRequest.js';
import type { DeleteTopicResponse } from '../proto/gen/ferry/v1/DeleteTopicResponse.js';
import type { DescribeTopicRequest__Output } from '../proto/gen/ferry/v1/DescribeTopicRequest.js';
import type { DescribeTopicResponse } from '../proto/gen/ferry/v1/DescribeTopicResponse.js';
import type { MetadataRequest__Output } from '../proto/gen/ferry/v1/MetadataRequest.js';
import type { MetadataResponse } from '../proto/gen/ferry/v1/MetadataResponse.js';
import type { PartitionDescription } from '../proto/gen/ferry/v1/PartitionDescription.js';
import type { ReassignPartitionsRequest__Output } from '../proto/gen/ferry/v1/ReassignPartitionsRequest.js';
import type { ReassignPartitionsResponse } from '../proto/gen/ferry/v1/ReassignPartitionsResponse.js';
import type { TopicMetadata } from '../proto/gen/ferry/v1/TopicMetadata.js';
import { adminTimeoutMsMax, type ControllerForwarder } from './controller-forwarder.js';
import type { ControllerReplica } from './controller-replica.js';
import type { PartitionReplica } from './partition-replica.js';
import { noError, toWireError, wireError } from './proto-errors.js';
import { ReplicaError } from './replica-error.js';

export const topicPartitionsMax = 10_000;
const adminTimeoutMsDefault = 10_000;

export interface AdminContext {
  readonly selfId: number;
  readonly controller: ControllerReplica;
  /** Runs controller writes on the controller leader (here or forwarded). */
  readonly forwarder: ControllerForwarder;
  /** Every node of the cluster: id → the address clients should dial, rack, fenced. */
  brokers(): ReadonlyMap<number, { address: string; rack: string; fenced: boolean }>;
  /** The leader of a partition as far as this node knows (own groups and peers' reports). */
  leaderOf(topicId: number, partition: number): { nodeId: number; term: number } | undefined;
  /** The replica of a partition hosted here, if any. */
  hostedReplica(topicId: number, partition: number): PartitionReplica | undefined;
  /** The default replication factor: min(3, brokers). */
  readonly defaultReplicationFactor: number;
  /** Partitions of the group-state topic when this node (as controller leader) creates it. */
  readonly groupStatePartitions: number;
}

export class AdminService {
  private topicCounter = 0;

  constructor(private readonly ctx: AdminContext, private readonly log: Logger) {}

  private topicMetadata(t: TopicInfo): TopicMetadata {
    return {
      name: t.name, error: noError, configs: topicConfigToStrings(t.config), topicId: t.topicId,
      partitions: t.partitions.map((p) => {
        const known = this.ctx.leaderOf(t.topicId, p.partition);
        const leader = known?.nodeId ?? -1;
        return {
          partition: p.partition, replicas: [...p.replicas], inSyncReplicas: [...p.replicas],
          leaderId: leader, leaderEpoch: known?.term ?? -1, targetReplicas: [...(p.target ?? [])],
          error: leader > 0 ? noError : wireError('LEADER_NOT_AVAILABLE', 'leader unknown on this node; ask a replica'),
        };
      }),
    };
  }

  metadata(req: MetadataRequest__Output): MetadataResponse {
    const state = this.ctx.controller.state;
    // Internal topics are described when asked for by name, never listed among the user's topics.
    const names = req.topics.length > 0 ? req.topics : [...state.topics()].map((t) => t.name).filter((n) => !isInternalTopic(n)).sort();
    return {
      brokers: [...this.ctx.brokers()].map(([nodeId, b]) => ({ nodeId, address: b.address, rack: b.rack, alive: !b.fenced })),
      controllerId: this.ctx.controller.leaderId || -1,
      metadataVersion: state.version,
      topics: names.map((name) => {
        const t = state.topic(name);
        return t ? this.topicMetadata(t) : { name, error: wireError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${name}" does not exist`), partitions: [] };
      }),
    };
  }

  createTopic(request: CreateTopicRequest__Output): Promise<CreateTopicResponse> {
    const fail = (error: ReturnType<typeof wireError>): CreateTopicResponse => ({ error });
    // The group-state topic may be asked for (FindCoordinator does, through any node), but its
    // shape is the cluster's, never the caller's: the group → partition hash depends on it.
    const req = request.name === groupStateTopicName
      ? { ...request, partitions: this.ctx.groupStatePartitions, replicationFactor: 0, configs: groupStateTopicConfig }
      : request;
    const nameProblem = validateTopicName(req.name, req.name === groupStateTopicName);
    if (nameProblem) return Promise.resolve(fail(wireError('INVALID_REQUEST', nameProblem)));
    if (!Number.isInteger(req.partitions) || req.partitions < 1 || req.partitions > topicPartitionsMax) {
      return Promise.resolve(fail(wireError('INVALID_REQUEST', `partitions must be 1-${topicPartitionsMax}, got ${req.partitions}`)));
    }
    const config = parseTopicConfig(req.configs);
    if (!config.ok) return Promise.resolve(fail(wireError('INVALID_CONFIG', config.problems.join('; '))));
    return this.ctx.forwarder.run('ferry', 'CreateTopic', req, async () => {
      const rf = req.replicationFactor || this.ctx.defaultReplicationFactor;
      const live = [...this.ctx.brokers()].filter(([, b]) => !b.fenced).map(([nodeId, b]) => ({ nodeId, rack: b.rack }));
      const placed = placeReplicas(live, req.partitions, rf, this.topicCounter++);
      if (!placed.ok) return fail(wireError('INVALID_REPLICATION_FACTOR', placed.problem));
      try {
        const result = await this.ctx.controller.propose(
          { type: 'createTopic', name: req.name, config: config.value, replicas: placed.replicas },
          Math.min(req.timeoutMs || adminTimeoutMsDefault, adminTimeoutMsMax),
        );
        if (!result.ok) return fail(wireError(result.code, result.message));
        this.log.info({ topic: req.name, topicId: result.topic?.topicId, partitions: req.partitions, rf }, 'topic created');
        return { error: noError, topic: this.topicMetadata(result.topic!) };
      } catch (e) {
        return fail(toWireError(e, (id) => this.ctx.brokers().get(id)?.address));
      }
    }, fail);
  }

  deleteTopic(req: DeleteTopicRequest__Output): Promise<DeleteTopicResponse> {
    const fail = (error: ReturnType<typeof wireError>): DeleteTopicResponse => ({ error });
    if (isInternalTopic(req.name)) return Promise.resolve(fail(wireError('INVALID_REQUEST', `topic "${req.name}" is internal and cannot be deleted`)));
    if (!this.ctx.controller.state.topic(req.name)) {
      return Promise.resolve(fail(wireError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${req.name}" does not exist`)));
    }
    return this.ctx.forwarder.run('ferry', 'DeleteTopic', req, async () => {
      try {
        const result = await this.ctx.controller.propose({ type: 'deleteTopic', name: req.name }, Math.min(req.timeoutMs || adminTimeoutMsDefault, adminTimeoutMsMax));
        return result.ok ? { error: noError } : fail(wireError(result.code, result.message));
      } catch (e) {
        return fail(toWireError(e, (id) => this.ctx.brokers().get(id)?.address));
      }
    }, fail);
  }

  /** Grows a topic; the new partitions are placed like a new topic's, continuing its rotation. */
  createPartitions(req: CreatePartitionsRequest__Output): Promise<CreatePartitionsResponse> {
    const fail = (error: ReturnType<typeof wireError>): CreatePartitionsResponse => ({ error });
    if (isInternalTopic(req.name)) {
      return Promise.resolve(fail(wireError('INVALID_REQUEST', `topic "${req.name}" is internal; its partition count is fixed (groups hash onto it)`)));
    }
    // Existence and the current count are checked on the controller leader: this node's copy of
    // the metadata may lag (a topic created a moment ago elsewhere).
    return this.ctx.forwarder.run('ferry', 'CreatePartitions', req, async () => {
      const t = this.ctx.controller.state.topic(req.name);
      if (!t) return fail(wireError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${req.name}" does not exist`));
      const have = t.partitions.length;
      if (!Number.isInteger(req.totalPartitions) || req.totalPartitions <= have || req.totalPartitions > topicPartitionsMax) {
        return fail(wireError('INVALID_REQUEST',
          `topic "${req.name}" has ${have} partitions; the new total must be ${have + 1}-${topicPartitionsMax} (a topic never shrinks: keys would move), got ${req.totalPartitions}`));
      }
      const rf = replicationFactorOf(t.partitions[0]!);
      const live = [...this.ctx.brokers()].filter(([, b]) => !b.fenced).map(([nodeId, b]) => ({ nodeId, rack: b.rack }));
      const placed = placeReplicas(live, req.totalPartitions - t.partitions.length, rf, t.topicId + t.partitions.length);
      if (!placed.ok) return fail(wireError('INVALID_REPLICATION_FACTOR', placed.problem));
      try {
        const r = await this.ctx.controller.propose({ type: 'addPartitions', name: req.name, fromCount: t.partitions.length, replicas: placed.replicas },
          Math.min(req.timeoutMs || adminTimeoutMsDefault, adminTimeoutMsMax));
        if (!r.ok) return fail(wireError(r.code, r.message));
        this.log.info({ topic: req.name, from: t.partitions.length, to: req.totalPartitions }, 'partitions added');
        return { error: noError, topic: this.topicMetadata(r.topic!) };
      } catch (e) {
        return fail(toWireError(e, (id) => this.ctx.brokers().get(id)?.address));
      }
    }, fail);
  }

  /** Sets and resets config keys: checked here for a quick answer, decided when the change applies. */
  alterTopicConfig(req: AlterTopicConfigRequest__Output): Promise<AlterTopicConfigResponse> {
    const fail = (error: ReturnType<typeof wireError>): AlterTopicConfigResponse => ({ error });
    if (isInternalTopic(req.name)) return Promise.resolve(fail(wireError('INVALID_REQUEST', `topic "${req.name}" is internal; its config is fixed`)));
    const current = this.ctx.controller.state.topic(req.name);
    if (!current) return Promise.resolve(fail(wireError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${req.name}" does not exist`)));
    const clash = req.reset.filter((k) => k in req.set);
    if (clash.length > 0) return Promise.resolve(fail(wireError('INVALID_CONFIG', `keys both set and reset: ${clash.join(', ')}`)));
    const reset = resetTopicConfigKeys(current.config, req.reset);
    if (!reset.ok) return Promise.resolve(fail(wireError('INVALID_CONFIG', reset.problems.join('; '))));
    const next = parseTopicConfig(req.set, reset.value);
    if (!next.ok) return Promise.resolve(fail(wireError('INVALID_CONFIG', next.problems.join('; '))));
    return this.ctx.forwarder.run('ferry', 'AlterTopicConfig', req, async () => {
      try {
        const r = await this.ctx.controller.propose({ type: 'alterTopicConfig', name: req.name, set: req.set, reset: req.reset },
          Math.min(req.timeoutMs || adminTimeoutMsDefault, adminTimeoutMsMax));
        if (!r.ok) return fail(wireError(r.code, r.message));
        this.log.info({ topic: req.name, set: req.set, reset: req.reset }, 'topic config changed');
        return { error: noError, topic: this.topicMetadata(r.topic!) };
      } catch (e) {
        return fail(toWireError(e, (id) => this.ctx.brokers().get(id)?.address));
      }
    }, fail);
  }

  /**
   * Records reassignment targets (the operator's `ferry topic reassign`). Checked here for a quick,
   * specific answer (unknown topic or partition, duplicate or unknown or fenced nodes); the
   * controller checks again when the command applies. The moves run in the background.
   */
  reassignPartitions(req: ReassignPartitionsRequest__Output): Promise<ReassignPartitionsResponse> {
    const fail = (error: ReturnType<typeof wireError>): ReassignPartitionsResponse => ({ error });
    const t = this.ctx.controller.state.topic(req.topic);
    if (!t) return Promise.resolve(fail(wireError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${req.topic}" does not exist`)));
    if (req.partitions.length === 0 || req.partitions.length > reassignmentMovesMax) {
      return Promise.resolve(fail(wireError('INVALID_REQUEST', `a reassignment moves 1-${reassignmentMovesMax} partitions, got ${req.partitions.length}`)));
    }
    const brokers = this.ctx.brokers();
    for (const m of req.partitions) {
      const where = `partition ${req.topic}/${m.partition}`;
      if (!t.partitions[m.partition]) return Promise.resolve(fail(wireError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${req.topic}" has partitions 0-${t.partitions.length - 1}, not ${m.partition}`)));
      if (m.replicas.length === 0 || new Set(m.replicas).size !== m.replicas.length) {
        return Promise.resolve(fail(wireError('INVALID_REPLICATION_FACTOR', `${where}: replicas must be distinct node ids, got ${JSON.stringify(m.replicas)}`)));
      }
      const unknown = m.replicas.filter((id) => !brokers.has(id));
      if (unknown.length > 0) return Promise.resolve(fail(wireError('INVALID_REQUEST', `${where}: node(s) ${unknown.join(', ')} are not in the cluster`)));
      const fenced = m.replicas.filter((id) => brokers.get(id)?.fenced);
      if (fenced.length > 0) return Promise.resolve(fail(wireError('INVALID_REQUEST', `${where}: node(s) ${fenced.join(', ')} are fenced (not heartbeating); a move to them could not finish`)));
    }
    return this.ctx.forwarder.run('ferry', 'ReassignPartitions', req, async () => {
      try {
        const moves = req.partitions.map((m) => ({ partition: m.partition, target: [...m.replicas] }));
        const r = await this.ctx.controller.propose({ type: 'reassignPartitions', topic: req.topic, moves },
          Math.min(req.timeoutMs || adminTimeoutMsDefault, adminTimeoutMsMax));
        if (!r.ok) return fail(wireError(r.code, r.message));
        this.log.info({ topic: req.topic, moves }, 'reassignment requested');
        return { error: noError, topic: this.topicMetadata(r.topic!) };
      } catch (e) {
        return fail(toWireError(e, (id) => this.ctx.brokers().get(id)?.address));
      }
    }, fail);
  }

  describeTopic(req: DescribeTopicRequest__Output): DescribeTopicResponse {
    const t = this.ctx.controller.state.topic(req.name);
    if (!t) return { error: wireError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${req.name}" does not exist`), partitions: [] };
    const partitions = t.partitions.map((p): PartitionDescription => {
      const replica = this.ctx.hostedReplica(t.topicId, p.partition);
      if (!replica) {
        const hint = p.replicas[0]!;
        return { partition: p.partition, error: toWireError(new ReplicaError('NOT_LEADER', `partition ${p.partition} is not hosted on node ${this.ctx.selfId}`, hint),
          (id) => this.ctx.brokers().get(id)?.address), leaderId: -1, replicas: [] };
      }
      const status = replica.raftStatus();
      const progress = status?.progress;
      return {
        partition: p.partition, error: noError, leaderId: replica.leaderId || -1, leaderEpoch: replica.term,
        logStartOffset: replica.logStartOffset, highWatermark: replica.hw, logEndOffset: replica.log.logEndOffset,
        sizeBytes: replica.log.sizeBytes,
        replicas: hostsOf(p).map((nodeId) => {
          const pr = progress?.get(nodeId as never);
          return { nodeId, logEndOffset: -1, inSync: pr ? pr.match >= (status?.commit ?? 0) || pr.recentActive : false };
        }),
      };
    });
    return { error: noError, topic: this.topicMetadata(t), partitions };
  }
}
