/**
 * The producer: records accumulate per partition and leave as one RecordBatch v2 when the batch
 * reaches maxBatchBytes or lingerMs passes. Keyed records pick their partition with Kafka's
 * murmur2; unkeyed ones stick to one partition until its batch fills (Kafka's sticky partitioner).
 * Retriable errors are retried with capped exponential back-off, following NOT_LEADER hints, until
 * the delivery timeout; each record's promise resolves to its offset.
 *
 * Idempotent by default (with acks "all", as Kafka since 3.0): the producer takes an id from the
 * cluster and numbers each partition's batches with sequences, so a retry of a batch that was in
 * fact written (a lost answer, a leader killed after the append) is answered with the original
 * offsets instead of being written twice. That makes it safe to keep up to 5 batches in flight
 * per partition. Once any of them fails, no new batch leaves until the window is settled: the
 * unsettled ones are re-sent one at a time, in order, with their original bytes. A batch that
 * fails for good leaves a hole in the sequence; the partition then moves to a new epoch (its
 * sequences start again at 0) and the batches behind it are renumbered — they cannot have been
 * written, because a partition only appends sequences in order.
 * Without idempotence one batch is in flight per partition, so retries never reorder it, but a
 * retry after a lost answer can write the batch twice.
 */
import { encodeBatch, type RecordInput } from '../log/index.js';
import type { Acks } from '../proto/gen/ferry/v1/Acks.js';
import type { InitProducerIdResponse__Output } from '../proto/gen/ferry/v1/InitProducerIdResponse.js';
import type { ProduceResponse__Output } from '../proto/gen/ferry/v1/ProduceResponse.js';
import type { ConnectionPool } from './connection-pool.js';
import { unary } from './connection-pool.js';
import { FerryError } from './errors.js';
import type { MetadataCache, TopicView } from './metadata-cache.js';
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
  /**
   * Retries never duplicate or reorder records (default true with acks "all"; it needs acks "all",
   * so with another acks it defaults to false and true is refused).
   */
  readonly idempotent?: boolean;
  /** Batches in flight per partition when idempotent: 1-5 (default 5). Always 1 otherwise. */
  readonly maxInFlightPerPartition?: number;
}

interface Pending {
  readonly input: RecordInput;
  readonly resolve: (m: RecordMetadata) => void;
  readonly reject: (e: Error) => void;
}

/** A batch handed to the cluster, until every record of it has its answer. */
interface SentBatch {
  readonly records: Pending[];
  batch: Buffer;
  /** Idempotent: the sequence of its first record and the epoch it was numbered in. */
  firstSequence: number;
  readonly started: number;
  /** 'sending': a first attempt is out; 'unsettled': it failed and awaits the in-order resend. */
  state: 'sending' | 'unsettled' | 'done';
  lastError: FerryError | undefined;
}

interface PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  records: Pending[];
  bytes: number;
  /** Cancels the pending linger wake-up (a timer, or an immediate when lingerMs is 0). */
  cancelLinger: (() => void) | undefined;
  /** Batches sent and not yet settled, in sequence order. */
  window: SentBatch[];
  /** Set once a batch of the window failed: nothing new leaves until the window is settled. */
  settling: boolean;
  /** Idempotent numbering of this partition: producer id, epoch and the next sequence. */
  producerId: number;
  epoch: number;
  nextSequence: number;
}

const acksWire: Record<NonNullable<ProducerOptions['acks']>, Acks> = { all: 'ACKS_ALL', leader: 'ACKS_LEADER', none: 'ACKS_NONE' };
/** How long a batch keeps retrying UNKNOWN_TOPIC_OR_PARTITION (metadata of a new topic spreading). */
const unknownTopicGraceMs = 5_000;
/** RecordBatch v2 header up to the record count. */
const batchHeaderBytes = 61;
/** Batches a partition remembers per producer (node/producer-state.ts): the in-flight ceiling. */
const idempotentInFlightMax = 5;
/** RecordBatch v2 producer epochs are int16; past the last one the producer takes a new id. */
const producerEpochMax = 32_767;
/** PartitionQueue.producerId before the cluster gave one, and while asking for it. */
const noProducerId = -1;
const askingForProducerId = -2;
/** Sequences are non-negative int32 and wrap after the maximum. */
const sequenceModulus = 2 ** 31;
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

const noHeaders: RecordInput['headers'] = [];

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
  /** Retries by the error code that caused them. */
  retriesByCode: Record<string, number>;
}

export class Producer {
  readonly stats: ProducerStats = { batchesSent: 0, recordsSent: 0, bytesSent: 0, retries: 0, retriesByCode: {} };
  private readonly queues = new Map<string, PartitionQueue>();
  private readonly sticky = new Map<string, number>();
  private readonly inflight = new Set<Promise<void>>();
  /**
   * Per topic: the lookup its waiting sends share, and how many still wait on it (an entry goes
   * when none does, so flush() waits until the map is empty).
   */
  private readonly waitingFor = new Map<string, { readonly lookup: Promise<TopicView>; waiting: number }>();
  private queueingWaiters: Array<() => void> = [];
  private closed = false;
  private readonly opts: Required<ProducerOptions>;
  /** The producer id, once the cluster gave one (idempotent only). */
  private identity: Promise<number> | undefined;

  constructor(private readonly pool: ConnectionPool, private readonly metadata: MetadataCache, options: ProducerOptions = {}) {
    const acks = options.acks ?? 'all';
    if (options.idempotent === true && acks !== 'all') {
      throw new FerryError('INVALID_REQUEST', `an idempotent producer needs acks "all", not "${acks}" (or set idempotent: false)`, false);
    }
    const idempotent = options.idempotent ?? acks === 'all';
    this.opts = {
      acks, lingerMs: options.lingerMs ?? 5, maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 120_000, requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      retryBackoffMs: options.retryBackoffMs ?? 50, idempotent,
      maxInFlightPerPartition: options.maxInFlightPerPartition ?? (idempotent ? idempotentInFlightMax : 1),
    };
    if (!(this.opts.maxBatchBytes >= 1024)) throw new FerryError('INVALID_REQUEST', 'maxBatchBytes must be at least 1024', false);
    const inFlight = this.opts.maxInFlightPerPartition;
    if (!(Number.isInteger(inFlight) && inFlight >= 1 && inFlight <= (idempotent ? idempotentInFlightMax : 1))) {
      throw new FerryError('INVALID_REQUEST', idempotent
        ? `maxInFlightPerPartition must be 1-${idempotentInFlightMax} (a partition remembers the last ${idempotentInFlightMax} batches of a producer), not ${inFlight}`
        : 'maxInFlightPerPartition above 1 needs idempotent: true (retries would reorder records)', false);
    }
  }

  /** Whether retries are deduplicated (see the options). */
  get idempotent(): boolean {
    return this.opts.idempotent;
  }

  /** Queues one record; resolves once it is acknowledged as `acks` says. */
  send(topic: string, record: ProducerRecord): Promise<RecordMetadata> {
    if (this.closed) return Promise.reject(new FerryError('CLIENT_CLOSED', 'the producer is closed', false));
    // The common case, the topic's metadata at hand, queues at once: one promise per record, not
    // a chain of async calls (at tens of thousands of records a second their garbage shows).
    // Only while no earlier send to the topic still waits for metadata: records keep their order.
    const known = this.waitingFor.has(topic) ? undefined : this.metadata.knownTopic(topic);
    if (known) {
      try {
        return this.enqueueTo(topic, known.partitions.length, record);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.sendAfterMetadata(topic, record);
  }

  /**
   * send() when the topic's metadata must be fetched first. The sends waiting for one topic share
   * one lookup and resume in send order (a promise's reactions run in the order they were
   * registered, also once it has settled), so they queue in send order and fail together; other
   * topics are not held up. flush() waits for them too.
   */
  private async sendAfterMetadata(topic: string, record: ProducerRecord): Promise<RecordMetadata> {
    let w = this.waitingFor.get(topic);
    if (!w) {
      w = { lookup: this.topicWithin(topic, Date.now() + this.opts.deliveryTimeoutMs), waiting: 0 };
      this.waitingFor.set(topic, w);
    }
    w.waiting += 1;
    try {
      const t = await w.lookup;
      return this.enqueueTo(topic, t.partitions.length, record); // queued now; resolves on the ack
    } finally {
      w.waiting -= 1;
      if (w.waiting === 0) this.waitingFor.delete(topic);
      if (this.waitingFor.size === 0) for (const resolve of this.queueingWaiters.splice(0)) resolve();
    }
  }

  /** The topic's metadata, retrying retriable failures (a cluster restarting) within the delivery timeout. */
  private async topicWithin(topic: string, deadline: number): Promise<TopicView> {
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

  /** Queues a record for a topic of `partitions` partitions; throws (synchronously) on bad input. */
  private enqueueTo(topic: string, partitions: number, record: ProducerRecord): Promise<RecordMetadata> {
    const key = toBuffer(record.key);
    const partition = record.partition ?? (key ? partitionForKey(key, partitions) : this.stickyPartition(topic, partitions));
    if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
      throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" has partitions 0-${partitions - 1}, not ${partition}`, false);
    }
    const value = toBuffer(record.value);
    const headers = record.headers === undefined ? noHeaders : Object.entries(record.headers).map(([k, v]) => ({ key: k, value: toBuffer(v) }));
    const input: RecordInput = { key, value, headers, timestamp: record.timestamp ?? Date.now() };
    const size = encodedSizeBound(input);
    return new Promise<RecordMetadata>((resolve, reject) => {
      const q = this.queue(topic, partition);
      q.records.push({ input, resolve, reject });
      q.bytes += size;
      if (q.bytes >= this.opts.maxBatchBytes) {
        // A full batch's worth is queued: unkeyed records move on to another partition now, even
        // if this one cannot send yet (its producer id is still on the way, or its window is full).
        if (record.partition === undefined && !key && this.sticky.get(topic) === partition) this.sticky.delete(topic);
        this.drain(q);
      }
      else this.lingerThenDrain(q);
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

  private queue(topic: string, partition: number): PartitionQueue {
    const key = `${topic}/${partition}`;
    let q = this.queues.get(key);
    if (!q) {
      q = { topic, partition, records: [], bytes: 0, cancelLinger: undefined, window: [], settling: false, producerId: noProducerId, epoch: -1, nextSequence: 0 };
      this.queues.set(key, q);
    }
    return q;
  }

  /** Keeps `work` where flush() can wait for it; then lets the partition send more. */
  private track(q: PartitionQueue, work: Promise<void>): void {
    const done = work.finally(() => {
      this.inflight.delete(done);
      if (q.records.length > 0) {
        if (q.bytes >= this.opts.maxBatchBytes || this.closed) this.drain(q);
        else this.lingerThenDrain(q);
      }
    });
    this.inflight.add(done);
  }

  /**
   * Drains the queue once lingerMs has passed. lingerMs 0 means "this turn of the event loop":
   * records sent in one synchronous run still share a batch, without the ≥1 ms a zero timer costs.
   */
  private lingerThenDrain(q: PartitionQueue): void {
    if (q.cancelLinger) return;
    if (this.opts.lingerMs === 0) {
      const immediate = setImmediate(() => this.drain(q));
      q.cancelLinger = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(() => this.drain(q), this.opts.lingerMs);
      q.cancelLinger = () => clearTimeout(timer);
    }
  }

  private drain(q: PartitionQueue): void {
    q.cancelLinger?.();
    q.cancelLinger = undefined;
    if (q.settling || q.records.length === 0 || q.window.length >= this.opts.maxInFlightPerPartition) return;
    if (this.opts.idempotent && q.producerId < 0) {
      if (q.producerId === noProducerId) this.track(q, this.takeProducerId(q));
      return;
    }
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
    if (this.sticky.get(q.topic) === q.partition) this.sticky.delete(q.topic);
    const sent: SentBatch = { records: taken, batch: Buffer.alloc(0), firstSequence: -1, started: Date.now(), state: 'sending', lastError: undefined };
    try {
      this.number(q, sent);
    } catch (err) {
      for (const r of taken) r.reject(new FerryError('INVALID_REQUEST', `could not encode the batch: ${(err as Error).message}`, false));
      return;
    }
    q.window.push(sent);
    this.track(q, this.firstAttempt(q, sent));
    this.drain(q); // more batches may leave at once (idempotent window)
  }

  /** The producer's id from the cluster, asked once and shared by every partition. */
  private async takeProducerId(q: PartitionQueue): Promise<void> {
    q.producerId = askingForProducerId;
    try {
      this.identity ??= this.initProducerId();
      q.producerId = await this.identity;
      q.epoch = 0;
      q.nextSequence = 0;
    } catch (err) {
      this.identity = undefined;
      q.producerId = noProducerId;
      const error = FerryError.from(err);
      for (const r of q.records.splice(0)) r.reject(error);
      q.bytes = 0;
    }
  }

  /** A new producer id, retrying retriable failures for up to the delivery timeout. */
  private async initProducerId(): Promise<number> {
    const deadline = Date.now() + this.opts.deliveryTimeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      let error: FerryError;
      try {
        const res = await unary<object, InitProducerIdResponse__Output>(this.pool.get(this.metadata.anyAddress()), 'InitProducerId',
          { timeoutMs: this.opts.requestTimeoutMs }, this.opts.requestTimeoutMs + 1_000);
        const err = FerryError.fromWire(res.error, 'init producer id');
        if (!err) return res.producerId;
        error = err;
      } catch (err) {
        error = FerryError.from(err);
      }
      const backoff = Math.min(this.opts.retryBackoffMs * 2 ** attempt, 1_000);
      if (!error.retriable || this.closed || Date.now() + backoff > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }

  /** Encodes the batch with the partition's next sequences (idempotent) or none. */
  private number(q: PartitionQueue, b: SentBatch): void {
    const records = b.records.map((r) => r.input);
    if (!this.opts.idempotent) {
      b.batch = encodeBatch({ records });
      return;
    }
    b.batch = encodeBatch({ records, producerId: q.producerId, producerEpoch: q.epoch, baseSequence: q.nextSequence });
    b.firstSequence = q.nextSequence;
    q.nextSequence = (q.nextSequence + records.length) % sequenceModulus;
  }

  /**
   * The partition's sequence has a hole (a batch failed for good) or the partition lost track of
   * this producer: continue in a new epoch from sequence 0, renumbering the window from `from` on.
   * Only called while nothing of the partition is in flight.
   */
  private async newEpoch(q: PartitionQueue, from: number): Promise<void> {
    if (q.epoch >= producerEpochMax) {
      q.producerId = await this.initProducerId();
      q.epoch = 0;
    } else {
      q.epoch += 1;
    }
    q.nextSequence = 0;
    for (const b of q.window.slice(from)) this.number(q, b);
  }

  /** The first send of a batch, possibly alongside others of the window. */
  private async firstAttempt(q: PartitionQueue, b: SentBatch): Promise<void> {
    b.lastError = await this.attempt(q, b);
    if (b.lastError) {
      b.state = 'unsettled';
      q.settling = true;
    } else {
      b.state = 'done';
    }
    q.window = q.window.filter((x) => x.state !== 'done');
    // The last answer of the window to arrive settles the failed ones, in order.
    if (q.settling && q.window.every((x) => x.state !== 'sending')) await this.settle(q);
  }

  private async settle(q: PartitionQueue): Promise<void> {
    try {
      while (q.window.length > 0) {
        await this.settleBatch(q, q.window[0]!);
        q.window.shift();
      }
    } catch (err) {
      // No new producer id could be had: nothing behind can be sent in order.
      const error = FerryError.from(err);
      for (const b of q.window.splice(0)) for (const r of b.records) r.reject(error);
    } finally {
      q.settling = false;
    }
  }

  /** Re-sends a failed batch alone until it is written, or fails it for good. */
  private async settleBatch(q: PartitionQueue, b: SentBatch): Promise<void> {
    if (b.state === 'done') return;
    const deadline = b.started + this.opts.deliveryTimeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      const error = b.lastError;
      if (!error) return;
      const backoff = Math.min(this.opts.retryBackoffMs * 2 ** attempt, 1_000);
      // Everything before `b` is settled, so the partition is not missing an earlier batch: it
      // lost this producer's state (or `b` follows a hole). `b` is not in the log: renumber it.
      const renumber = this.opts.idempotent && (error.code === 'OUT_OF_ORDER_SEQUENCE' || error.code === 'UNKNOWN_PRODUCER_ID');
      // A leader that has not applied a just-created topic yet says "unknown": worth a few retries.
      const unknownButYoung = error.code === 'UNKNOWN_TOPIC_OR_PARTITION' && Date.now() < b.started + unknownTopicGraceMs;
      if ((!error.retriable && !unknownButYoung && !renumber) || this.closed || Date.now() + backoff > deadline) {
        for (const r of b.records) r.reject(error);
        if (this.opts.idempotent) await this.newEpoch(q, 1);
        return;
      }
      this.stats.retries += 1;
      this.stats.retriesByCode[error.code] = (this.stats.retriesByCode[error.code] ?? 0) + 1;
      if (renumber) {
        await this.newEpoch(q, 0);
      } else {
        // A hint is followed at once the first time, then with a growing pause (a node that keeps
        // pointing elsewhere must not be hammered).
        await new Promise((resolve) => setTimeout(resolve, error.leaderHint ? Math.min(attempt * 10, 200) : backoff));
      }
      if (error.code === 'UNKNOWN_TOPIC_OR_PARTITION') await this.metadata.refresh([q.topic]).catch(() => undefined);
      b.lastError = await this.attempt(q, b);
    }
  }

  /** One produce request for the batch: resolves its records on success, else returns the error. */
  private async attempt(q: PartitionQueue, b: SentBatch): Promise<FerryError | undefined> {
    const { topic, partition } = q;
    let error: FerryError;
    try {
      const address = await this.metadata.leaderAddress(topic, partition);
      const res = await unary<object, ProduceResponse__Output>(this.pool.get(address), 'Produce', {
        acks: acksWire[this.opts.acks], timeoutMs: this.opts.requestTimeoutMs, partitions: [{ topic, partition, batch: b.batch }],
      }, this.opts.requestTimeoutMs + 1_000);
      this.stats.batchesSent += 1;
      this.stats.recordsSent += b.records.length;
      this.stats.bytesSent += b.batch.length;
      const result = res.results[0];
      const err = result ? FerryError.fromWire(result.error, `produce to ${topic}/${partition}`) : new FerryError('INTERNAL', 'empty produce response', true);
      if (!err) {
        const base = result!.baseOffset;
        b.records.forEach((r, i) => r.resolve({ topic, partition, offset: base < 0 ? -1 : base + i }));
        b.state = 'done';
        return undefined;
      }
      error = err;
    } catch (err) {
      error = FerryError.from(err);
    }
    this.metadata.learn(topic, partition, error);
    return error;
  }

  /** Sends everything queued and waits until every record has its answer. */
  async flush(): Promise<void> {
    while (this.waitingFor.size > 0) await new Promise<void>((resolve) => this.queueingWaiters.push(resolve));
    for (;;) {
      for (const q of this.queues.values()) if (q.records.length > 0) this.drain(q);
      if (this.inflight.size === 0 && [...this.queues.values()].every((q) => q.records.length === 0)) return;
      await Promise.race(this.inflight);
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}
