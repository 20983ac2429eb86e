/**
 * Consumers for a chaos run: one SDK consumer per partition tails it from the start through every
 * fault (leader changes, restarts, partitions), recording each poll's records in order. The
 * checker holds them to continuity: a poll never jumps over a data record of the final log and
 * never goes back (poll-skip, nonmonotonic-poll), and nothing read was uncommitted.
 */
import { createClient, type ConsumedRecord, type Consumer, type FerryClient } from '../client/index.js';
import type { PollEvent } from './history.js';

export interface PollLoop {
  /** The consumer's name in the history. */
  readonly name: string;
  /** The consumer group it is a member of, if any. */
  readonly group?: string;
  readonly poll: () => Promise<ConsumedRecord[]>;
  readonly stopped: () => boolean;
  readonly record: (e: PollEvent) => void;
}

/**
 * Polls until stopped, recording each batch as one event per partition, in the order handed.
 * Recording happens right after poll() resolves, before anything can mark the batch processed
 * and commit it (the group check relies on commits never passing recorded reads).
 */
export async function pollLoop(l: PollLoop): Promise<void> {
  while (!l.stopped()) {
    try {
      const records = await l.poll();
      if (records.length === 0) continue;
      const timeMs = Date.now();
      for (const partition of new Set(records.map((r) => r.partition))) {
        l.record({
          kind: 'poll', consumer: l.name, ...(l.group !== undefined ? { group: l.group } : {}), partition, timeMs,
          records: records.filter((r) => r.partition === partition).map((r) => ({ offset: r.offset, value: r.value?.toString() ?? '' })),
        });
      }
    } catch {
      // The consumer retries fetches itself; an error here is a fault in progress: poll again.
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface PollersOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly partitions: number;
  readonly record: (e: PollEvent) => void;
}

export class ChaosPollers {
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
      this.loops.push(pollLoop({
        name: `poller-p${p}`, poll: () => consumer.poll(300), stopped: () => this.stopped, record: this.o.record,
      }));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const c of this.consumers) c.close();
    this.client.close();
  }
}
