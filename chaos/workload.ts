/**
 * Producers for a chaos run: each sends unique values ("p2-000123") one attempt at a time with
 * acks=all, straight over gRPC (no SDK retries that would blur outcomes), and records exactly
 * what the cluster answered: ok + offset, a definite failure, or unknown (timeout, connection
 * lost). Routing follows NOT_LEADER hints through the SDK's metadata cache.
 */
import { encodeBatch } from '../client/record-batch.js';
import { ConnectionPool, unary } from '../client/connection-pool.js';
import { FerryError } from '../client/errors.js';
import { MetadataCache } from '../client/metadata-cache.js';
import type { ProduceResponse__Output } from '../proto/gen/ferry/v1/ProduceResponse.js';
import type { ProduceEvent, ProduceOutcome } from './history.js';

/** Codes after which the write is known not to have happened (never proposed, or replaced). */
const definiteFailures = new Set(['NOT_LEADER', 'LEADER_NOT_AVAILABLE', 'THROTTLED', 'UNKNOWN_TOPIC_OR_PARTITION', 'INVALID_REQUEST',
  'CORRUPT_MESSAGE', 'MESSAGE_TOO_LARGE']);

export interface WorkloadOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly partitions: number;
  readonly producers: number;
  readonly requestTimeoutMs: number;
  readonly record: (e: ProduceEvent) => void;
}

export class ProduceWorkload {
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
    for (let seq = 0; !this.stopped; seq += 1) {
      const value = `p${producer}-${String(seq).padStart(6, '0')}`;
      const partition = (seq * this.o.producers + producer) % this.o.partitions;
      const startMs = Date.now();
      const outcome = await this.attempt(value, partition);
      this.o.record({ kind: 'produce', process: `p${producer}`, value, partition, startMs, endMs: Date.now(), outcome });
      if (outcome.type !== 'ok') await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async attempt(value: string, partition: number): Promise<ProduceOutcome> {
    let address: string;
    try {
      address = await this.metadata.leaderAddress(this.o.topic, partition);
    } catch (err) {
      // Nothing was sent.
      return { type: 'fail', code: err instanceof FerryError ? err.code : 'INTERNAL' };
    }
    const batch = encodeBatch({ records: [{ key: null, value: Buffer.from(value), timestamp: Date.now() }] });
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
