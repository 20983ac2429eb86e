/** Deliveries and redeliveries of a queue group per second over the last minute (in memory only). */
const windowSeconds = 60;

export class DeliveryRates {
  private readonly buckets: Array<{ second: number; deliveries: number; redeliveries: number }> = [];

  record(nowMs: number, deliveries: number, redeliveries: number): void {
    const second = Math.floor(nowMs / 1_000);
    const last = this.buckets[this.buckets.length - 1];
    if (last?.second === second) {
      last.deliveries += deliveries;
      last.redeliveries += redeliveries;
    } else {
      this.buckets.push({ second, deliveries, redeliveries });
    }
    while (this.buckets.length > 0 && this.buckets[0]!.second <= second - windowSeconds) this.buckets.shift();
  }

  perSecond(nowMs: number): { deliveries: number; redeliveries: number } {
    const from = Math.floor(nowMs / 1_000) - windowSeconds;
    let deliveries = 0;
    let redeliveries = 0;
    for (const b of this.buckets) {
      if (b.second <= from) continue;
      deliveries += b.deliveries;
      redeliveries += b.redeliveries;
    }
    return { deliveries: deliveries / windowSeconds, redeliveries: redeliveries / windowSeconds };
  }
}
