/** Topic administration and cluster inspection. */
import type { CreatePartitionsResponse__Output } from '../proto/gen/ferry/v1/CreatePartitionsResponse.js';
import type { AlterTopicConfigResponse__Output } from '../proto/gen/ferry/v1/AlterTopicConfigResponse.js';
import type { CreateTopicResponse__Output } from '../proto/gen/ferry/v1/CreateTopicResponse.js';
import type { DeleteTopicResponse__Output } from '../proto/gen/ferry/v1/DeleteTopicResponse.js';
import type { DescribeTopicResponse__Output } from '../proto/gen/ferry/v1/DescribeTopicResponse.js';
import type { MetadataResponse__Output } from '../proto/gen/ferry/v1/MetadataResponse.js';
import type { PartitionDescription__Output } from '../proto/gen/ferry/v1/PartitionDescription.js';
import type { ReassignPartitionsResponse__Output } from '../proto/gen/ferry/v1/ReassignPartitionsResponse.js';
import { type ConnectionPool, unary } from './connection-pool.js';
import { FerryError } from './errors.js';
import type { MetadataCache } from './metadata-cache.js';

export interface CreateTopicOptions {
  readonly partitions?: number;
  readonly replicationFactor?: number;
  readonly configs?: Readonly<Record<string, string>>;
}

/** Retries retriable failures (no controller leader yet, a node restarting) with back-off. */
async function withRetries<T>(fn: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 0; ; i += 1) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof FerryError) || !err.retriable || i + 1 >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** i, 1_000)));
    }
  }
}

export class Admin {
  constructor(private readonly pool: ConnectionPool, private readonly metadata: MetadataCache, private readonly timeoutMs = 15_000) {}

  async createTopic(name: string, options: CreateTopicOptions = {}): Promise<void> {
    let attempts = 0;
    await withRetries(async () => {
      attempts += 1;
      const res = await unary<object, CreateTopicResponse__Output>(this.pool.get(this.metadata.anyAddress()), 'CreateTopic', {
        name, partitions: options.partitions ?? 1, replicationFactor: options.replicationFactor ?? 0, configs: options.configs ?? {}, timeoutMs: this.timeoutMs,
      }, this.timeoutMs + 1_000);
      const err = FerryError.fromWire(res.error, `create topic ${name}`);
      // After an attempt whose outcome was unknown (timeout), "already exists" is our own success.
      if (err && !(attempts > 1 && err.code === 'TOPIC_ALREADY_EXISTS')) throw err;
    });
    await this.waitVisible(name, true);
  }

  /**
   * Waits until every broker's metadata agrees that the topic exists (or is gone), so the next
   * call anywhere sees it: the controller has committed it, but brokers apply the log a moment
   * later. Brokers that do not answer are skipped.
   */
  private async waitVisible(name: string, exists: boolean): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const md = await this.metadata.refresh([]);
      const views = await Promise.all(md.brokers.map((b) => unary<object, MetadataResponse__Output>(this.pool.get(b.address), 'Metadata', { topics: [name] }, 2_000)
        .then((m) => m.topics[0]?.error?.code === 'ERROR_CODE_NONE', () => exists)));
      if (views.every((v) => v === exists)) return;
      if (Date.now() > deadline) {
        const lagging = md.brokers.filter((_, i) => views[i] !== exists).map((b) => b.nodeId);
        throw new FerryError('TIMEOUT', `topic ${name} was ${exists ? 'created' : 'deleted'}, but brokers ${lagging.join(', ')} do not show it yet`, true);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sets and/or resets topic config keys; replicas apply the change without a restart. */
  async alterTopicConfig(name: string, change: { set?: Readonly<Record<string, string>>; reset?: readonly string[] }): Promise<void> {
    await withRetries(async () => {
      const res = await unary<object, AlterTopicConfigResponse__Output>(this.pool.get(this.metadata.anyAddress()), 'AlterTopicConfig', {
        name, set: change.set ?? {}, reset: change.reset ?? [], timeoutMs: this.timeoutMs,
      }, this.timeoutMs + 1_000);
      const err = FerryError.fromWire(res.error, `alter topic ${name}`);
      if (err) throw err;
    });
  }

  /**
   * Grows a topic to `totalPartitions` (never fewer). A retry after an unknown outcome that finds
   * the topic already grown counts as done. Resolves once this client's metadata shows them.
   */
  async createPartitions(name: string, totalPartitions: number): Promise<void> {
    // Asking for the count the topic already has is an error; checked first, so that a retry
    // below can tell "my earlier attempt (whose answer was lost) grew it" from that.
    const before = (await this.metadata.refresh([name]).catch(() => undefined))?.topics[0]?.partitions.length ?? 0;
    if (before > 0 && totalPartitions <= before) {
      throw new FerryError('INVALID_REQUEST', `grow topic ${name}: it has ${before} partitions; the new total must be larger (a topic never shrinks: keys would move), got ${totalPartitions}`, false);
    }
    // Set once an attempt ended with an unknown outcome: it may have grown the topic already.
    let mayHaveApplied = false;
    await withRetries(async () => {
      let err: FerryError | undefined;
      try {
        const res = await unary<object, CreatePartitionsResponse__Output>(this.pool.get(this.metadata.anyAddress()), 'CreatePartitions',
          { name, totalPartitions, timeoutMs: this.timeoutMs }, this.timeoutMs + 1_000);
        err = FerryError.fromWire(res.error, `grow topic ${name} to ${totalPartitions} partitions`);
      } catch (e) {
        if (e instanceof FerryError && (e.code === 'TIMEOUT' || e.code === 'UNAVAILABLE')) mayHaveApplied = true;
        throw e;
      }
      if (!err) return;
      if (err.code === 'TIMEOUT') mayHaveApplied = true;
      if (mayHaveApplied && err.code === 'INVALID_REQUEST') {
        const md = await this.metadata.refresh([name]);
        if ((md.topics[0]?.partitions.length ?? 0) === totalPartitions) return;
      }
      throw err;
    });
    await this.metadata.refresh([name]);
  }

  async deleteTopic(name: string): Promise<void> {
    let attempts = 0;
    await withRetries(async () => {
      attempts += 1;
      const res = await unary<object, DeleteTopicResponse__Output>(this.pool.get(this.metadata.anyAddress()), 'DeleteTopic',
        { name, timeoutMs: this.timeoutMs }, this.timeoutMs + 1_000);
      const err = FerryError.fromWire(res.error, `delete topic ${name}`);
      if (err && !(attempts > 1 && err.code === 'UNKNOWN_TOPIC_OR_PARTITION')) throw err;
    });
    await this.waitVisible(name, false);
  }

  /**
   * Moves partitions to new replica sets (preferred leader first). Resolves once the controller
   * recorded the targets; the moves finish in the background (Metadata's targetReplicas empties).
   */
  async reassignPartitions(topic: string, moves: ReadonlyArray<{ partition: number; replicas: readonly number[] }>): Promise<void> {
    await withRetries(async () => {
      const res = await unary<object, ReassignPartitionsResponse__Output>(this.pool.get(this.metadata.anyAddress()), 'ReassignPartitions', {
        topic, partitions: moves.map((m) => ({ partition: m.partition, replicas: [...m.replicas] })), timeoutMs: this.timeoutMs,
      }, this.timeoutMs + 1_000);
      const err = FerryError.fromWire(res.error, `reassign partitions of ${topic}`);
      if (err) throw err;
    });
  }

  /** Round-trip time of a Metadata call to one node in ms, or undefined if it does not answer. */
  async ping(address: string, timeoutMs = 2_000): Promise<number | undefined> {
    const started = Date.now();
    try {
      await unary<object, MetadataResponse__Output>(this.pool.get(address), 'Metadata', { topics: ['__ping__'] }, timeoutMs);
      return Date.now() - started;
    } catch {
      return undefined;
    }
  }

  metadata$(topics: readonly string[] = []): Promise<MetadataResponse__Output> {
    return withRetries(() => this.metadata.refresh(topics));
  }

  /**
   * Each partition as its leader sees it (log start, high watermark, size, replicas). Asks every
   * broker and keeps, per partition, the answer of the node that leads it.
   */
  async describeTopic(name: string): Promise<PartitionDescription__Output[]> {
    const md = await this.metadata$([name]);
    const t = md.topics[0];
    const err = FerryError.fromWire(t?.error, `describe topic ${name}`);
    if (err) throw err;
    const best = new Map<number, PartitionDescription__Output>();
    await Promise.all(md.brokers.map(async (b) => {
      try {
        const res = await unary<object, DescribeTopicResponse__Output>(this.pool.get(b.address), 'DescribeTopic', { name }, this.timeoutMs);
        for (const p of res.partitions) {
          if (p.error?.code !== 'ERROR_CODE_NONE') continue;
          const known = best.get(p.partition);
          const leads = p.leaderId === b.nodeId;
          if (!known || leads || (known.leaderId !== -1 && p.leaderEpoch > known.leaderEpoch)) best.set(p.partition, p);
        }
      } catch {
        // A node that is down simply contributes nothing; its partitions show as unknown.
      }
    }));
    return t!.partitions.map((p) => best.get(p.partition) ?? {
      partition: p.partition, error: { code: 'ERROR_CODE_LEADER_NOT_AVAILABLE', message: 'no replica answered', retriable: true, leaderHintNodeId: -1, leaderHintAddress: '' },
      leaderId: -1, leaderEpoch: -1, logStartOffset: -1, highWatermark: -1, logEndOffset: -1, sizeBytes: 0, replicas: [],
    });
  }
}
