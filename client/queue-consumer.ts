/**
 * A queue worker pool: `concurrency` handlers at a time run on records received from a queue
 * group. A handler that returns acks its record (acks finishing together share one call); one
 * that throws nacks it (visible again after the
 * group's backoff, dead-lettered after maxDeliveries). While a handler runs, its lock is extended
 * every half visibility timeout, so a long job is not handed to another worker; a worker that
 * dies stops extending, and its records come back once their locks time out.
 */
import { FerryError } from './errors.js';
import type { QueueClient, QueueGroupSettings, QueueMessage } from './queue-client.js';
import { ReceiptBatcher } from './receipt-batcher.js';

export interface QueueConsumerOptions {
  readonly group: string;
  readonly topic: string;
  /** Does the work; resolve = ack, throw = nack. */
  readonly handler: (message: QueueMessage) => Promise<void> | void;
  /** Handlers running at once (1-1,000; default 1). */
  readonly concurrency?: number;
  /** Lock length per delivery in ms (default 30 s); extended while the handler runs. */
  readonly visibilityTimeoutMs?: number;
  /** Receive long-poll in ms (default 1,000). */
  readonly maxWaitMs?: number;
  /** Group settings applied when the consumer starts (omit to keep the group's own). */
  readonly settings?: Omit<QueueGroupSettings, 'topic'>;
  /** Told about failed receives, acks, nacks and extensions (default: ignored; the loop retries). */
  readonly onError?: (err: Error) => void;
}

export interface QueueConsumerCounts {
  readonly acked: number;
  readonly nacked: number;
  readonly running: number;
}

const concurrencyMax = 1_000;

export class QueueConsumer {
  private closed = false;
  private loop: Promise<void> | undefined;
  private running = 0;
  private acked = 0;
  private nacked = 0;
  private wake: (() => void) | undefined;
  private readonly handlers = new Set<Promise<void>>();
  private readonly concurrency: number;
  private readonly lockMs: number;
  /** Acks of handlers finishing while an Ack call is out go together in the next one. */
  private readonly acks: ReceiptBatcher;

  constructor(private readonly queues: Pick<QueueClient, 'configure' | 'receive' | 'ack' | 'nack' | 'extend'>, private readonly o: QueueConsumerOptions) {
    this.concurrency = o.concurrency ?? 1;
    this.lockMs = o.visibilityTimeoutMs ?? 30_000;
    this.acks = new ReceiptBatcher((receipts) => this.queues.ack(this.o.group, receipts));
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1 || this.concurrency > concurrencyMax) {
      throw new FerryError('INVALID_REQUEST', `concurrency must be an integer 1-${concurrencyMax}, got ${this.concurrency}`, false);
    }
  }

  /** Starts receiving (idempotent). */
  start(): this {
    this.loop ??= this.run();
    return this;
  }

  get counts(): QueueConsumerCounts {
    return { acked: this.acked, nacked: this.nacked, running: this.running };
  }

  private async run(): Promise<void> {
    if (this.o.settings) await this.retrying(() => this.queues.configure(this.o.group, { ...this.o.settings, topic: this.o.topic }));
    let failures = 0;
    while (!this.closed) {
      const free = this.concurrency - this.running;
      if (free === 0) {
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      let messages: QueueMessage[];
      try {
        messages = await this.queues.receive(this.o.group, this.o.topic, { max: free, visibilityTimeoutMs: this.lockMs, maxWaitMs: this.o.maxWaitMs ?? 1_000 });
        failures = 0;
      } catch (err) {
        if (this.closed) break;
        this.o.onError?.(err as Error);
        failures += 1;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** failures, 2_000)));
        continue;
      }
      for (const m of messages) {
        this.running += 1;
        const h = this.handle(m).finally(() => {
          this.running -= 1;
          this.handlers.delete(h);
          this.wake?.();
        });
        this.handlers.add(h);
      }
    }
  }

  private async retrying<T>(fn: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; !this.closed; attempt += 1) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof FerryError && !err.retriable) throw err;
        this.o.onError?.(err as Error);
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2_000)));
      }
    }
    return undefined;
  }

  private async handle(m: QueueMessage): Promise<void> {
    let lockHeld = true;
    const extender = setInterval(() => {
      if (!lockHeld) return;
      void this.queues.extend(this.o.group, [m], this.lockMs).then(([e]) => {
        if (e) {
          lockHeld = false; // expired: another worker may have it now; finishing is still allowed
          this.o.onError?.(e);
        }
      }, (err: Error) => this.o.onError?.(err));
    }, Math.max(50, Math.floor(this.lockMs / 2)));
    let ok = true;
    try {
      await this.o.handler(m);
    } catch (err) {
      ok = false;
      this.o.onError?.(err as Error);
    } finally {
      clearInterval(extender);
    }
    try {
      const e = ok ? await this.acks.settle(m) : (await this.queues.nack(this.o.group, [m]))[0];
      if (e) this.o.onError?.(e);
      else if (ok) this.acked += 1;
      else this.nacked += 1;
    } catch (err) {
      this.o.onError?.(err as Error);
    }
  }

  /** Stops receiving and waits for the handlers running now to finish (and ack or nack). */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.loop?.catch(() => undefined);
    await Promise.all([...this.handlers]);
  }
}
