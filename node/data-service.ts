/**
 * The data path of the client API: Produce, Fetch, FetchStream and ListOffsets. Handlers find the
 * hosted replica, call it and shape the answer; they never touch Raft directly. Memory is bounded
 * per connection: bytes of produce requests in flight past connectionInflightBytesMax are refused
 * with THROTTLED (retriable), never queued.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isInternalTopic } from '../controller/group-state-topic.js';
import { isLogError, offsetAfterBatches } from '../log/index.js';
import type { FetchPartitionResult } from '../proto/gen/ferry/v1/FetchPartitionResult.js';
import type { FetchRequest__Output } from '../proto/gen/ferry/v1/FetchRequest.js';
import type { FetchResponse } from '../proto/gen/ferry/v1/FetchResponse.js';
import { FetchBufferPool } from './fetch-buffer-pool.js';
import type { FetchStreamRequest__Output } from '../proto/gen/ferry/v1/FetchStreamRequest.js';
import type { FetchStreamResponse } from '../proto/gen/ferry/v1/FetchStreamResponse.js';
import type { ListOffsetsRequest__Output } from '../proto/gen/ferry/v1/ListOffsetsRequest.js';
import type { ListOffsetsResponse } from '../proto/gen/ferry/v1/ListOffsetsResponse.js';
import type { ListOffsetsResult } from '../proto/gen/ferry/v1/ListOffsetsResult.js';
import type { ProducePartitionResult } from '../proto/gen/ferry/v1/ProducePartitionResult.js';
import type { ProduceRequest__Output } from '../proto/gen/ferry/v1/ProduceRequest.js';
import type { ProduceResponse } from '../proto/gen/ferry/v1/ProduceResponse.js';
import {
  connectionInflightBytesMax, fetchBytesDefault, fetchBytesMax, fetchWaitMsMax, produceTimeoutMsDefault, produceTimeoutMsMax,
  requestPartitionsMax,
} from './constants.js';
import type { PartitionReplica, Acks } from './partition-replica.js';
import { noError, toWireError, wireError } from './proto-errors.js';
import { ReplicaError } from './replica-error.js';

/** How the services find replicas; the broker implements it. */
export interface ReplicaDirectory {
  /** The hosted replica, or a ReplicaError (unknown topic, or not hosted here: NOT_LEADER + hint). */
  replica(topic: string, partition: number): PartitionReplica;
  addressOf(nodeId: number): string | undefined;
}

const acksOf: Record<string, Acks> = { ACKS_UNSPECIFIED: 'all', ACKS_ALL: 'all', ACKS_LEADER: 'leader', ACKS_NONE: 'none' };

export class DataService {
  /** What fetch reads land in; the answer encoding (fetch-response-encoding.ts) gives them back. */
  readonly fetchBuffers = new FetchBufferPool();
  private readonly inflightByPeer = new Map<string, number>();
  /** Set at shutdown: streams end and long polls return. */
  private closed = false;

  constructor(
    private readonly dir: ReplicaDirectory,
    private readonly log: Logger,
    /** Produce bytes one connection may have in flight before THROTTLED (promise 5). */
    private readonly inflightBytesMax = connectionInflightBytesMax,
  ) {}

  /** Ends every FetchStream and long poll (node shutdown). */
  close(): void {
    this.closed = true;
  }

  private err(e: unknown) {
    // A damaged range on this replica: retriable (another replica, or this one after repair).
    if (isLogError(e, 'CORRUPT_RANGE')) return wireError('LEADER_NOT_AVAILABLE', `this replica cannot serve that range right now: ${(e as Error).message}`);
    if (!(e instanceof ReplicaError)) this.log.error({ err: e }, 'unexpected error in the data path');
    return toWireError(e, (id) => this.dir.addressOf(id));
  }

  async produce(req: ProduceRequest__Output, peer: string): Promise<ProduceResponse> {
    if (req.partitions.length > requestPartitionsMax) {
      const e = wireError('INVALID_REQUEST', `a produce may carry at most ${requestPartitionsMax} partitions, got ${req.partitions.length}`);
      return { results: req.partitions.map((p) => ({ topic: p.topic, partition: p.partition, error: e, baseOffset: -1, logStartOffset: -1 })) };
    }
    const acks = acksOf[req.acks] ?? 'all';
    const timeoutMs = Math.min(req.timeoutMs || produceTimeoutMsDefault, produceTimeoutMsMax);
    const bytes = req.partitions.reduce((n, p) => n + p.batch.length, 0);
    const inflight = this.inflightByPeer.get(peer) ?? 0;
    if (inflight > 0 && inflight + bytes > this.inflightBytesMax) {
      const e = wireError('THROTTLED', `connection has ${inflight} produce bytes in flight (limit ${this.inflightBytesMax}); retry after a back-off`);
      return { results: req.partitions.map((p) => ({ topic: p.topic, partition: p.partition, error: e, baseOffset: -1, logStartOffset: -1 })) };
    }
    this.inflightByPeer.set(peer, inflight + bytes);
    try {
      const results = await Promise.all(req.partitions.map(async (p): Promise<ProducePartitionResult> => {
        try {
          if (isInternalTopic(p.topic)) throw new ReplicaError('INVALID_REQUEST', `topic "${p.topic}" is internal: only its coordinators write to it`);
          const replica = this.dir.replica(p.topic, p.partition);
          const baseOffset = await replica.produce(p.batch, acks, timeoutMs);
          return { topic: p.topic, partition: p.partition, error: noError, baseOffset, logStartOffset: replica.logStartOffset };
        } catch (e) {
          return { topic: p.topic, partition: p.partition, error: this.err(e), baseOffset: -1, logStartOffset: -1 };
        }
      }));
      return { results };
    } finally {
      const left = (this.inflightByPeer.get(peer) ?? bytes) - bytes;
      if (left <= 0) this.inflightByPeer.delete(peer);
      else this.inflightByPeer.set(peer, left);
    }
  }

  private readOne(topic: string, partition: number, offset: number, maxBytes: number): FetchPartitionResult {
    try {
      const r = this.dir.replica(topic, partition).read(offset, maxBytes, this.fetchBuffers.take);
      return { topic, partition, error: noError, highWatermark: r.highWatermark, logStartOffset: r.logStartOffset, records: r.records };
    } catch (e) {
      return { topic, partition, error: this.err(e), highWatermark: -1, logStartOffset: -1, records: Buffer.alloc(0) };
    }
  }

  async fetch(req: FetchRequest__Output, cancelled: () => boolean): Promise<FetchResponse> {
    if (req.partitions.length > requestPartitionsMax) {
      const e = wireError('INVALID_REQUEST', `a fetch may name at most ${requestPartitionsMax} partitions, got ${req.partitions.length}`);
      return { results: req.partitions.map((p) => ({ topic: p.topic, partition: p.partition, error: e, highWatermark: -1, logStartOffset: -1 })) };
    }
    const maxWaitMs = Math.min(req.maxWaitMs, fetchWaitMsMax);
    const deadline = Date.now() + maxWaitMs;
    const minBytes = Math.max(1, req.minBytes);
    for (;;) {
      let budget = Math.min(req.maxBytes || fetchBytesMax, fetchBytesMax);
      const results = req.partitions.map((p) => {
        const r = this.readOne(p.topic, p.partition, p.fetchOffset, Math.max(1, Math.min(p.maxBytes || fetchBytesDefault, budget)));
        budget = Math.max(0, budget - (r.records as Buffer | undefined ?? Buffer.alloc(0)).length);
        return r;
      });
      const got = results.reduce((n, r) => n + ((r.records as Buffer | undefined)?.length ?? 0), 0);
      const anyError = results.some((r) => r.error?.code !== 'ERROR_CODE_NONE');
      const remaining = deadline - Date.now();
      if (got >= minBytes || anyError || remaining <= 0 || cancelled() || this.closed) return { results };
      for (const r of results) this.fetchBuffers.give(r.records as Buffer);
      await this.waitForAny(req.partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.fetchOffset })), remaining);
    }
  }

  /** Resolves when any named partition's high watermark passes its offset, or after `ms`. */
  private async waitForAny(wanted: Array<{ topic: string; partition: number; offset: number }>, ms: number): Promise<void> {
    const waits = wanted.flatMap((w) => {
      try {
        return [this.dir.replica(w.topic, w.partition).waitForData(w.offset)];
      } catch {
        return [];
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    await Promise.race([timeout, ...waits.map((w) => w.ready)]);
    clearTimeout(timer);
    for (const w of waits) w.cancel();
  }

  /** Pushes committed batches of one partition until the client cancels or an error occurs. */
  async fetchStream(call: grpc.ServerWritableStream<FetchStreamRequest__Output, FetchStreamResponse>): Promise<void> {
    const { topic, partition } = call.request;
    let offset = call.request.startOffset;
    const maxBytes = Math.min(call.request.maxBytes || fetchBytesDefault, fetchBytesMax);
    let cancelled = false;
    call.on('cancelled', () => {
      cancelled = true;
    });
    while (!cancelled && !this.closed) {
      const r = this.readOne(topic, partition, offset, maxBytes);
      const records = r.records as Buffer;
      if (r.error?.code !== 'ERROR_CODE_NONE' || records.length > 0) {
        const failed = r.error?.code !== 'ERROR_CODE_NONE';
        offset = offsetAfterBatches(records, offset); // before write(): encoding gives the buffer back
        const ok = call.write({ result: r });
        if (failed) break;
        if (!ok) {
          // Wait for the client to drain, but not past a cancel or shutdown (no leak, no hang).
          await new Promise<void>((resolve) => {
            const done = (): void => {
              call.off('drain', done);
              call.off('cancelled', done);
              clearInterval(poll);
              resolve();
            };
            const poll = setInterval(() => this.closed && done(), 200);
            call.once('drain', done);
            call.once('cancelled', done);
          });
        }
        continue;
      }
      await this.waitForAny([{ topic, partition, offset }], 1_000);
    }
    call.end();
  }

  listOffsets(req: ListOffsetsRequest__Output): ListOffsetsResponse {
    const results = req.partitions.slice(0, requestPartitionsMax).map((p): ListOffsetsResult => {
      try {
        const replica = this.dir.replica(p.topic, p.partition);
        const hw = replica.hw;
        switch (p.spec) {
          case 'OFFSET_SPEC_EARLIEST':
            return { topic: p.topic, partition: p.partition, error: noError, offset: replica.logStartOffset, timestampMs: -1 };
          case 'OFFSET_SPEC_LATEST':
            return { topic: p.topic, partition: p.partition, error: noError, offset: hw, timestampMs: -1 };
          case 'OFFSET_SPEC_TIMESTAMP': {
            const found = replica.log.offsetForTimestamp(p.timestampMs);
            const offset = found === null || found >= hw ? hw : found;
            return { topic: p.topic, partition: p.partition, error: noError, offset, timestampMs: offset === hw ? -1 : p.timestampMs };
          }
          default:
            throw new ReplicaError('INVALID_REQUEST', `list offsets needs a spec (EARLIEST, LATEST or TIMESTAMP), got ${p.spec}`);
        }
      } catch (e) {
        return { topic: p.topic, partition: p.partition, error: this.err(e), offset: -1, timestampMs: -1 };
      }
    });
    return { results };
  }
}
