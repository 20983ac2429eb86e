/**
 * Reads assigned partitions of a topic as an async iterator of records. Each partition has a
 * fetch loop that long-polls its leader and pushes decoded records into one bounded buffer; the
 * iterator pulls from it, so a slow reader pushes back on the fetchers instead of growing memory.
 * Control batches (Raft no-ops, membership changes) are skipped, as Kafka clients skip them,
 * and so are records below the position (a fetch may start inside a batch).
 */
import { forEachRecord, readBatchHeader, type RecordHeader } from '../log/index.js';
import type { FetchResponse__Output } from '../proto/gen/ferry/v1/FetchResponse.js';
import type { ListOffsetsResponse__Output } from '../proto/gen/ferry/v1/ListOffsetsResponse.js';
import type { OffsetSpec } from '../proto/gen/ferry/v1/OffsetSpec.js';
import { type ConnectionPool, unary } from './connection-pool.js';
import { FerryError } from './errors.js';
import type { MetadataCache } from './metadata-cache.js';

export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer | null>>;
}

/** Where to start: the earliest or latest offset, an explicit offset, or a timestamp (ms). */
export type StartPosition = 'earliest' | 'latest' | { readonly offset: number } | { readonly timestamp: number };

/** The headers of every record that has none (shared: records are read-only). */
const noHeaders: Readonly<Record<string, Buffer | null>> = Object.freeze({});

function headerMap(headers: readonly RecordHeader[]): Record<string, Buffer | null> {
  const out: Record<string, Buffer | null> = {};
  for (const h of headers) out[h.key] = h.value;
  return out;
}

/** How long a fetch keeps retrying UNKNOWN_TOPIC_OR_PARTITION (a partition still opening on its leader). */
const unknownPartitionGraceMs = 5_000;

export interface ConsumerOptions {
  readonly topic: string;
  /** Partitions to read; default all. */
  readonly partitions?: readonly number[];
  readonly from?: StartPosition;
  /** What to do when the position falls outside the log (retention): default "earliest". */
  readonly autoOffsetReset?: 'earliest' | 'latest' | 'error';
  /** Long-poll wait per fetch (default 500 ms) and bytes per partition per fetch (default 1 MiB). */
  readonly maxWaitMs?: number;
  readonly maxBytes?: number;
  /** Records buffered ahead of the reader (default 10,000). */
  readonly bufferRecords?: number;
  readonly requestTimeoutMs?: number;
  /** Told whenever fetched records were buffered (a group consumer polls several consumers). */
  readonly onRecords?: () => void;
}

export class Consumer implements AsyncIterable<ConsumedRecord> {
  private readonly buffer: ConsumedRecord[] = [];
  /** Next offset to fetch, per partition (runs ahead of what the reader has seen). */
  private readonly positions = new Map<number, number>();
  /** Next offset the reader will get, per partition. */
  private readonly consumed = new Map<number, number>();
  private wakeReader: (() => void) | undefined;
  private wakeFetchers: Array<() => void> = [];
  private failure: Error | undefined;
  private closed = false;
  private started: Promise<void> | undefined;
  /** Positions given by seek(), which win over `from` when start() runs after them. */
  private readonly seeks = new Map<number, number>();
  /** The running fetch loop of each partition; a loop whose token is no longer here stops. */
  private readonly loops = new Map<number, symbol>();

  constructor(private readonly pool: ConnectionPool, private readonly metadata: MetadataCache, private readonly opts: ConsumerOptions) {}

  /** The next offset this consumer will return for each partition. */
  position(partition: number): number | undefined {
    // With nothing of the partition buffered, the fetch position is the truth: it has moved
    // past control batches that yield no record.
    if (!this.buffer.some((r) => r.partition === partition)) return this.positions.get(partition);
    return this.consumed.get(partition) ?? this.positions.get(partition);
  }

  /** Moves a partition's position; records already buffered for it are dropped. */
  seek(partition: number, offset: number): void {
    if (!Number.isInteger(offset) || offset < 0) throw new FerryError('INVALID_REQUEST', `offset must be an integer >= 0, got ${offset}`, false);
    this.seeks.set(partition, offset); // remembered so a start() that has not run yet keeps it
    this.positions.set(partition, offset);
    this.consumed.set(partition, offset);
    this.dropBuffered(partition);
  }

  private async start(): Promise<void> {
    const t = await this.metadata.topic(this.opts.topic);
    const partitions = this.opts.partitions ?? t.partitions.map((p) => p.partition);
    for (const p of partitions) {
      if (!t.partitions[p]) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${this.opts.topic}" has no partition ${p}`, false);
    }
    const from = this.opts.from ?? 'earliest';
    for (const p of partitions) {
      const position = typeof from === 'object' && 'offset' in from ? from.offset : await this.lookup(p, from);
      if (!this.seeks.has(p)) this.positions.set(p, position);
    }
    for (const p of partitions) this.startLoop(p);
  }

  private startLoop(partition: number): void {
    const token = Symbol(`fetch ${this.opts.topic}/${partition}`);
    this.loops.set(partition, token);
    void this.fetchLoop(partition, token);
  }

  /**
   * Starts reading a partition at `offset` (a group consumer's newly assigned partition).
   * Records of a previous assignment of it are dropped.
   */
  assign(partition: number, offset: number): void {
    this.seek(partition, offset);
    this.startLoop(partition);
  }

  /** Stops reading a partition (revoked); its buffered records are dropped. */
  unassign(partition: number): void {
    this.loops.delete(partition);
    this.positions.delete(partition);
    this.consumed.delete(partition);
    this.seeks.delete(partition);
    this.dropBuffered(partition);
  }

  private dropBuffered(partition: number): void {
    for (let i = this.buffer.length - 1; i >= 0; i -= 1) if (this.buffer[i]!.partition === partition) this.buffer.splice(i, 1);
    // Fetchers parked on a full buffer must see the room just made.
    for (const w of this.wakeFetchers.splice(0)) w();
  }

  /**
   * Whether `e` is UNKNOWN_TOPIC_OR_PARTITION for a partition that may still be opening on its
   * leader (a new topic, or one just grown): true within the grace since `sinceMs`, after asking
   * for fresh metadata so the retry goes where the partition now is.
   */
  private async stillOpening(e: FerryError, sinceMs: number): Promise<boolean> {
    if (e.code !== 'UNKNOWN_TOPIC_OR_PARTITION' || Date.now() - sinceMs >= unknownPartitionGraceMs) return false;
    await this.metadata.refresh([this.opts.topic]).catch(() => undefined);
    return true;
  }

  /** Resolves a start position through ListOffsets on the partition's leader. */
  async lookup(partition: number, where: 'earliest' | 'latest' | { readonly timestamp: number }): Promise<number> {
    const spec: OffsetSpec = where === 'earliest' ? 'OFFSET_SPEC_EARLIEST' : where === 'latest' ? 'OFFSET_SPEC_LATEST' : 'OFFSET_SPEC_TIMESTAMP';
    const timestampMs = typeof where === 'object' ? where.timestamp : -1;
    const started = Date.now();
    for (let attempt = 0; ; attempt += 1) {
      try {
        const address = await this.metadata.leaderAddress(this.opts.topic, partition);
        const res = await unary<object, ListOffsetsResponse__Output>(this.pool.get(address), 'ListOffsets',
          { partitions: [{ topic: this.opts.topic, partition, spec, timestampMs }] }, this.opts.requestTimeoutMs ?? 10_000);
        const r = res.results[0]!;
        const err = FerryError.fromWire(r.error, `list offsets ${this.opts.topic}/${partition}`);
        if (!err) return r.offset;
        throw err;
      } catch (err) {
        const e = FerryError.from(err);
        this.metadata.learn(this.opts.topic, partition, e);
        const youngUnknown = await this.stillOpening(e, started);
        if ((!e.retriable && !youngUnknown) || attempt >= 20 || this.closed) throw e;
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1_000)));
      }
    }
  }

  private async fetchLoop(partition: number, token: symbol): Promise<void> {
    const cap = this.opts.bufferRecords ?? 10_000;
    let attempt = 0;
    let unknownSince: number | undefined;
    while (!this.closed && this.loops.get(partition) === token) {
      if (this.buffer.length >= cap) {
        await new Promise<void>((r) => this.wakeFetchers.push(r));
        continue;
      }
      const offset = this.positions.get(partition)!;
      try {
        const address = await this.metadata.leaderAddress(this.opts.topic, partition);
        const maxWaitMs = this.opts.maxWaitMs ?? 500;
        const res = await unary<object, FetchResponse__Output>(this.pool.get(address), 'Fetch', {
          maxWaitMs, minBytes: 1, partitions: [{ topic: this.opts.topic, partition, fetchOffset: offset, maxBytes: this.opts.maxBytes ?? 1024 * 1024 }],
        }, maxWaitMs + (this.opts.requestTimeoutMs ?? 10_000));
        const r = res.results[0]!;
        const err = FerryError.fromWire(r.error, `fetch ${this.opts.topic}/${partition} at ${offset}`);
        if (err) throw err;
        attempt = 0;
        unknownSince = undefined;
        // seek() moved it meanwhile, or it was unassigned (and maybe assigned again to a new loop)
        if (this.loops.get(partition) !== token || this.positions.get(partition) !== offset) continue;
        this.absorb(partition, offset, r.records);
      } catch (err) {
        const e = FerryError.from(err);
        const policy = this.opts.autoOffsetReset ?? 'earliest';
        if (e.code === 'OFFSET_OUT_OF_RANGE' && policy !== 'error') {
          const reset = await this.lookup(partition, policy).catch(() => offset);
          // A seek() while the fetch was out wins over the reset.
          if (this.positions.get(partition) === offset) this.positions.set(partition, reset);
          continue;
        }
        this.metadata.learn(this.opts.topic, partition, e);
        unknownSince = e.code === 'UNKNOWN_TOPIC_OR_PARTITION' ? unknownSince ?? Date.now() : undefined;
        if (!e.retriable && !(await this.stillOpening(e, unknownSince ?? Date.now()))) {
          this.fail(e);
          return;
        }
        attempt += 1;
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1_000)));
      }
    }
  }

  private absorb(partition: number, from: number, records: Buffer): void {
    const topic = this.opts.topic;
    let next = from;
    for (let pos = 0; pos < records.length;) {
      const h = readBatchHeader(records, pos);
      const bytes = records.subarray(pos, pos + h.sizeBytes);
      pos += h.sizeBytes;
      if (h.lastOffset < next) continue;
      if (!h.isControl) {
        forEachRecord(bytes, next, (offset, timestamp, key, value, headers) => {
          this.buffer.push({ topic, partition, offset, timestamp, key, value, headers: headers.length === 0 ? noHeaders : headerMap(headers) });
        });
      }
      next = h.lastOffset + 1;
    }
    this.positions.set(partition, next);
    this.wakeReader?.();
    this.opts.onRecords?.();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wakeReader?.();
  }

  /**
   * Up to `maxRecords` buffered records, waiting at most `maxWaitMs` for the first one (Kafka's
   * poll). Returns [] on timeout; throws a non-retriable fetch error.
   */
  async poll(maxWaitMs: number, maxRecords = 500): Promise<ConsumedRecord[]> {
    this.started ??= this.start();
    await this.started;
    if (this.buffer.length === 0 && !this.failure && !this.closed) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wakeReader = resolve;
        timer = setTimeout(resolve, maxWaitMs);
      });
      clearTimeout(timer);
      this.wakeReader = undefined;
    }
    if (this.buffer.length === 0 && this.failure) throw this.failure;
    const out = this.buffer.splice(0, maxRecords);
    // The last record of each run of one partition is enough (runs are a whole fetch long).
    for (let i = 0; i < out.length; i++) {
      const r = out[i]!;
      if (out[i + 1]?.partition !== r.partition) this.consumed.set(r.partition, r.offset + 1);
    }
    if (out.length > 0) for (const w of this.wakeFetchers.splice(0)) w();
    return out;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ConsumedRecord> {
    while (!this.closed) {
      for (const r of await this.poll(1_000)) yield r;
    }
  }

  close(): void {
    this.closed = true;
    this.wakeReader?.();
    for (const w of this.wakeFetchers.splice(0)) w();
  }
}
