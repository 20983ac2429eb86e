import { describe, expect, it } from 'vitest';
import { FerryError } from '../../client/errors.js';
import type { QueueClient, QueueMessage, QueueReceipt, SettleResults } from '../../client/queue-client.js';
import { QueueConsumer } from '../../client/queue-consumer.js';

/** A queue group in memory: hands out `values` once each, records what the worker pool calls. */
class FakeQueues implements Pick<QueueClient, 'configure' | 'receive' | 'ack' | 'nack' | 'extend'> {
  readonly calls: string[] = [];
  readonly maxAsked: number[] = [];
  private next = 0;
  constructor(private readonly values: string[]) {}
  configure(): Promise<never> {
    return Promise.reject(new Error('not used'));
  }
  async receive(_g: string, topic: string, o: { max?: number; maxWaitMs?: number } = {}): Promise<QueueMessage[]> {
    this.maxAsked.push(o.max ?? 0);
    const take = this.values.slice(this.next, this.next + (o.max ?? 1));
    this.next += take.length;
    if (take.length === 0) await new Promise((r) => setTimeout(r, 5));
    return take.map((v, i) => ({ topic, partition: 0, offset: this.next - take.length + i, deliveryCount: 1, key: null, value: Buffer.from(v), headers: {}, timestamp: 0, lockedUntilMs: 0 }));
  }
  private note(what: string, rs: readonly QueueReceipt[]): SettleResults {
    for (const r of rs) this.calls.push(`${what} ${r.offset}`);
    return rs.map(() => undefined);
  }
  ack(_g: string, rs: readonly QueueReceipt[]): Promise<SettleResults> {
    return Promise.resolve(this.note('ack', rs));
  }
  nack(_g: string, rs: readonly QueueReceipt[]): Promise<SettleResults> {
    return Promise.resolve(this.note('nack', rs));
  }
  extend(_g: string, rs: readonly QueueReceipt[]): Promise<SettleResults> {
    return Promise.resolve(this.note('extend', rs));
  }
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i += 1) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe('queueConsumer (worker pool)', () => {
  it('acks what the handler finished, nacks what it threw on, never runs more than `concurrency` at once', async () => {
    const q = new FakeQueues(['a', 'b', 'boom', 'c', 'd', 'e']);
    let running = 0;
    let most = 0;
    const c = new QueueConsumer(q, {
      group: 'g', topic: 't', concurrency: 2, maxWaitMs: 10,
      handler: async (m) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 10));
        running -= 1;
        if (m.value!.toString() === 'boom') throw new Error('boom');
      },
    }).start();
    await until(() => c.counts.acked + c.counts.nacked === 6);
    await c.close();
    expect(most).toBe(2);
    expect(Math.max(...q.maxAsked)).toBeLessThanOrEqual(2);
    expect(q.calls.filter((x) => x.startsWith('nack'))).toEqual(['nack 2']);
    expect(q.calls.filter((x) => x.startsWith('ack')).sort()).toEqual(['ack 0', 'ack 1', 'ack 3', 'ack 4', 'ack 5']);
  });

  it('extends the lock every half visibility timeout while a long handler runs, and stops once it finished', async () => {
    const q = new FakeQueues(['long']);
    const c = new QueueConsumer(q, { group: 'g', topic: 't', visibilityTimeoutMs: 100, maxWaitMs: 10, handler: () => new Promise((r) => setTimeout(r, 280)) }).start();
    await until(() => c.counts.acked === 1);
    await c.close();
    const extends_ = q.calls.filter((x) => x === 'extend 0').length;
    expect(extends_).toBeGreaterThanOrEqual(2); // ~5 on an idle machine; timers run late on a loaded one
    expect(extends_).toBeLessThanOrEqual(6);
    expect(q.calls[q.calls.length - 1]).toBe('ack 0');
  });

  it('refuses a concurrency out of range', () => {
    expect(() => new QueueConsumer(new FakeQueues([]), { group: 'g', topic: 't', concurrency: 0, handler: () => undefined })).toThrow(FerryError);
  });
});
