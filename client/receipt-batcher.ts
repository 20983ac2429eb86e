/**
 * Group commit for acks: while one Ack call is in flight, the receipts of handlers that finish
 * meanwhile wait and go together in the next call (one Raft write on the coordinator for all of
 * them). At most `maxBatch` receipts per call; each caller gets its own receipt's result.
 */
import type { FerryError } from './errors.js';
import type { QueueReceipt, SettleResults } from './queue-client.js';

interface Waiting {
  readonly receipt: QueueReceipt;
  readonly resolve: (e: FerryError | undefined) => void;
  readonly reject: (err: unknown) => void;
}

export class ReceiptBatcher {
  private waiting: Waiting[] = [];
  private inFlight = 0;

  constructor(private readonly send: (receipts: QueueReceipt[]) => Promise<SettleResults>, private readonly maxBatch = 500, private readonly maxInFlight = 1) {}

  settle(receipt: QueueReceipt): Promise<FerryError | undefined> {
    const done = new Promise<FerryError | undefined>((resolve, reject) => this.waiting.push({ receipt, resolve, reject }));
    this.pump();
    return done;
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight += 1;
      this.send(batch.map((w) => w.receipt)).then(
        (results) => batch.forEach((w, i) => w.resolve(results[i])),
        (err: unknown) => batch.forEach((w) => w.reject(err)),
      ).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }
}
