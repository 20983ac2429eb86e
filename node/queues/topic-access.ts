/**
 * How a queue coordinator reaches ordinary topics: reading a source partition (from this node's
 * replica when it hosts one, leader or follower: anything below a replica's high watermark is
 * committed and the same on every replica), appending dead letters (to the partition's leader,
 * here or over gRPC), creating the dead-letter topic, and getting a producer id.
 */
import * as grpc from '@grpc/grpc-js';
import { ferryGrpc } from '../../proto/load.js';
import type { FerryServiceClient } from '../../proto/gen/ferry/v1/FerryService.js';
import type { Error__Output as WireError } from '../../proto/gen/ferry/v1/Error.js';
import type { PartitionReplica } from '../partition-replica.js';
import { ReplicaError, type ReplicaErrorCode } from '../replica-error.js';

export interface PartitionRead {
  /** Whole batches from the one holding the offset asked for (empty at the high watermark). */
  readonly records: Buffer;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** The offset asked for is below the log start (retention removed it). */
  readonly outOfRange: boolean;
}

export interface TopicAccess {
  /** Partition count of a topic, or undefined when it does not exist. */
  partitionCount(topic: string): number | undefined;
  read(topic: string, partition: number, offset: number, maxBytes: number): Promise<PartitionRead>;
  /** Appends one batch with acks=all; resolves with its base offset (an idempotent duplicate: the original's). */
  produce(topic: string, partition: number, batch: Buffer): Promise<number>;
  /** Creates the topic with `partitions` partitions unless it exists. */
  ensureTopic(name: string, partitions: number): Promise<void>;
  initProducerId(): Promise<{ producerId: number; producerEpoch: number }>;
}

export interface BrokerTopicAccessEnv {
  partitionCount(topic: string): number | undefined;
  /** This node's replica of a partition, in any role. */
  hostedReplica(topic: string, partition: number): PartitionReplica | undefined;
  /** The partition's leader and its client address, if known. */
  leaderOf(topic: string, partition: number): { nodeId: number; address: string } | undefined;
  createTopic(name: string, partitions: number): Promise<void>;
  initProducerId(): Promise<{ producerId: number; producerEpoch: number }>;
}

/** How long one append or read may take. */
const requestTimeoutMs = 10_000;

function errorOf(e: WireError | null | undefined, context: string): ReplicaError | undefined {
  if (!e || e.code === 'ERROR_CODE_NONE') return undefined;
  return new ReplicaError(e.code.replace(/^ERROR_CODE_/, '') as ReplicaErrorCode, `${context}: ${e.message}`);
}

export class BrokerTopicAccess implements TopicAccess {
  private readonly clients = new Map<string, FerryServiceClient>();

  constructor(private readonly env: BrokerTopicAccessEnv) {}

  partitionCount(topic: string): number | undefined {
    return this.env.partitionCount(topic);
  }

  private client(address: string): FerryServiceClient {
    let c = this.clients.get(address);
    if (!c) this.clients.set(address, (c = new (ferryGrpc().ferry.v1.FerryService)(address, grpc.credentials.createInsecure())));
    return c;
  }

  private leader(topic: string, partition: number): { nodeId: number; address: string } {
    const l = this.env.leaderOf(topic, partition);
    if (!l) throw new ReplicaError('LEADER_NOT_AVAILABLE', `partition ${topic}/${partition} has no known leader`);
    return l;
  }

  async read(topic: string, partition: number, offset: number, maxBytes: number): Promise<PartitionRead> {
    const replica = this.env.hostedReplica(topic, partition);
    if (replica) {
      try {
        return { ...replica.read(offset, maxBytes), outOfRange: false };
      } catch (err) {
        if (err instanceof ReplicaError && err.code === 'OFFSET_OUT_OF_RANGE' && offset < replica.logStartOffset) {
          return { records: Buffer.alloc(0), highWatermark: replica.hw, logStartOffset: replica.logStartOffset, outOfRange: true };
        }
        throw err;
      }
    }
    const { address } = this.leader(topic, partition);
    const res = await new Promise<{ results: Array<{ error: WireError | null; highWatermark: number; logStartOffset: number; records: Buffer }> }>((resolve, reject) => {
      this.client(address).Fetch({ maxWaitMs: 0, minBytes: 1, maxBytes, partitions: [{ topic, partition, fetchOffset: offset, maxBytes }] },
        { deadline: new Date(Date.now() + requestTimeoutMs) }, (err, r) => (err || !r ? reject(err ?? new Error('no answer')) : resolve(r)));
    });
    const r = res.results[0];
    if (!r) throw new ReplicaError('INTERNAL', `fetch of ${topic}/${partition} from ${address} answered no partition`);
    const e = errorOf(r.error, `fetch ${topic}/${partition}@${offset} from ${address}`);
    if (e?.code === 'OFFSET_OUT_OF_RANGE' && offset < r.logStartOffset) {
      return { records: Buffer.alloc(0), highWatermark: r.highWatermark, logStartOffset: r.logStartOffset, outOfRange: true };
    }
    if (e) throw e;
    return { records: r.records, highWatermark: r.highWatermark, logStartOffset: r.logStartOffset, outOfRange: false };
  }

  async produce(topic: string, partition: number, batch: Buffer): Promise<number> {
    const replica = this.env.hostedReplica(topic, partition);
    if (replica?.isLeader) return replica.produce(batch, 'all', requestTimeoutMs);
    const { address } = this.leader(topic, partition);
    const res = await new Promise<{ results: Array<{ error: WireError | null; baseOffset: number }> }>((resolve, reject) => {
      this.client(address).Produce({ acks: 'ACKS_ALL', timeoutMs: requestTimeoutMs, partitions: [{ topic, partition, batch }] },
        { deadline: new Date(Date.now() + requestTimeoutMs + 1_000) }, (err, r) => (err || !r ? reject(err ?? new Error('no answer')) : resolve(r)));
    });
    const r = res.results[0];
    const e = errorOf(r?.error, `produce to ${topic}/${partition} on ${address}`);
    if (e) throw e;
    return r!.baseOffset;
  }

  ensureTopic(name: string, partitions: number): Promise<void> {
    if (this.env.partitionCount(name) !== undefined) return Promise.resolve();
    return this.env.createTopic(name, partitions);
  }

  initProducerId(): Promise<{ producerId: number; producerEpoch: number }> {
    return this.env.initProducerId();
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
