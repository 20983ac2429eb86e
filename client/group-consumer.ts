/**
 * A member of a consumer group: `ferry.consumer({ group, topics })`.
 *
 *   for await (const r of consumer) handle(r);         // records of the partitions it is given
 *
 * Membership runs in the background: join (the coordinator assigns partitions), sync, heartbeat;
 * on a rebalance it revokes what it must (committing their offsets first), then starts reading
 * what it gained from the group's committed offsets (or autoOffsetReset where none).
 *
 * Delivery modes (offsets are committed per partition as "the next record to read"):
 *   at-least-once (default)  a record counts as processed once the loop asks for the next one
 *                            (or poll() is called again); processed positions are committed
 *                            every autoCommitIntervalMs, on revoke and on close. A crash
 *                            redelivers what was processed but not yet committed.
 *   at-most-once             each batch's positions are committed *before* its records are
 *                            handed out. A crash loses the records being processed.
 * With autoCommit false nothing is committed until commit() is called (it commits processed
 * positions, or the offsets given).
 *
 * Assignors: cooperative-sticky (default) keeps reading unaffected partitions through a
 * rebalance; range and round-robin are eager: every partition is revoked before rejoining.
 */
import type { ConsumedRecord } from './consumer.js';
import { Consumer } from './consumer.js';
import type { ConnectionPool } from './connection-pool.js';
import { FerryError } from './errors.js';
import type { GroupRpc } from './group-rpc.js';
import { GroupMembership, type TopicPartitionRef } from './group-membership.js';
import type { MetadataCache } from './metadata-cache.js';

export type { TopicPartitionRef } from './group-membership.js';

export interface GroupConsumerOptions {
  readonly group: string;
  readonly topics: readonly string[];
  readonly assignor?: 'range' | 'round-robin' | 'cooperative-sticky';
  readonly delivery?: 'at-least-once' | 'at-most-once';
  /** Commit processed positions automatically (default true), every autoCommitIntervalMs (default 1000). */
  readonly autoCommit?: boolean;
  readonly autoCommitIntervalMs?: number;
  /** Where to start a partition the group has no committed offset for (default earliest). */
  readonly autoOffsetReset?: 'earliest' | 'latest';
  /** Removed from the group after this long without a heartbeat (default 10,000 ms). */
  readonly sessionTimeoutMs?: number;
  /** How long a rebalance waits for members to rejoin (default 30,000 ms). */
  readonly rebalanceTimeoutMs?: number;
  /** Default 1,000 ms (keep it well under the session timeout). */
  readonly heartbeatIntervalMs?: number;
  readonly clientId?: string;
  /** Called with newly assigned partitions, before their records are read. */
  readonly onAssigned?: (partitions: readonly TopicPartitionRef[]) => void | Promise<void>;
  /** Called before partitions are taken away (their processed offsets are committed first). */
  readonly onRevoked?: (partitions: readonly TopicPartitionRef[]) => void | Promise<void>;
  /** Called when partitions were lost without a chance to commit (the session expired). */
  readonly onLost?: (partitions: readonly TopicPartitionRef[]) => void | Promise<void>;
  /**
   * Told of every offset commit once the coordinator answered (auto, on revoke, on close or by
   * commit()): the offsets ("next offset to read") and, when it was refused or its outcome is
   * unknown, the error. For audit trails and tests that must know exactly what was committed.
   * Called once the consumer has recorded the outcome; an error it throws is ignored.
   */
  readonly onCommit?: (offsets: ReadonlyArray<TopicPartitionRef & { readonly offset: number }>, error?: FerryError) => void;
  readonly maxWaitMs?: number;
  readonly maxBytes?: number;
  /** Records buffered ahead of the reader, per topic (default 2,000). */
  readonly bufferRecords?: number;
}

const keyOf = (topic: string, partition: number): string => `${topic}/${partition}`;

export class GroupConsumer implements AsyncIterable<ConsumedRecord> {
  private readonly consumers = new Map<string, Consumer>();
  private readonly membership: GroupMembership;
  /** Next offset to commit per owned partition (what the application has processed). */
  private readonly processed = new Map<string, number>();
  private readonly committed = new Map<string, number>();
  private lastBatch: ConsumedRecord[] = [];
  private wake: (() => void) | undefined;
  private commitChain: Promise<void> = Promise.resolve();
  private autoCommitTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(pool: ConnectionPool, metadata: MetadataCache, rpc: GroupRpc, private readonly opts: GroupConsumerOptions) {
    if (opts.topics.length === 0) throw new FerryError('INVALID_REQUEST', 'a group consumer needs at least one topic', false);
    for (const topic of new Set(opts.topics)) {
      this.consumers.set(topic, new Consumer(pool, metadata, {
        topic, partitions: [], maxWaitMs: opts.maxWaitMs, maxBytes: opts.maxBytes, bufferRecords: opts.bufferRecords ?? 2_000,
        autoOffsetReset: opts.autoOffsetReset ?? 'earliest', onRecords: () => this.wake?.(),
      }));
    }
    this.membership = new GroupMembership(rpc, {
      group: opts.group, topics: [...this.consumers.keys()], assignor: opts.assignor ?? 'cooperative-sticky',
      clientId: opts.clientId ?? 'ferry-ts', sessionTimeoutMs: opts.sessionTimeoutMs ?? 10_000,
      rebalanceTimeoutMs: opts.rebalanceTimeoutMs ?? 30_000, heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 1_000,
    }, {
      assign: (parts) => this.assign(parts),
      revoke: (parts) => this.revoke(parts),
      lose: (parts) => this.lose(parts),
    });
  }

  /** Joins the group (also done by the first poll or iteration). */
  start(): void {
    if (this.closed || this.membership.running) return;
    this.membership.start();
    if (this.opts.autoCommit !== false && (this.opts.delivery ?? 'at-least-once') === 'at-least-once') {
      this.autoCommitTimer = setInterval(() => void this.commit().catch(() => undefined), this.opts.autoCommitIntervalMs ?? 1_000);
    }
  }

  /** Partitions this member reads now. */
  assignment(): TopicPartitionRef[] {
    return this.membership.owned();
  }

  /** The generation and member id (after the first join). */
  get member(): { memberId: string; generation: number } {
    return { memberId: this.membership.memberId, generation: this.membership.generation };
  }

  private consumer(topic: string): Consumer {
    const c = this.consumers.get(topic);
    if (!c) throw new Error(`topic ${topic} is not subscribed`);
    return c;
  }

  private async assign(parts: readonly TopicPartitionRef[]): Promise<void> {
    const offsets = await this.membership.committedOffsets(parts);
    for (const p of parts) {
      const committed = offsets.get(keyOf(p.topic, p.partition));
      const c = this.consumer(p.topic);
      const start = committed !== undefined && committed >= 0 ? committed : await c.lookup(p.partition, this.opts.autoOffsetReset ?? 'earliest');
      c.assign(p.partition, start);
      this.processed.set(keyOf(p.topic, p.partition), start);
      this.committed.set(keyOf(p.topic, p.partition), committed ?? -1);
    }
    await this.opts.onAssigned?.(parts);
  }

  private async revoke(parts: readonly TopicPartitionRef[]): Promise<void> {
    if (this.opts.autoCommit !== false) await this.commit().catch(() => undefined);
    await this.opts.onRevoked?.(parts);
    this.drop(parts);
  }

  private async lose(parts: readonly TopicPartitionRef[]): Promise<void> {
    this.drop(parts);
    await this.opts.onLost?.(parts);
  }

  private drop(parts: readonly TopicPartitionRef[]): void {
    for (const p of parts) {
      this.consumer(p.topic).unassign(p.partition);
      this.processed.delete(keyOf(p.topic, p.partition));
      this.committed.delete(keyOf(p.topic, p.partition));
    }
    const gone = new Set(parts.map((p) => keyOf(p.topic, p.partition)));
    this.lastBatch = this.lastBatch.filter((r) => !gone.has(keyOf(r.topic, r.partition)));
  }

  /** Marks a record processed (its partition's next offset to commit moves past it). */
  private markProcessed(r: ConsumedRecord): void {
    const key = keyOf(r.topic, r.partition);
    if (this.processed.has(key)) this.processed.set(key, Math.max(this.processed.get(key)!, r.offset + 1));
  }

  private async nextBatch(maxWaitMs: number, maxRecords: number): Promise<ConsumedRecord[]> {
    this.start();
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      this.membership.throwIfFailed();
      const out: ConsumedRecord[] = [];
      for (const c of this.consumers.values()) {
        if (out.length < maxRecords) out.push(...(await c.poll(0, maxRecords - out.length)));
      }
      const remaining = deadline - Date.now();
      if (out.length > 0 || remaining <= 0 || this.closed) {
        if (out.length > 0 && this.opts.delivery === 'at-most-once') {
          for (const r of out) this.markProcessed(r);
          await this.commit(); // before anyone sees them: a crash from here on loses them
        }
        return out;
      }
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, Math.min(remaining, 200));
      });
      clearTimeout(timer);
      this.wake = undefined;
    }
  }

  /**
   * Up to `maxRecords` records, waiting at most `maxWaitMs` for the first. In at-least-once mode
   * calling poll() again marks the previous batch processed.
   */
  async poll(maxWaitMs: number, maxRecords = 500): Promise<ConsumedRecord[]> {
    for (const r of this.lastBatch) this.markProcessed(r);
    this.lastBatch = await this.nextBatch(maxWaitMs, maxRecords);
    return this.lastBatch;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ConsumedRecord> {
    while (!this.closed) {
      for (const r of await this.nextBatch(1_000, 500)) {
        if (this.closed) return;
        yield r;
        this.markProcessed(r); // the loop body finished with it
      }
    }
  }

  /**
   * Commits processed positions of owned partitions (or exactly `offsets`, "next offset to read").
   * Commits are sent one after another. Rejected commits (the partition moved, a stale
   * generation) throw; the group will have rebalanced.
   */
  commit(offsets?: ReadonlyArray<TopicPartitionRef & { readonly offset: number }>): Promise<void> {
    // Like Kafka's commitSync(): what the last poll() returned counts as processed.
    if (!offsets) for (const r of this.lastBatch) this.markProcessed(r);
    const run = async (): Promise<void> => {
      const wanted = offsets ?? [...this.processed].filter(([k, o]) => this.committed.get(k) !== o).map(([k, offset]) => {
        const slash = k.lastIndexOf('/');
        return { topic: k.slice(0, slash), partition: Number(k.slice(slash + 1)), offset };
      });
      if (wanted.length === 0) return;
      try {
        await this.membership.commit(wanted);
      } catch (err) {
        this.tellCommit(wanted, FerryError.from(err));
        throw err;
      }
      for (const o of wanted) if (this.committed.has(keyOf(o.topic, o.partition))) this.committed.set(keyOf(o.topic, o.partition), o.offset);
      this.tellCommit(wanted);
    };
    const next = this.commitChain.then(run);
    this.commitChain = next.catch(() => undefined);
    return next;
  }

  /** Tells onCommit; an observer that throws must neither undo a commit nor hide why one failed. */
  private tellCommit(offsets: ReadonlyArray<TopicPartitionRef & { readonly offset: number }>, err?: FerryError): void {
    try {
      this.opts.onCommit?.(offsets, err);
    } catch {
      // the observer's own failure: the commit's outcome stands
    }
  }

  /**
   * Moves an owned partition to an offset, or to the first record at/after a timestamp (ms).
   * In at-least-once mode the next commit records the new position.
   */
  async seek(topic: string, partition: number, to: number | { readonly timestamp: number }): Promise<void> {
    const key = keyOf(topic, partition);
    if (!this.processed.has(key)) throw new FerryError('INVALID_REQUEST', `${key} is not assigned to this member`, false);
    const c = this.consumer(topic);
    const offset = typeof to === 'number' ? to : await c.lookup(partition, to);
    c.seek(partition, offset);
    this.processed.set(key, offset);
    this.lastBatch = this.lastBatch.filter((r) => keyOf(r.topic, r.partition) !== key);
  }

  /** Commits (at-least-once with autoCommit), leaves the group and stops reading. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.autoCommitTimer);
    for (const r of this.lastBatch) this.markProcessed(r);
    if (this.opts.autoCommit !== false && this.membership.running) await this.commit().catch(() => undefined);
    this.closed = true;
    this.wake?.();
    await this.membership.stop();
    for (const c of this.consumers.values()) c.close();
  }
}
