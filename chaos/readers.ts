/**
 * Readers for a chaos run: while faults happen, repeatedly fetch every partition from every
 * replica (followers included) and record what each served at which offset. The checker compares
 * all of it with the final logs: a record served during the run that is not at that offset in the
 * final history means someone served uncommitted or divergent data (promise 2).
 */
import { ConnectionPool, unary } from '../client/connection-pool.js';
import { dataRecordsOf } from './fetched-records.js';
import type { FetchResponse__Output } from '../proto/gen/ferry/v1/FetchResponse.js';
import type { ReadEvent } from './history.js';
import type { SeededRandom } from './prng.js';

export interface ReadersOptions {
  readonly addresses: ReadonlyMap<number, string>;
  readonly topic: string;
  readonly partitions: number;
  readonly random: SeededRandom;
  readonly record: (e: ReadEvent) => void;
}

export class ChaosReaders {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly pool = new ConnectionPool();
  /** Highest high watermark seen per partition: reads aim at the tail, where leaders change. */
  private readonly tail = new Map<number, number>();
  reads = 0;

  constructor(private readonly o: ReadersOptions) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.pool.close();
  }

  private async run(): Promise<void> {
    const nodes = [...this.o.addresses.keys()];
    while (!this.stopped) {
      const nodeId = this.o.random.pick(nodes);
      const partition = this.o.random.int(0, this.o.partitions - 1);
      const from = Math.max(0, (this.tail.get(partition) ?? 0) - this.o.random.int(0, 40));
      const res = await unary<object, FetchResponse__Output>(this.pool.get(this.o.addresses.get(nodeId)!), 'Fetch', {
        maxWaitMs: 0, partitions: [{ topic: this.o.topic, partition, fetchOffset: from, maxBytes: 64 * 1024 }],
      }, 1_000).catch(() => undefined);
      const r = res?.results[0];
      if (r && r.error?.code === 'ERROR_CODE_NONE') this.tail.set(partition, Math.max(this.tail.get(partition) ?? 0, r.highWatermark));
      if (r && r.error?.code === 'ERROR_CODE_NONE' && r.records.length > 0) {
        this.reads += 1;
        this.o.record({ kind: 'read', reader: `reader@node${nodeId}`, partition, timeMs: Date.now(), records: dataRecordsOf(r.records), final: false });
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
