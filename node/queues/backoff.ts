/**
 * Retry backoff of a queue group: exponential in the delivery count, capped, with jitter. The
 * jitter is a hash of (offset, delivery count), not a random draw, so a coordinator that replays
 * the log after a failover computes the same "visible again at" for a timed-out lock as its
 * predecessor did (nothing about a timeout is written to the log; it follows from the lock's
 * deadline and this function).
 */
import { crc32c } from '@node-rs/crc32';

export interface BackoffConfig {
  /** Delay after the first failed delivery, in ms. */
  readonly baseMs: number;
  /** Largest delay, in ms. */
  readonly maxMs: number;
  /** Fraction in [0, 1] of the delay that jitter may take away (0 = none). */
  readonly jitter: number;
}

const scratch = Buffer.alloc(16);

/** A deterministic fraction in [0, 1) for one (offset, deliveries). */
export function jitterFraction(offset: number, deliveries: number): number {
  scratch.writeDoubleLE(offset, 0);
  scratch.writeDoubleLE(deliveries, 8);
  return (crc32c(scratch) >>> 0) / 2 ** 32;
}

/** Milliseconds to wait before a message that failed its `deliveries`-th delivery is visible again. */
export function backoffMs(config: BackoffConfig, offset: number, deliveries: number): number {
  if (deliveries < 1) throw new Error(`backoff asked for delivery ${deliveries}; deliveries start at 1`);
  if (config.baseMs === 0) return 0;
  const exponent = Math.min(deliveries - 1, 40);
  const full = Math.min(config.maxMs, config.baseMs * 2 ** exponent);
  return Math.floor(full * (1 - config.jitter * jitterFraction(offset, deliveries)));
}
