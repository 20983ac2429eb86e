/**
 * The producer: records accumulate per partition and leave as one RecordBatch v2 when the batch
 * reaches maxBatchBytes or lingerMs passes, with one request in flight per partition so retries
 * never reorder a partition. Keyed records pick their partition with Kafka's murmur2; unkeyed
 * ones stick to one partition until its batch fills (Kafka's sticky partitioner). Retriable
 * errors are retried with capped exponential back-off, following NOT_LEADER hints, until the
 * delivery timeout; each record's promise resolves to its offset.
 */
import { encodeBatch, type RecordInput } from '../log/index.js';
import type { Acks } from '../proto/gen/ferry/v1/Acks.js';
import type { ProduceResponse__Output } from '../proto/gen/ferry/v1/ProduceResponse.js';
import type { ConnectionPool } from './connection-pool.js';
import { unary } from './connection-pool.js';
import { FerryError } from './errors.js';
import type { MetadataCache } from './metadata-cache.js';
import { partitionForKey } from './murmur2-partitioner.js';

export interface ProducerRecord {
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers?: Readonly<Record<string, Buffer | string>>;
  /** Milliseconds since the epoch; defaults to now. */
  readonly timestamp?: number;
  /** Overrides the partitioner. */
  readonly partition?: number;
}

export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  /** The record's offset; -1 with acks "none". */
  readonly offset: number;
}

export interface ProducerOptions {
  /** "all" (default): answered once a majority fsynced; "leader"; "none". */
  readonly acks?: 'all' | 'leader' | 'none';
  /** How long a partial batch waits for more records (default 5 ms). */
  readonly lingerMs?: number;
  /** Batch size that triggers an immediate send (default 1 MiB). */
  readonly maxBatchBytes?: number;
  /** How long to keep retrying a record before failing it (default 120 s). */
  readonly deliveryTimeoutMs?: number;
  /** Per-request deadline (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** First retry back-off (default 50 ms), doubling up to 1 s. */
  readonly retryBackoffMs?: number;
}

interface Pending {
  readonly input: RecordInput;
  readonly resolve: (m: RecordMetadata) => void;
  readonly reject: (e: Error) => void;
}

interface PartitionQueue {
  records: Pending[];
  bytes: number;
  timer: NodeJS.Timeout | undefined;
  inFlight: boolean;
}

const acksWire: Record<NonNullable<ProducerOptions['acks']>, Acks> = { all: 'ACKS_ALL', leader: 'ACKS_LEADER', none: 'ACKS_NONE' };
/** How long a batch keeps retrying UNKNOWN_TOPIC_OR_PARTITION (metadata of a new topic spreading). */
const unknownTopicGraceMs = 5_000;
/** RecordBatch v2 header up to the record count. */
const batchHeaderBytes = 61;
/** Worst case per record: length, attributes, timestamp/offset deltas, key/value lengths, header count. */
const recordOverheadBytes = 40;
/** Worst case per header: key and value length varints. */
const headerOverheadBytes = 10;

/** An upper bound of a record's encoded size, so a batch never crosses maxBatchBytes. */
function encodedSizeBound(r: RecordInput): number {
  let size = recordOverheadBytes + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers ?? []) size += headerOverheadBytes + Buffer.byteLength(h.key) + (h.value?.length ?? 0);
  return size;
}

function toBuffer(v: Buffer | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? Buffer.from(v) : v;
}

/** Counters for monitoring and benchmarks. */
export interface ProducerStats {
  batchesSent: number;
  recordsSent: number;
  bytesSent: number;
  retries: number;
}

export class Producer {
  readonly stats: ProducerStats = { batchesSent: 0, recordsSent: 0, bytesSent: 0, retries: 0 };
  private readonly queues = new Map<string, PartitionQueue>();
  private readonly sticky = new Map<string, number>();
  private readonly inflight = new Set<Promise<void>>();
  /** Sends still looking up metadata, not yet in a partition queue (flush must wait for them). */
  private queueing = 0;
  private queueingWaiters: Array<() => void> = [];
  private closed = false;
  private readonly opts: Required<ProducerOptions>;

  constructor(private readonly pool: ConnectionPool, private readonly metadata: MetadataCache, options: ProducerOptions = {}) {
    this.opts = {
      acks: options.acks ?? 'all', lingerMs: options.lingerMs ?? 5, maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 120_000, requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      retryBackoffMs: options.retryBackoffMs ?? 50,
    };
    if (!(this.opts.maxBatchBytes >= 1024)) throw new FerryError('INVALID_REQUEST', 'maxBatchBytes must be at least 1024', false);
  }

  /** Queues one record; resolves once it is acknowledged as `acks` says. */
  async send(topic: string, record: ProducerRecord): Promise<RecordMetadata> {
    if (this.closed) throw new FerryError('CLIENT_CLOSED', 'the producer is closed', false);
    this.queueing += 1;
    let queued = false;
    const markQueued = (): void => {
      if (queued) return;
      queued = true;
      this.queueing -= 1;
      if (this.queueing === 0) for (const w of this.queueingWaiters.splice(0)) w();
    };
    try {
      return await this.enqueue(topic, record, markQueued);
    } finally {
      markQueued();
    }
  }

  /** The topic's metadata, retrying retriable failures (a cluster restarting) within the delivery timeout. */
  private async topicWithin(topic: string, deadline: number): Promise<Awaited<ReturnType<MetadataCache['topic']>>> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.metadata.topic(topic);
      } catch (err) {
        const retriable = err instanceof FerryError && err.retriable;
        if (!retriable || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, Math.min(this.opts.retryBackoffMs * 2 ** attempt, 1_000)));
      }
    }
  }

  private async enqueue(topic: string, record: ProducerRecord, markQueued: () => void): Promise<RecordMetadata> {
    const t = await this.topicWithin(topic, Date.now() + this.opts.deliveryTimeoutMs);
    const key = toBuffer(record.key);
    const partition = record.partition ?? (key ? partitionForKey(key, t.partitions.length) : this.stickyPartition(topic, t.partitions.length));
    if (!Number.isInteger(partition) || partition < 0 || partition >= t.partitions.length) {
      throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" has partitions 0-${t.partitions.length - 1}, not ${partition}`, false);
    }
    const value = toBuffer(record.value);
    const headers = Object.entries(record.headers ?? {}).map(([k, v]) => ({ key: k, value: toBuffer(v) }));
    const input: RecordInput = { key, value, headers, timestamp: record.timestamp ?? Date.now() };
    const size = encodedSizeBound(input);
    return new Promise<RecordMetadata>((resolve, reject) => {
      const q = this.queue(`${topic}/${partition}`);
      q.records.push({ input, resolve, reject });
      markQueued();
      q.bytes += size;
      if (q.bytes >= this.opts.maxBatchBytes) this.drain(topic, partition);
      else q.timer ??= setTimeout(() => this.drain(topic, partition), this.opts.lingerMs);
    });
  }

  private stickyPartition(topic: string, count: number): number {
    let p = this.sticky.get(topic);
    if (p === undefined || p >= count) {
      p = Math.floor(Math.random() * count);
      this.sticky.set(topic, p);
    }
    return p;
  }

  private queue(key: string): PartitionQueue {
    let q = this.queues.get(key);
    if (!q) {
      q = { records: [], bytes: 0, timer: undefined, inFlight: false };
      this.queues.set(key, q);
    }
    return q;
  }

  private drain(topic: string, partition: number): void {
    const q = this.queue(`${topic}/${partition}`);
    if (q.timer) clearTimeout(q.timer);
    q.timer = undefined;
    if (q.inFlight || q.records.length === 0) return;
    // Take records while the batch stays within maxBatchBytes; the rest waits for the next round.
    // A record too big on its own goes alone (and fails alone with MESSAGE_TOO_LARGE).
    let bytes = batchHeaderBytes;
    let n = 0;
    while (n < q.records.length) {
      const size = encodedSizeBound(q.records[n]!.input);
      if (n > 0 && bytes + size > this.opts.maxBatchBytes) break;
      bytes += size;
      n += 1;
    }
    bytes -= batchHeaderBytes;
    const taken = q.records.splice(0, n);
    q.bytes = Math.max(0, q.bytes - bytes);
    if (this.sticky.get(topic) === partition) this.sticky.delete(topic);
    q.inFlight = true;
    const done = this.deliver(topic, partition, taken).finally(() => {
      q.inFlight = false;
      this.inflight.delete(done);
      if (q.records.length > 0) {
        if (q.bytes >= this.opts.maxBatchBytes || this.closed) this.drain(topic, partition);
        else q.timer ??= setTimeout(() => this.drain(topic, partition), this.opts.lingerMs);
      }
    });
    this.inflight.add(done);
  }

  private async deliver(topic: string, partition: number, records: Pending[]): Promise<void> {
    let batch: Buffer;
    try {
      batch = encodeBatch({ records: records.map((r) => r.input) });
    } catch (err) {
      for (const r of records) r.reject(new FerryError('INVALID_REQUEST', `could not encode the batch: ${(err as Error).message}`, false));
      return;
    }
    const started = Date.now();
    const deadline = started + this.opts.deliveryTimeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      let error: FerryError;
      try {
        const address = await this.metadata.leaderAddress(topic, partition);
        const res = await unary<object, ProduceResponse__Output>(this.pool.get(address), 'Produce', {
          acks: acksWire[this.opts.acks], timeoutMs: this.opts.requestTimeoutMs, partitions: [{ topic, partition, batch }],
        }, this.opts.requestTimeoutMs + 1_000);
        this.stats.batchesSent += 1;
        this.stats.recordsSent += records.length;
        this.stats.bytesSent += batch.length;
        const result = res.results[0];
        const err = result ? FerryError.fromWire(result.error, `produce to ${topic}/${partition}`) : new FerryError('INTERNAL', 'empty produce response', true);
        if (!err) {
          const base = result!.baseOffset;
          records.forEach((r, i) => r.resolve({ topic, partition, offset: base < 0 ? -1 : base + i }));
          return;
        }
        error = err;
      } catch (err) {
        error = err instanceof FerryError ? err : new FerryError('INTERNAL', String(err), false);
      }
      this.metadata.learn(topic, partition, error);
      const backoff = Math.min(this.opts.retryBackoffMs * 2 ** attempt, 1_000);
      // A leader that has not applied a just-created topic yet says "unknown": worth a few retries.
      const unknownButYoung = error.code === 'UNKNOWN_TOPIC_OR_PARTITION' && Date.now() < started + unknownTopicGraceMs;
      if ((!error.retriable && !unknownButYoung) || this.closed || Date.now() + backoff > deadline) {
        for (const r of records) r.reject(error);
        return;
      }
      this.stats.retries += 1;
      // A hint is followed at once the first time, then with a growing pause (a node that keeps
      // pointing elsewhere must not be hammered).
      await new Promise((resolve) => setTimeout(resolve, error.leaderHint ? Math.min(attempt * 10, 200) : backoff));
      if (error.code === 'UNKNOWN_TOPIC_OR_PARTITION') await this.metadata.refresh([topic]).catch(() => undefined);
    }
  }

  /** Sends everything queued and waits until every record has its answer. */
  async flush(): Promise<void> {
    while (this.queueing > 0) await new Promise<void>((resolve) => this.queueingWaiters.push(resolve));
    for (;;) {
      for (const [key, q] of this.queues) {
        if (q.records.length === 0) continue;
        const slash = key.lastIndexOf('/');
        this.drain(key.slice(0, slash), Number(key.slice(slash + 1)));
      }
      if (this.inflight.size === 0 && [...this.queues.values()].every((q) => q.records.length === 0)) return;
      await Promise.race(this.inflight);
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}
