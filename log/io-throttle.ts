// A token bucket over bytes, so background I/O (the cleaner) cannot take the disk from the
// produce path. One bucket may be shared by every partition a node cleans: the limit is per node,
// which is what the disk sees. The clock and the sleep are injected so tests need no real time.
import { LogError } from './errors.js';

export interface ThrottleClock {
  nowMs(): number;
  sleepMs(ms: number): Promise<void>;
}

const realClock: ThrottleClock = {
  nowMs: () => performance.now(),
  sleepMs: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** How much I/O may be done in a burst after an idle spell: this many seconds' worth of budget. */
const burstSeconds = 0.1;

export class IoThrottle {
  private tokens: number;
  private lastRefillMs: number;
  private readonly burstBytes: number;
  /** Total bytes accounted and milliseconds spent waiting (for metrics and benches). */
  bytesTotal = 0;
  waitedMsTotal = 0;

  /** `bytesPerSecond` null = unlimited (acquire never waits). */
  constructor(readonly bytesPerSecond: number | null, private readonly clock: ThrottleClock = realClock) {
    if (bytesPerSecond !== null && !(Number.isSafeInteger(bytesPerSecond) && bytesPerSecond >= 1)) {
      throw new LogError('INVALID_CONFIG', `cleaner I/O limit must be a positive integer of bytes/s or unlimited, got ${bytesPerSecond}`);
    }
    this.burstBytes = bytesPerSecond === null ? 0 : Math.max(1, Math.floor(bytesPerSecond * burstSeconds));
    this.tokens = this.burstBytes;
    this.lastRefillMs = clock.nowMs();
  }

  /**
   * Accounts `bytes` of I/O, waiting first if the budget is spent. A request larger than the burst
   * goes into debt and the wait is proportional, so the long-run rate holds for any chunk size.
   */
  async acquire(bytes: number): Promise<void> {
    if (!(Number.isSafeInteger(bytes) && bytes >= 0)) throw new LogError('INVALID_ARGUMENT', `throttle bytes ${bytes}`);
    this.bytesTotal += bytes;
    if (this.bytesPerSecond === null || bytes === 0) return;
    this.refill();
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    const waitMs = (-this.tokens / this.bytesPerSecond) * 1000;
    this.waitedMsTotal += waitMs;
    await this.clock.sleepMs(waitMs);
    this.refill();
  }

  private refill(): void {
    const now = this.clock.nowMs();
    const earned = ((now - this.lastRefillMs) / 1000) * (this.bytesPerSecond ?? 0);
    this.tokens = Math.min(this.burstBytes, this.tokens + earned);
    this.lastRefillMs = now;
  }
}
