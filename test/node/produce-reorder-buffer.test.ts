import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProduceReorderBuffer } from '../../node/produce-reorder-buffer.js';

afterEach(() => {
  vi.useRealTimers();
});

function recorder() {
  const events: string[] = [];
  const entry = (name: string) => ({
    retry: (deadline: number) => events.push(`retry ${name} ${deadline}`),
    fail: (err?: Error) => events.push(`fail ${name} ${err?.message ?? 'original'}`),
  });
  return { events, entry };
}

describe('ProduceReorderBuffer', () => {
  it('releases a producer\'s held batches lowest sequence first, with their own deadlines, and leaves others held', () => {
    const buf = new ProduceReorderBuffer({ batchesMax: 8, bytesMax: 1_000, waitMs: 250 });
    const { events, entry } = recorder();
    const deadline = performance.now() + 10_000;
    for (const [pid, seq] of [[1, 30], [2, 5], [1, 10], [1, 20]] as const) {
      const e = entry(`${pid}/${seq}`);
      expect(buf.hold(pid, seq, 10, deadline, e.retry, e.fail)).toBe(true);
    }
    buf.release(1, 10);
    expect(events).toEqual([`retry 1/10 ${deadline}`, `retry 1/20 ${deadline}`, `retry 1/30 ${deadline}`]);
    expect(buf.size).toBe(1);
    buf.failAll(new Error('leadership changed'));
    expect(events.at(-1)).toBe('fail 2/5 leadership changed');
    expect(buf.size).toBe(0);
    buf.release(2, 5); // nothing left: nothing happens
    expect(events).toHaveLength(4);
  });

  it('orders a release by distance from the next sequence (sequences wrap), and a retry that throws fails only its batch', () => {
    const buf = new ProduceReorderBuffer({ batchesMax: 8, bytesMax: 1_000, waitMs: 250 });
    const { events, entry } = recorder();
    const deadline = performance.now() + 10_000;
    const top = 2 ** 31 - 1;
    for (const seq of [1, top, 0]) {
      const e = entry(`1/${seq}`);
      const retry = seq === 0 ? () => { throw new Error('boom'); } : e.retry;
      expect(buf.hold(1, seq, 10, deadline, retry, e.fail)).toBe(true);
    }
    buf.release(1, top);
    expect(events).toEqual([`retry 1/${top} ${deadline}`, 'fail 1/0 boom', `retry 1/1 ${deadline}`]);
    expect(buf.size).toBe(0);
  });

  it('refuses to hold past its batch or byte bound, or past the deadline', () => {
    const buf = new ProduceReorderBuffer({ batchesMax: 2, bytesMax: 100, waitMs: 250 });
    const { entry } = recorder();
    const e = entry('x');
    const later = performance.now() + 10_000;
    expect(buf.hold(1, 1, 60, later, e.retry, e.fail)).toBe(true);
    expect(buf.hold(1, 2, 41, later, e.retry, e.fail)).toBe(false); // 101 bytes
    expect(buf.hold(1, 2, 40, later, e.retry, e.fail)).toBe(true);
    expect(buf.hold(1, 3, 1, later, e.retry, e.fail)).toBe(false); // third batch
    buf.failAll(new Error('x'));
    expect(buf.hold(1, 4, 1, performance.now() - 1, e.retry, e.fail)).toBe(false); // deadline passed
  });

  it('lets the original refusal stand when the wait runs out', () => {
    vi.useFakeTimers();
    const buf = new ProduceReorderBuffer({ batchesMax: 8, bytesMax: 1_000, waitMs: 250 });
    const { events, entry } = recorder();
    const e = entry('1/7');
    expect(buf.hold(1, 7, 10, buf.deadlineFromNow(), e.retry, e.fail)).toBe(true);
    vi.advanceTimersByTime(249);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(2);
    expect(events).toEqual(['fail 1/7 original']);
    expect(buf.size).toBe(0);
    buf.release(1, 7);
    expect(events).toHaveLength(1);
  });
});
