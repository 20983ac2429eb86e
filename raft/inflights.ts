// The bounded window of appends in flight to one follower, counted in messages and in bytes.
// A ring buffer: adding and freeing allocate nothing once the buffer has grown.
import { assert } from './assert.js';
import type { Index } from './types.js';

export class Inflights {
  private start = 0;
  private count = 0;
  private bytes = 0;
  private readonly lastIndexes: number[];
  private readonly sizes: number[];

  constructor(readonly maxMsgs: number, readonly maxBytes: number) {
    assert(maxMsgs > 0 && maxBytes > 0, 'inflight limits must be positive');
    this.lastIndexes = new Array<number>(maxMsgs).fill(0);
    this.sizes = new Array<number>(maxMsgs).fill(0);
  }

  /** Records an append whose last entry is lastIndex, carrying bytes of entry data. */
  add(lastIndex: Index, bytes: number): void {
    assert(!this.full(), 'inflights: add while full');
    if (this.count > 0) {
      const prev = this.lastIndexes[(this.start + this.count - 1) % this.maxMsgs]!;
      assert(lastIndex > prev, `inflights: ${lastIndex} not after ${prev}`);
    }
    const slot = (this.start + this.count) % this.maxMsgs;
    this.lastIndexes[slot] = lastIndex;
    this.sizes[slot] = bytes;
    this.count += 1;
    this.bytes += bytes;
  }

  /** The follower acknowledged everything up to index: free those messages. */
  freeLE(index: Index): void {
    while (this.count > 0 && this.lastIndexes[this.start]! <= index) {
      this.bytes -= this.sizes[this.start]!;
      this.start = (this.start + 1) % this.maxMsgs;
      this.count -= 1;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest message (a heartbeat response proves the follower is alive but lagging). */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.lastIndexes[this.start]! as Index);
  }

  /** Full when either bound is reached; one message may exceed maxBytes alone (it must go out). */
  full(): boolean {
    return this.count === this.maxMsgs || this.bytes >= this.maxBytes;
  }

  size(): number {
    return this.count;
  }

  sizeBytes(): number {
    return this.bytes;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}
