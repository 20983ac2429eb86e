/**
 * Consumers for a chaos run: one SDK consumer per partition tails it from the start through every
 * fault (leader changes, restarts, partitions), recording each poll's records in order. The
 * checker holds them to continuity: a poll never jumps over a data record of the final log and
 * never goes back (poll-skip, nonmonotonic-poll), and nothing read was uncommitted.
 */
import { createClient, type Consumer, type FerryClient } from '../client/index.js';
import type { PollEvent } from './history.js';

export interface PollersOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly partitions: number;
  readonly record: (e: PollEvent) => void;
}

export class ChaosPollers {
  /** Polls that returned records. */
  polls = 0;
  private stopped = false;
  private loops: Array<Promise<void>> = [];
  private readonly client: FerryClient;
  private readonly consumers: Consumer[] = [];

  constructor(private readonly o: PollersOptions) {
    this.client = createClient({ bootstrap: o.bootstrap, requestTimeoutMs: 2_000 });
  }

  start(): void {
    for (let p = 0; p < this.o.partitions; p += 1) {
      const consumer = this.client.consumer({ topic: this.o.topic, partitions: [p], from: 'earliest', maxWaitMs: 200, requestTimeoutMs: 2_000 });
      this.consumers.push(consumer);
      this.loops.push(this.loop(`poller-p${p}`, p, consumer));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const c of this.consumers) c.close();
    this.client.close();
  }

  private async loop(name: string, partition: number, consumer: Consumer): Promise<void> {
    while (!this.stopped) {
      try {
        const records = await consumer.poll(300);
        if (records.length === 0) continue;
        this.polls += 1;
        this.o.record({
          kind: 'poll', consumer: name, partition, timeMs: Date.now(),
          records: records.map((r) => ({ offset: r.offset, value: r.value?.toString() ?? '' })),
        });
      } catch {
        // The consumer retries fetches itself; an error here is a fault in progress: poll again.
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}
