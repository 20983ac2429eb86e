// A read-through window over a file for walking batch headers sequentially with few preads:
// one pread fills `windowBytes`, and every header inside it is served from memory.
import { assert } from './errors.js';

/** Where a window's bytes come from: a segment file, with its not yet written tail. */
export interface ByteSource {
  readInto(out: Buffer, offset: number, length: number, position: number): void;
}

export class FileWindow {
  private buf: Buffer;
  private start = 0;
  private len = 0;

  constructor(
    private readonly source: ByteSource,
    windowBytes: number,
  ) {
    this.buf = Buffer.allocUnsafe(windowBytes);
  }

  /** The buffer that the last `at()` refers into (valid until the next call). */
  get bytes(): Buffer {
    return this.buf;
  }

  /**
   * Makes file bytes [pos, pos + len) available (clamped to the file end) and returns the index
   * of `pos` inside `bytes`, plus how many bytes from there are available.
   */
  at(pos: number, len: number, fileEnd: number): { index: number; available: number } {
    assert(pos >= 0 && pos <= fileEnd, `window position ${pos} outside file of ${fileEnd} bytes`);
    const want = Math.min(len, fileEnd - pos);
    if (pos < this.start || pos + want > this.start + this.len) {
      if (want > this.buf.length) this.buf = Buffer.allocUnsafe(want);
      const fill = Math.min(this.buf.length, fileEnd - pos);
      this.source.readInto(this.buf, 0, fill, pos);
      this.start = pos;
      this.len = fill;
    }
    return { index: pos - this.start, available: Math.min(this.start + this.len, fileEnd) - pos };
  }

  /** Forgets cached bytes (after the file was truncated or rewritten in place). */
  reset(): void {
    this.start = 0;
    this.len = 0;
  }
}
