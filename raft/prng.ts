// Seeded randomness for election jitter (and for the simulator). The core never calls Math.random:
// the host injects a source, so one seed replays one whole run.

/** The only thing the core needs from randomness. */
export interface RandomSource {
  /** A uniformly distributed integer in [0, maxExclusive). maxExclusive ≥ 1. */
  nextInt(maxExclusive: number): number;
}

/**
 * xoshiro128** (Blackman & Vigna): 128 bits of state, 32-bit output, fast with Math.imul.
 * The state is seeded through splitmix32 so that nearby seeds give unrelated streams.
 */
export class Xoshiro128 implements RandomSource {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // all-zero state is a fixed point
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  nextInt(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > 0x1_0000_0000) {
      throw new RangeError(`nextInt bound must be an integer in [1, 2^32], got ${maxExclusive}`);
    }
    // Multiply-shift instead of modulo: no division, and the bias is below 2^-32 per bound unit.
    return Math.floor((this.nextUint32() / 0x1_0000_0000) * maxExclusive);
  }

  /** True with probability p (0 ≤ p ≤ 1). */
  chance(p: number): boolean {
    return this.nextUint32() / 0x1_0000_0000 < p;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
