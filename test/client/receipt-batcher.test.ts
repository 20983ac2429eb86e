import { describe, expect, it } from 'vitest';
import { FerryError } from '../../client/errors.js';
import type { QueueReceipt } from '../../client/queue-client.js';
import { ReceiptBatcher } from '../../client/receipt-batcher.js';

const receipt = (offset: number): QueueReceipt => ({ partition: 0, offset, deliveryCount: 1 });

describe('ReceiptBatcher (group commit of acks)', () => {
  it('sends the first receipt at once and the ones arriving meanwhile together, each answered with its own result', async () => {
    const calls: number[][] = [];
    let release: (() => void) | undefined;
    const b = new ReceiptBatcher(async (rs) => {
      calls.push(rs.map((r) => r.offset));
      await new Promise<void>((r) => (release = r));
      return rs.map((r) => (r.offset === 3 ? new FerryError('RECEIPT_EXPIRED', 'stale', false) : undefined));
    });
    const results = [1, 2, 3, 4].map((o) => b.settle(receipt(o)));
    expect(calls).toEqual([[1]]);
    release!();
    await results[0];
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([[1], [2, 3, 4]]);
    release!();
    const [r1, r2, r3, r4] = await Promise.all(results);
    expect([r1, r2, r4]).toEqual([undefined, undefined, undefined]);
    expect(r3?.code).toBe('RECEIPT_EXPIRED');
  });

  it('fails every receipt of a call that failed, and keeps going with the next', async () => {
    let fail = true;
    const b = new ReceiptBatcher(async (rs) => {
      if (fail) {
        fail = false;
        throw new FerryError('UNAVAILABLE', 'down', true);
      }
      return rs.map(() => undefined);
    }, 2);
    await expect(b.settle(receipt(1))).rejects.toThrow('down');
    await expect(Promise.all([b.settle(receipt(2)), b.settle(receipt(3)), b.settle(receipt(4))])).resolves.toEqual([undefined, undefined, undefined]);
  });
});
