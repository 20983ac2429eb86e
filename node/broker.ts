/**
 * A Ferry node: wires configuration, the group state store, the peer transport, the multi-raft
 * host, the controller replica, the partition replicas it hosts and the gRPC services together,
 * and takes them apart again in the right order on shutdown.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { IoThrottle, logLimits, PartitionLog } from '../log/index.js';
import { asNodeId, type NodeId } from '../raft/index.js';
import { hostsOf, partitionGroupKey, type MetadataState, type PartitionInfo, type TopicInfo } from '../controller/metadata-state.js';
import { ferryGrpc } from '../proto/load.js';
import type { ControllerServiceHandlers } from '../proto/gen/ferry/v1/ControllerService.js';
import { AdminService } from './admin-service.js';
import { BrokerLiveness } from './broker-liveness.js';
import { BrokerRegistration } from './broker-registration.js';
import { ProducerIdAllocator } from './producer-id-allocator.js';
import { CompactionScheduler, type CompactionTarget } from './compaction-scheduler.js';
import { LeaderBalancer } from './leader-balancer.js';
import { LeaderDirectory } from './leader-directory.js';
import { noError, wireError } from './proto-errors.js';
import { ControllerForwarder } from './controller-forwarder.js';
import type { NodeConfig } from './config.js';
import { grpcMessageBytesMax } from './constants.js';
import { widenServerWindows } from './http2-windows.js';
import { ControllerReplica, controllerGroupKey } from './controller-replica.js';
import { DataService, type ReplicaDirectory } from './data-service.js';
import { loadOrBootstrapGroup, loadOrJoinGroup } from './group-bootstrap.js';
import { GroupStateStore } from './group-state-store.js';
import { PartitionRaftStorage } from './partition-raft-storage.js';
import { EntryCacheBudget, entryCacheBytesPerNode, RaftEntryCache } from './raft-entry-cache.js';
import { PartitionReplica, type ReplicaLimits } from './partition-replica.js';
import { PeerTransport } from './peer-transport.js';
import { RaftHost } from './raft-host.js';
import { ReplicaError } from './replica-error.js';
import { serveClientApi } from './client-api.js';
import { groupStateTopicName } from '../controller/group-state-topic.js';
import { GroupCoordinators } from './consumer-groups/coordinators.js';
import { GroupService } from './consumer-groups/group-service.js';
import { replicaStatePartition } from './consumer-groups/replica-state-partition.js';
import { QueueService } from './queues/queue-service.js';
import { BrokerTopicAccess } from './queues/topic-access.js';
import { ReassignmentCompletion } from './reassignment-completion.js';
import { ReassignmentDriver, type MovingPartition } from './reassignment-driver.js';
import { ReplicaReassigner } from './replica-reassigner.js';

/** Raft timing in ticks; with the default 20 ms tick a leader is suspected after 200-400 ms. */
const raftTiming = { electionTimeoutTicks: 10, heartbeatIntervalTicks: 2 };
/** Segment size of the controller log (compacted after every controller snapshot). */
const controllerSegmentBytes = 4 * 1024 * 1024;
/** How long shutdown waits for leadership to move away before closing anyway. */
const shutdownTransferMs = 2_000;
/** How long shutdown lets in-flight RPCs finish before cutting connections. */
const serverShutdownGraceMs = 3_000;

/** The controller-side services every node runs (most of them act only on the controller leader). */
interface ClusterServices {
  readonly forwarder: ControllerForwarder;
  readonly registration: BrokerRegistration;
  readonly liveness: BrokerLiveness;
  readonly balancer: LeaderBalancer;
  /** Controller leader: moves replicas off brokers fenced past --reassign-after-ms. */
  readonly reassigner: ReplicaReassigner;
  /** Partition leaders: drive moving partitions' membership changes. */
  readonly driver: ReassignmentDriver;
}

/** How often the controller leader looks for brokers fenced past the reassignment delay. */
const reassignCheckIntervalMs = 1_000;
/** How often partition leaders take the next step of a reassignment. */
const reassignStepIntervalMs = 250;

/** How often a node re-announces every group it leads (new and restarted peers learn from it). */
const leaderReportIntervalMs = 2_000;

interface HostedPartition {
  topic: TopicInfo;
  readonly partition: number;
  readonly replica: PartitionReplica;
  readonly log: PartitionLog;
  /** Its share of the node's entry cache budget, given back when the replica goes. */
  readonly cache: RaftEntryCache;
  /** Metadata version at which this node began hosting it: older metadata never removes it. */
  readonly hostedSince: number;
}

export class Broker implements ReplicaDirectory {
  private readonly partitions = new Map<string, HostedPartition>();
  /** Bytes of recent Raft entries kept in memory across every partition this node hosts. */
  private readonly entryCacheBudget = new EntryCacheBudget(entryCacheBytesPerNode);
  private reconciling: Promise<void> = Promise.resolve();
  private ticker: NodeJS.Timeout | undefined;
  private reporter: NodeJS.Timeout | undefined;
  private retention: NodeJS.Timeout | undefined;
  private readonly compaction: CompactionScheduler;
  /** The consumer-group coordinators of the group-state partitions this node leads. */
  private groups: GroupCoordinators | undefined;
  /** Queue coordinators' way to ordinary topics (its gRPC clients are closed at shutdown). */
  private topicAccess: BrokerTopicAccess | undefined;
  private stopping = false;

  private constructor(
    readonly config: NodeConfig,
    private readonly log: Logger,
    private readonly store: GroupStateStore,
    private readonly transport: PeerTransport,
    readonly host: RaftHost,
    readonly controller: ControllerReplica,
    private readonly controllerLog: PartitionLog,
    private readonly server: grpc.Server,
    private readonly services: ClusterServices,
    private readonly data: DataService,
    /** Who leads each group (this node's own groups and peers' reports). */
    readonly leaders: LeaderDirectory,
    readonly port: number,
  ) {
    this.compaction = new CompactionScheduler({ throttle: new IoThrottle(config.cleanerBytesPerSec), log, nowMs: Date.now });
  }

  static async start(config: NodeConfig, log: Logger, onFatal: (err: unknown) => void): Promise<Broker> {
    mkdirSync(config.dataDir, { recursive: true });
    const store = await GroupStateStore.open(path.join(config.dataDir, 'meta'));
    const selfId = asNodeId(config.nodeId);
    const peers = new Map<NodeId, string>([...config.peers].map(([id, addr]) => [asNodeId(id), addr]));
    const holder: { host?: RaftHost } = {};
    const leaders = new LeaderDirectory();
    const transport = new PeerTransport({
      selfId, clusterId: config.clusterId, peers, log, onFatal,
      deliver: (group, message) => holder.host?.step(group, message),
      onLeaderReports: (from, reports) => {
        for (const r of reports) leaders.report(r.group, from, r.term);
      },
    });
    const host = new RaftHost({
      nodeId: selfId, store, sink: transport, fsync: config.fsync, timing: raftTiming, log, onFatal,
      onStatusChange: (key, status) => {
        leaders.report(key, status.leader, status.term);
        // Outside the loop's cycle: a coordinator that starts loading proposes a record.
        setImmediate(() => brokerRef.broker?.groups?.refresh());
        if (status.role === 'leader') {
          transport.reportLeadership([{ group: key, term: status.term }]);
          transport.flush();
        }
      },
    });
    holder.host = host;

    const voters = config.controllerNodeIds;
    const learners = [...config.peers.keys()].filter((id) => !voters.includes(id));
    // Small segments: compaction after a snapshot frees disk only in whole segments.
    const controllerLog = await PartitionLog.open(path.join(config.dataDir, 'controller'), { segmentBytes: controllerSegmentBytes, writeBehind: config.writeBehind }, log);
    const stored = await loadOrBootstrapGroup(store, controllerGroupKey, { voters, learners });
    const brokerRef: { broker?: Broker } = {};
    const controller = new ControllerReplica(host, (state) => brokerRef.broker?.onMetadata(state), {
      snapshotEveryEntries: config.controllerSnapshotEntries, snapshotIndex: stored.snapshot!.index, snapshotImage: stored.snapshot!.data, log,
    });
    const controllerStorage = PartitionRaftStorage.open(controllerLog, stored, 'metadataImage');
    if (controllerStorage.damage) log.warn({ damage: controllerStorage.damage }, 'damaged controller log cut at the first bad batch');
    host.addGroup(controllerGroupKey, controllerStorage, controller, true);

    const server = new grpc.Server({ 'grpc.max_receive_message_length': grpcMessageBytesMax, 'grpc.max_send_message_length': grpcMessageBytesMax });
    const forwarder = new ControllerForwarder(config.nodeId, controller, config.peers);
    const knownNodeIds = new Set(config.peers.keys());
    const registration = new BrokerRegistration({
      clusterId: config.clusterId, nodeId: config.nodeId, advertisedAddress: config.advertisedAddress, rack: config.rack, knownNodeIds,
    }, controller, forwarder, log);
    const producerIds = new ProducerIdAllocator({ clusterId: config.clusterId, nodeId: config.nodeId, knownNodeIds, controller, forwarder });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(config.listenAddress, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    widenServerWindows(server);
    const liveness = new BrokerLiveness({
      selfId: config.nodeId, clusterId: config.clusterId, sessionTimeoutMs: config.brokerSessionTimeoutMs, controller, forwarder, log,
    });
    const balancer = new LeaderBalancer({ intervalMs: config.leaderBalanceIntervalMs, controller, leaders, forwarder, log });
    const reassigner = new ReplicaReassigner({ reassignAfterMs: config.reassignAfterMs, intervalMs: reassignCheckIntervalMs, controller, log, nowMs: Date.now });
    const completion = new ReassignmentCompletion({ clusterId: config.clusterId, controller, forwarder });
    const driver = new ReassignmentDriver({
      selfId: config.nodeId, intervalMs: reassignStepIntervalMs, host, log,
      movingPartitions: () => brokerRef.broker?.movingPartitions() ?? [],
      reportDone: (p) => completion.report(p.topicId, p.partition, p.target),
    });
    const dataRef: { broker?: Broker } = {};
    const data = new DataService({
      replica: (topic, partition) => dataRef.broker!.replica(topic, partition),
      addressOf: (nodeId) => dataRef.broker!.addressOf(nodeId),
    }, log, config.maxInflightProduceBytes);
    const broker = new Broker(config, log, store, transport, host, controller, controllerLog, server,
      { forwarder, registration, liveness, balancer, reassigner, driver }, data, leaders, port);
    dataRef.broker = broker;
    brokerRef.broker = broker;
    const admin = new AdminService({
      selfId: config.nodeId, controller, forwarder, brokers: () => broker.brokers(),
      defaultReplicationFactor: Math.min(3, config.peers.size),
      hostedReplica: (topicId, partition) => broker.partitions.get(partitionGroupKey(topicId, partition))?.replica,
      leaderOf: (topicId, partition) => leaders.leaderOf(partitionGroupKey(topicId, partition)),
      groupStatePartitions: config.groupStatePartitions,
    }, log);
    const stateTopic = () => controller.state.topic(groupStateTopicName);
    const topicKey = (topic: string, partition: number): string | undefined => {
      const t = controller.state.topic(topic);
      return t && partition < t.partitions.length ? partitionGroupKey(t.topicId, partition) : undefined;
    };
    const topics = new BrokerTopicAccess({
      partitionCount: (topic) => controller.state.topic(topic)?.partitions.length,
      hostedReplica: (topic, partition) => {
        const key = topicKey(topic, partition);
        return key === undefined ? undefined : broker.partitions.get(key)?.replica;
      },
      leaderOf: (topic, partition) => {
        const key = topicKey(topic, partition);
        const nodeId = key === undefined ? undefined : leaders.leaderOf(key)?.nodeId;
        const address = nodeId === undefined ? undefined : broker.addressOf(nodeId);
        return nodeId === undefined || address === undefined ? undefined : { nodeId, address };
      },
      createTopic: async (name, partitions) => {
        const r = await admin.createTopic({ name, partitions, replicationFactor: 0, configs: {}, timeoutMs: 5_000 });
        if (r.error && r.error.code !== 'ERROR_CODE_NONE' && r.error.code !== 'ERROR_CODE_TOPIC_ALREADY_EXISTS') throw new Error(`creating topic ${name}: ${r.error.message}`);
      },
      initProducerId: async () => {
        const r = await producerIds.initProducerId({ timeoutMs: 5_000 });
        if (r.error && r.error.code !== 'ERROR_CODE_NONE') throw new Error(`producer id for dead letters: ${r.error.message}`);
        return { producerId: Number(r.producerId), producerEpoch: Number(r.producerEpoch) };
      },
    });
    broker.topicAccess = topics;
    const coordinators = new GroupCoordinators({
      topics,
      nodeId: config.nodeId, log,
      partitionsOf: (topic) => controller.state.topic(topic)?.partitions.length ?? 0,
      statePartitionCount: () => stateTopic()?.partitions.length,
      stateReplica: (p) => {
        const t = stateTopic();
        const hosted = t && broker.partitions.get(partitionGroupKey(t.topicId, p));
        return hosted ? replicaStatePartition(hosted.replica, host) : undefined;
      },
    });
    broker.groups = coordinators;
    new GroupService({
      coordinators, stateTopic, leaderOf: (key) => leaders.leaderOf(key), addressOf: (id) => broker.addressOf(id),
      createStateTopic: async () => {
        const r = await admin.createTopic({ name: groupStateTopicName, partitions: 0, replicationFactor: 0, configs: {}, timeoutMs: 5_000 });
        if (r.error && r.error.code !== 'ERROR_CODE_NONE' && r.error.code !== 'ERROR_CODE_TOPIC_ALREADY_EXISTS') throw new Error(r.error.message);
      },
    }).register(server);
    new QueueService(coordinators, log).register(server);
    server.addService(ferryGrpc().ferry.v1.RaftTransportService.service, transport.serviceImplementation());
    const controllerHandlers: ControllerServiceHandlers = {
      RegisterBroker: (call, done) => void registration.handle(call.request).then((r) => done(null, r), (e: Error) => done(e)),
      BrokerHeartbeat: (call, done) => void liveness.handle(call.request).then((r) => done(null, r), (e: Error) => done(e)),
      TransferLeadership: (call, done) => done(null, broker.handleTransfer(call.request.group, call.request.targetNodeId)),
      AllocateProducerIds: (call, done) => void producerIds.allocate(call.request).then((r) => done(null, r), (e: Error) => done(e)),
      CompleteReassignment: (call, done) => void completion.handle(call.request).then((r) => done(null, r), (e: Error) => done(e)),
    };
    server.addService(ferryGrpc().ferry.v1.ControllerService.service, controllerHandlers);
    serveClientApi(server, admin, data, producerIds, config.faultLoseProduceRepliesPercent);
    // The controller may have replayed its log (and called onMetadata) before `broker` existed;
    // reconciling is idempotent, so do it once now that everything is wired.
    broker.onMetadata(controller.state);
    broker.ticker = setInterval(() => host.tick(), config.tickMs);
    broker.reporter = setInterval(() => {
      transport.reportLeadership(host.ledGroups());
      transport.flush();
    }, leaderReportIntervalMs);
    liveness.start();
    balancer.start();
    reassigner.start();
    driver.start();
    coordinators.start();
    broker.retention = setInterval(() => broker.checkRetention(), config.retentionCheckIntervalMs);
    log.info({ listen: config.listenAddress, advertised: config.advertisedAddress, port }, 'node started');
    return broker;
  }

  // ---- ReplicaDirectory --------------------------------------------------------------------

  replica(topic: string, partition: number): PartitionReplica {
    const t = this.controller.state.topic(topic);
    if (!t) throw new ReplicaError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" does not exist`);
    const p = t.partitions[partition];
    if (!p) throw new ReplicaError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" has partitions 0-${t.partitions.length - 1}, not ${partition}`);
    const hosted = this.partitions.get(partitionGroupKey(t.topicId, partition));
    if (!hosted) {
      const leader = this.leaders.leaderOf(partitionGroupKey(t.topicId, partition))?.nodeId;
      const hint = leader !== undefined && leader !== this.config.nodeId ? leader : p.replicas.find((id) => id !== this.config.nodeId);
      throw new ReplicaError('NOT_LEADER', `partition ${topic}/${partition} is not hosted on node ${this.config.nodeId}`, hint);
    }
    return hosted.replica;
  }

  addressOf(nodeId: number): string | undefined {
    return this.brokers().get(nodeId)?.address;
  }

  /**
   * Every node and the address clients should dial: its registered advertised address, or the
   * configured peer address until it has registered.
   */
  brokers(): ReadonlyMap<number, { address: string; rack: string; fenced: boolean }> {
    const state = this.controller.state;
    return new Map([...this.config.peers].map(([id, peerAddress]) => {
      const b = state.broker(id);
      return [id, b ? { address: b.address, rack: b.rack, fenced: b.fenced === true } : { address: peerAddress, rack: '', fenced: false }];
    }));
  }

  /**
   * The TransferLeadership RPC (leader balancing): hands a group this node leads to `target` if
   * the target is a voter that holds everything committed; otherwise says why not.
   */
  handleTransfer(group: string, target: number): { error: ReturnType<typeof wireError> } {
    const status = this.host.status(group);
    if (!status || status.role !== 'leader') return { error: wireError('NOT_LEADER', `node ${this.config.nodeId} does not lead ${group}`) };
    const pr = status.progress?.get(asNodeId(target));
    if (!pr || pr.isLearner || pr.match < status.commit) {
      return { error: wireError('INVALID_REQUEST', `node ${target} is not a caught-up voter of ${group} (match ${pr?.match ?? 'none'}, commit ${status.commit})`) };
    }
    const r = this.host.transferLeadership(group, asNodeId(target));
    return { error: r && !r.ok ? wireError('NOT_LEADER', r.message) : noError };
  }


  // ---- metadata → hosted replicas ------------------------------------------------------------

  onMetadata(state: MetadataState): void {
    this.services.registration.poke();
    this.reconciling = this.reconciling.then(() => this.reconcile(state)).then(() => this.groups?.onMetadataChange()).catch((err: unknown) => {
      this.log.error({ err }, 'failed to reconcile hosted partitions with metadata');
    });
  }

  /** Opens replicas this node should host and closes those it no longer should. */
  private async reconcile(state: MetadataState): Promise<void> {
    if (this.stopping) return;
    const wanted = new Set<string>();
    const existing = new Set<string>([controllerGroupKey]);
    for (const topic of state.topics()) for (const p of topic.partitions) existing.add(partitionGroupKey(topic.topicId, p.partition));
    this.leaders.retainOnly(existing);
    for (const topic of state.topics()) {
      for (const p of topic.partitions) {
        if (!hostsOf(p).includes(this.config.nodeId)) continue;
        const key = partitionGroupKey(topic.topicId, p.partition);
        wanted.add(key);
        const hosted = this.partitions.get(key);
        if (hosted) {
          if (hosted.topic.config !== topic.config) this.applyConfig(hosted, topic);
          continue;
        }
        try {
          await this.openPartition(topic, p, state.version);
        } catch (err) {
          // One damaged partition must not keep the others from opening; the next metadata
          // change retries it.
          this.log.error({ err, partition: key, topic: topic.name }, 'could not open partition replica');
        }
      }
    }
    // Not wanted: the topic was deleted, or a reassignment moved this replica away (recorded only
    // once the group's voters no longer include this node, so its copy is no longer needed).
    for (const [key, hosted] of this.partitions) {
      // Metadata from before this node began hosting the group (replayed at a restart) may predate
      // a move that re-added it: only newer metadata may drop the group and delete its data.
      if (wanted.has(key) || state.version <= hosted.hostedSince) continue;
      this.host.removeGroup(key);
      hosted.replica.abortAll(`partition ${key} of topic ${hosted.topic.name} is no longer hosted on node ${this.config.nodeId}`);
      this.partitions.delete(key);
      this.compaction.forget(key);
      hosted.cache.clear();
      await hosted.log.close();
      this.store.deleteGroup(key);
      await this.store.commit();
      rmSync(this.partitionDir(hosted.topic.topicId, hosted.partition), { recursive: true, force: true });
      this.log.info({ partition: key, topic: hosted.topic.name }, 'partition replica removed');
    }
  }

  /**
   * Retention on the partitions this node leads (cleanup.policy delete), compaction on every
   * replica it hosts of a compacted topic (each replica cleans its own committed log), and expiry
   * of idle idempotent producers.
   */
  private checkRetention(): void {
    const now = Date.now();
    const compacted: CompactionTarget[] = [];
    for (const p of this.partitions.values()) {
      const expired = p.replica.expireProducers(now, this.config.producerIdExpirationMs);
      if (expired > 0) this.log.info({ partition: p.replica.key, expired }, 'idle idempotent producers forgotten');
      const { config } = p.topic;
      if (config.cleanupPolicy.includes('compact')) {
        p.replica.maybeAdvanceTombstoneHorizon();
        compacted.push({
          key: p.replica.key, topic: p.topic.name, log: p.log, highWatermark: p.replica.hw, tombstoneHorizon: p.replica.tombstoneHorizon,
          deleteRetentionMs: config.deleteRetentionMs, minCleanableDirtyRatio: config.minCleanableDirtyRatio,
        });
      }
      if (!config.cleanupPolicy.includes('delete')) continue;
      const start = p.replica.maybeRetain(config, now);
      if (start !== undefined) this.log.info({ partition: p.replica.key, topic: p.topic.name, logStart: start }, 'retention: proposed a new log start');
    }
    this.compaction.poke(compacted);
  }

  /** What the produce gate enforces for a topic's config. */
  private static replicaLimits(topic: TopicInfo): ReplicaLimits {
    const compacted = topic.config.cleanupPolicy.includes('compact');
    return { maxMessageBytes: topic.config.maxMessageBytes, ...(compacted ? { compactedTopic: topic.name } : {}) };
  }

  /** A topic config change reaches a hosted replica without a restart. */
  private applyConfig(hosted: HostedPartition, topic: TopicInfo): void {
    hosted.replica.setLimits(Broker.replicaLimits(topic));
    hosted.log.setRollPolicy({ segmentBytes: topic.config.segmentBytes, segmentMs: topic.config.segmentMs });
    hosted.topic = topic;
    this.log.info({ partition: partitionGroupKey(topic.topicId, hosted.partition), topic: topic.name }, 'topic config applied');
  }

  private partitionDir(topicId: number, partition: number): string {
    return path.join(this.config.dataDir, 'partitions', `${topicId}-${partition}`);
  }

  /** Partitions hosted here that a reassignment is moving (for the ReassignmentDriver). */
  movingPartitions(): MovingPartition[] {
    const out: MovingPartition[] = [];
    for (const topic of this.controller.state.topics()) {
      for (const p of topic.partitions) {
        if (!p.target) continue; // nearly always: no key string built for a partition at rest
        const key = partitionGroupKey(topic.topicId, p.partition);
        if (this.partitions.has(key)) out.push({ key, topicId: topic.topicId, partition: p.partition, target: p.target });
      }
    }
    return out;
  }

  private async openPartition(topic: TopicInfo, p: PartitionInfo, version: number): Promise<void> {
    const { partition, replicas } = p;
    const key = partitionGroupKey(topic.topicId, partition);
    // A replica the topic was created with starts the group from the creation set; any other
    // (added by a reassignment) joins the running group and learns its configuration from it.
    const founding = !p.moved && replicas.includes(this.config.nodeId);
    const stored = founding
      ? await loadOrBootstrapGroup(this.store, key, { voters: replicas, learners: [] }, version)
      : await loadOrJoinGroup(this.store, key, version);
    const plog = await PartitionLog.open(this.partitionDir(topic.topicId, partition), {
      segmentBytes: topic.config.segmentBytes, segmentMs: topic.config.segmentMs,
      // The topic limit (max.message.bytes, changeable at runtime) is enforced at the produce gate;
      // the log takes up to the hard ceiling so a raised limit can never make a persist fail.
      maxBatchBytes: logLimits.maxBatchBytesLimit,
      writeBehind: this.config.writeBehind,
    }, this.log);
    if (this.stopping) {
      await plog.close();
      return;
    }
    let storage: PartitionRaftStorage;
    const cache = new RaftEntryCache(this.entryCacheBudget);
    try {
      storage = PartitionRaftStorage.open(plog, stored, 'logStart', cache);
    } catch (err) {
      await plog.close();
      throw err;
    }
    if (storage.damage) {
      this.log.warn({ partition: key, topic: topic.name, damage: storage.damage, logEnd: plog.logEndOffset, lostLogEnd: storage.lostLogEnd },
        'damaged partition log cut at the first bad batch; the leader re-replicates the rest');
    }
    const replica = new PartitionReplica(key, this.config.nodeId, this.host, storage, Broker.replicaLimits(topic));
    this.partitions.set(key, { topic, partition, replica, log: plog, cache, hostedSince: stored.hostedSince ?? 0 });
    this.host.addGroup(key, storage, replica);
    // A new partition's preferred replica (first of the set, spread evenly at creation) stands
    // first, a couple of ticks in so the others have opened the group too: otherwise whichever
    // timer fires first wins, and the leader balancer moves leadership seconds later, failing the
    // first producers' in-flight batches with NOT_LEADER.
    if (founding && replicas[0] === this.config.nodeId && (stored.hardState?.term ?? 1) === 1) {
      setTimeout(() => this.host.campaignIfUntouched(key), 2 * this.config.tickMs).unref();
    }
    this.log.info({ partition: key, topic: topic.name, replicas, ...(p.target ? { target: p.target } : {}), founding }, 'partition replica opened');
  }

  // ---- shutdown ----------------------------------------------------------------------------

  /** Moves leadership of every group this node leads to another voter, then stops. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.reconciling;
    this.services.registration.stop();
    this.services.liveness.stop();
    this.services.balancer.stop();
    this.services.reassigner.stop();
    this.services.driver.stop();
    this.groups?.stop();
    this.topicAccess?.close();
    clearInterval(this.reporter);
    clearInterval(this.retention);
    const cleaning = this.compaction.stop(); // a running pass abandons once its log is closed below
    await this.transferLeadershipAway();
    clearInterval(this.ticker);
    this.host.stop();
    await this.host.whenIdle();
    this.host.writeUnwrittenHardStates(); // committed by store.close() below
    for (const p of this.partitions.values()) p.replica.abortAll('node shutting down');
    this.controller.abortAll('node shutting down');
    this.transport.close();
    this.services.forwarder.close();
    this.data.close();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, serverShutdownGraceMs);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    for (const p of this.partitions.values()) await p.log.close();
    await this.controllerLog.close();
    await cleaning;
    await this.store.close();
    this.log.info('node stopped');
  }

  private async transferLeadershipAway(): Promise<void> {
    const led = (): string[] => [controllerGroupKey, ...this.partitions.keys()].filter((k) => this.host.status(k)?.role === 'leader');
    for (const key of led()) {
      const status = this.host.status(key)!;
      // The most caught-up other voter takes over.
      const target = [...(status.progress ?? new Map())]
        .filter(([id, pr]) => id !== status.id && !pr.isLearner)
        .sort((a, b) => b[1].match - a[1].match)[0]?.[0];
      if (target !== undefined) this.host.transferLeadership(key, target);
    }
    const deadline = Date.now() + shutdownTransferMs;
    while (led().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const left = led();
    if (left.length > 0) this.log.warn({ groups: left }, 'shutting down while still leading (no voter could take over in time)');
  }
}
