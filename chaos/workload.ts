/**
 * Producers for a chaos run: each sends unique values ("p2-000123") one at a time with acks=all,
 * straight over gRPC (the SDK's own retries would blur outcomes), and records one event per
 * value with what the cluster answered: ok + offset, a definite failure, or unknown (timeout,
 * connection lost). Routing follows NOT_LEADER hints through the SDK's metadata cache.
 *
 * Modes: "idempotent" (the default, as the SDK produces): batches carry a producer id, epoch and
 * sequence, and an attempt whose outcome is unknown is retried with the same bytes, which the
 * partition deduplicates; "retry": the same retries without a producer id, so a retry after a
 * lost answer can write a value twice (the checker's duplicate check must see it); "once": one
 * attempt per value, nothing retried.
 */
import { encodeBatch } from '../client/record-batch.js';
import { ConnectionPool, unary } from '../client/connection-pool.js';
import { FerryError } from '../client/errors.js';
import { MetadataCache } from '../client/metadata-cache.js';
import type { InitProducerIdResponse__Output } from '../proto/gen/ferry/v1/InitProducerIdResponse.js';
import type { ProduceResponse__Output } from '../proto/gen/ferry/v1/ProduceResponse.js';
import type { ProduceEvent, ProduceOutcome } from './history.js';

/** Codes after which the write is known not to have happened (never proposed, or replaced). */
const definiteFailures = new Set(['NOT_LEADER', 'LEADER_NOT_AVAILABLE', 'THROTTLED', 'UNKNOWN_TOPIC_OR_PARTITION', 'INVALID_REQUEST',
  'CORRUPT_MESSAGE', 'MESSAGE_TOO_LARGE', 'OUT_OF_ORDER_SEQUENCE', 'PRODUCER_FENCED', 'UNKNOWN_PRODUCER_ID']);
/** Retries of a value whose outcome is unknown, and the pause between them. */
const unknownRetriesMax = 10;
const retryPauseMs = 100;

export type ProducerMode = 'idempotent' | 'retry' | 'once';
export const producerModes: readonly ProducerMode[] = ['idempotent', 'retry', 'once'];

export interface WorkloadOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly partitions: number;
  readonly producers: number;
  readonly requestTimeoutMs: number;
  readonly mode: ProducerMode;
  readonly record: (e: ProduceEvent) => void;
}

/** One producer's idempotent numbering of one partition. */
interface PartitionSequence {
  epoch: number;
  next: number;
}

export class ProduceWorkload {
  /** Attempts that re-sent a value after an unknown outcome. */
  retries = 0;
  private stopped = false;
  private loops: Array<Promise<void>> = [];
  private readonly pool = new ConnectionPool();
  private readonly metadata: MetadataCache;

  constructor(private readonly o: WorkloadOptions) {
    this.metadata = new MetadataCache(this.pool, o.bootstrap, 2_000);
  }

  start(): void {
    for (let p = 0; p < this.o.producers; p += 1) this.loops.push(this.loop(p));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.pool.close();
  }

  private async loop(producer: number): Promise<void> {
    const producerId = this.o.mode === 'idempotent' ? await this.producerId() : -1;
    const sequences = new Map<number, PartitionSequence>();
    for (let n = 0; !this.stopped; n += 1) {
      const value = `p${producer}-${String(n).padStart(6, '0')}`;
      const partition = (n * this.o.producers + producer) % this.o.partitions;
      let seq = sequences.get(partition);
      if (!seq) sequences.set(partition, seq = { epoch: 0, next: 0 });
      const batch = encodeBatch({
        records: [{ key: null, value: Buffer.from(value), timestamp: Date.now() }],
        ...(producerId >= 0 ? { producerId, producerEpoch: seq.epoch, baseSequence: seq.next } : {}),
      });
      const startMs = Date.now();
      let outcome = await this.attempt(batch, partition);
      let sawUnknown = false;
      for (let retry = 0; this.o.mode !== 'once' && outcome.type !== 'ok' && retry < unknownRetriesMax && !this.stopped; retry += 1) {
        if (outcome.type === 'info') sawUnknown = true;
        else if (!sawUnknown) break; // definite, and no earlier attempt may have written it
        await new Promise((r) => setTimeout(r, retryPauseMs));
        this.retries += 1;
        outcome = await this.attempt(batch, partition);
      }
      if (outcome.type === 'info') sawUnknown = true;
      // A definite "no" to a retry says nothing of an earlier attempt that timed out.
      if (outcome.type === 'fail' && sawUnknown) outcome = { type: 'info', code: outcome.code };
      this.o.record({ kind: 'produce', process: `p${producer}`, value, partition, startMs, endMs: Date.now(), outcome });
      if (outcome.type === 'ok') {
        seq.next += 1;
      } else if (outcome.type === 'info') {
        // Whether the value is in the log is unknown: leave that sequence behind in a new epoch.
        seq.epoch += 1;
        seq.next = 0;
      } else if (outcome.code === 'OUT_OF_ORDER_SEQUENCE' || outcome.code === 'UNKNOWN_PRODUCER_ID') {
        seq.epoch += 1;
        seq.next = 0;
      }
      if (outcome.type !== 'ok') await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A producer id from the cluster, retried until one comes (or the run stops). */
  private async producerId(): Promise<number> {
    while (!this.stopped) {
      try {
        const res = await unary<object, InitProducerIdResponse__Output>(this.pool.get(this.metadata.anyAddress()), 'InitProducerId',
          { timeoutMs: this.o.requestTimeoutMs }, this.o.requestTimeoutMs + 1_000);
        if (res.error?.code === 'ERROR_CODE_NONE') return res.producerId;
      } catch {
        // a node down: ask another
      }
      await new Promise((r) => setTimeout(r, retryPauseMs));
    }
    return -1;
  }

  private async attempt(batch: Buffer, partition: number): Promise<ProduceOutcome> {
    let address: string;
    try {
      address = await this.metadata.leaderAddress(this.o.topic, partition);
    } catch (err) {
      // Nothing was sent.
      return { type: 'fail', code: err instanceof FerryError ? err.code : 'INTERNAL' };
    }
    try {
      const res = await unary<object, ProduceResponse__Output>(this.pool.get(address), 'Produce', {
        acks: 'ACKS_ALL', timeoutMs: this.o.requestTimeoutMs, partitions: [{ topic: this.o.topic, partition, batch }],
      }, this.o.requestTimeoutMs + 1_000);
      const r = res.results[0]!;
      const err = FerryError.fromWire(r.error, 'produce');
      if (!err) return { type: 'ok', offset: r.baseOffset };
      this.metadata.learn(this.o.topic, partition, err);
      return definiteFailures.has(err.code) ? { type: 'fail', code: err.code } : { type: 'info', code: err.code };
    } catch (err) {
      // The request may have reached the leader before the connection or deadline failed.
      const code = err instanceof FerryError ? err.code : 'INTERNAL';
      if (err instanceof FerryError) this.metadata.learn(this.o.topic, partition, err);
      return { type: 'info', code };
    }
  }
}
