// Write-behind for the end of one segment file. Appended batches are handed to the kernel on the
// libuv threadpool (fs.writev), in call order, while the JS thread goes on: validating the next
// batch's CRC overlaps the copy of the previous one into the page cache. Until its write
// completes, a batch is served from memory, so readers see no difference.
//
// Invariant: for every position p below the segment's size, if an entry covers p, the entry's
// byte is the content at p; otherwise the file's byte at p is, and no queued or running operation
// will change it. Operations (writes, truncations) run one at a time in call order, so a crash
// leaves the effect of a prefix of them, with one exception: the synchronous fallback may write
// later batches while the running write has not landed, leaving a hole of zeros before them,
// which recovery cuts at (a zero header is invalid; the fallback never runs while a truncation
// waits, so no truncated batch can sit behind such a hole). Either way a crash loses a suffix of
// the unflushed appends, never a truncation that flush() or drain() reported done: durability is
// fdatasync after drain(), and "in the kernel" (what a process crash keeps) is drain().
import fs from 'node:fs';
import { tailQueuedBytesMax, writeBehindBytesMin } from './constants.js';
import { assert } from './errors.js';

/** Buffers per writev call (Linux IOV_MAX is 1024). */
const writevBuffersMax = 1024;

interface TailEntry {
  readonly position: number;
  readonly bytes: Buffer;
}

type TailOp =
  | { readonly kind: 'write'; readonly seq: number; position: number; bytes: number; entries: TailEntry[] }
  | { readonly kind: 'truncate'; readonly seq: number; readonly size: number };

interface DrainWaiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class TailWriter {
  /** Bytes not yet known to be in the file, sorted by position, never overlapping. */
  private readonly entries: TailEntry[] = [];
  /** ops[0] is running on the threadpool; the rest wait for it, in order. */
  private readonly ops: TailOp[] = [];
  private nextSeq = 1;
  private queuedBytes = 0;
  private readonly waiters: DrainWaiter[] = [];
  private failure: unknown = null;
  private closeRequested = false;
  private fdClosed = false;

  private readonly queuedBytesMax: number;
  private readonly writeBehindMinBytes: number;

  /**
   * `writeBehindMinBytes`: smaller appends with nothing queued are written at once (Infinity:
   * always). `queuedBytesMax`: past it, waiting appends are written synchronously.
   */
  constructor(
    private readonly fd: number,
    limits: { readonly queuedBytesMax?: number; readonly writeBehindMinBytes?: number } = {},
  ) {
    this.queuedBytesMax = limits.queuedBytesMax ?? tailQueuedBytesMax;
    this.writeBehindMinBytes = limits.writeBehindMinBytes ?? writeBehindBytesMin;
  }

  get idle(): boolean {
    return this.ops.length === 0;
  }

  /** The error of a failed write or truncation, or null: the segment must not be used after one. */
  get failed(): unknown {
    return this.failure;
  }

  /** Every operation with a seq at or below this one has completed. */
  private get doneSeq(): number {
    return this.ops.length === 0 ? this.nextSeq - 1 : (this.ops[0] as TailOp).seq - 1;
  }

  /** Queues `bytes` to be written at `position` (the segment's end). Throws after a failed write. */
  append(bytes: Buffer, position: number): void {
    assert(!this.closeRequested, 'append to a closed segment file');
    if (this.failure !== null) throw this.failure;
    if (this.ops.length === 0 && bytes.length < this.writeBehindMinBytes) {
      // Small and nothing queued: a threadpool round trip (two thread wake-ups and a loop turn)
      // costs more than the copy it would take off this thread.
      writeFullySync(this.fd, bytes, position);
      return;
    }
    const entry: TailEntry = { position, bytes };
    const last = this.entries[this.entries.length - 1];
    assert(last === undefined || last.position + last.bytes.length <= position, `tail write at ${position} overlaps queued bytes`);
    const tail = this.ops[this.ops.length - 1];
    if (tail !== undefined && tail !== this.ops[0] && tail.kind === 'write' &&
        tail.position + tail.bytes === position && tail.entries.length < writevBuffersMax) {
      tail.entries.push(entry);
      tail.bytes += bytes.length;
    } else {
      this.ops.push({ kind: 'write', seq: this.nextSeq++, position, bytes: bytes.length, entries: [entry] });
    }
    this.entries.push(entry);
    this.queuedBytes += bytes.length;
    if (this.ops.length === 1) this.startNext();
    else if (this.queuedBytes > this.queuedBytesMax) this.writeQueuedNow();
  }

  /**
   * The writer fell behind: write every waiting batch synchronously (they lie past the running
   * write, so the two never touch the same bytes). Not while a truncation is queued or running:
   * it must act first.
   */
  private writeQueuedNow(): void {
    if (this.ops.some((op) => op.kind === 'truncate')) return;
    let entries = 0;
    for (const op of this.ops.splice(1)) {
      assert(op.kind === 'write', 'only writes wait behind a running write here');
      for (const e of op.entries) writeFullySync(this.fd, e.bytes, e.position);
      this.queuedBytes -= op.bytes;
      entries += op.entries.length;
    }
    // With no truncation queued, the waiting writes own exactly the newest entries.
    this.entries.splice(this.entries.length - entries, entries);
  }

  /**
   * Cuts the file to `size` (a batch boundary): at once when nothing is queued, else after the
   * queued writes, so that a write already running cannot land after the cut.
   */
  truncate(size: number): void {
    assert(!this.closeRequested, 'truncate of a closed segment file');
    if (this.failure !== null) throw this.failure;
    while (this.entries.length > 0) {
      const last = this.entries[this.entries.length - 1] as TailEntry;
      if (last.position < size) {
        assert(last.position + last.bytes.length <= size, `truncation at ${size} is inside the batch at ${last.position}`);
        break;
      }
      this.entries.pop();
    }
    for (let i = 1; i < this.ops.length; i++) {
      const op = this.ops[i] as TailOp;
      if (op.kind !== 'write') continue;
      const kept = op.entries.filter((e) => e.position < size);
      const keptBytes = kept.reduce((n, e) => n + e.bytes.length, 0);
      this.queuedBytes -= op.bytes - keptBytes;
      op.entries = kept;
      op.bytes = keptBytes;
    }
    if (this.ops.length === 0) {
      fs.ftruncateSync(this.fd, size);
      return;
    }
    this.ops.push({ kind: 'truncate', seq: this.nextSeq++, size });
  }

  /** Copies file bytes [position, position + length) into `out` at `offset`, queued bytes included. */
  readInto(out: Buffer, offset: number, length: number, position: number): void {
    const end = position + length;
    let cur = position;
    let at = offset;
    for (let i = this.firstEntryEndingAfter(position); i < this.entries.length && cur < end; i++) {
      const e = this.entries[i] as TailEntry;
      if (e.position >= end) break;
      if (e.position > cur) {
        readAllSync(this.fd, out, at, e.position - cur, cur);
        at += e.position - cur;
        cur = e.position;
      }
      const n = Math.min(e.position + e.bytes.length, end) - cur;
      e.bytes.copy(out, at, cur - e.position, cur - e.position + n);
      at += n;
      cur += n;
    }
    if (cur < end) readAllSync(this.fd, out, at, end - cur, cur);
  }

  /**
   * Rewrites bytes in place, synchronously (repair of a damaged range). They must be in the file
   * already: bytes still queued are not what a repair found damaged.
   */
  overwrite(position: number, bytes: Buffer): void {
    const i = this.firstEntryEndingAfter(position);
    assert(i === this.entries.length || (this.entries[i] as TailEntry).position >= position + bytes.length, 'overwrite of bytes not yet written');
    writeFullySync(this.fd, bytes, position);
  }

  private firstEntryEndingAfter(position: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.entries[mid] as TailEntry;
      if (e.position + e.bytes.length <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Resolves when every operation queued so far is done (in the kernel, not yet durable). */
  drain(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const seq = this.nextSeq - 1;
    if (this.doneSeq >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  /** Closes the fd now, or once the running and queued operations finish. */
  close(): void {
    this.closeRequested = true;
    if (this.ops.length === 0) this.closeFd();
  }

  private closeFd(): void {
    if (this.fdClosed) return;
    this.fdClosed = true;
    fs.closeSync(this.fd);
  }

  private startNext(): void {
    const op = this.ops[0];
    if (op === undefined) {
      if (this.closeRequested) this.closeFd();
      return;
    }
    if (op.kind === 'truncate') {
      fs.ftruncate(this.fd, op.size, (err) => this.settle(op, err));
    } else if (op.entries.length === 0) {
      queueMicrotask(() => this.settle(op, null)); // emptied by a truncation
    } else {
      const buffers = op.entries.map((e) => e.bytes);
      fs.writev(this.fd, buffers, op.position, (err, written) => {
        this.settle(op, err ?? (written === op.bytes ? null : new Error(`short write: ${written} of ${op.bytes} bytes at ${op.position}`)));
      });
    }
  }

  private settle(op: TailOp, err: Error | null): void {
    assert(this.ops[0] === op, 'tail operations complete in order');
    this.ops.shift();
    if (err !== null) {
      this.failure ??= err;
      this.ops.splice(0);
      this.queuedBytes = 0;
    } else if (op.kind === 'write') {
      this.queuedBytes -= op.bytes;
      // What a truncation left of the op's entries is the oldest queued bytes: every earlier op
      // completed before it, and truncations drop entries from the newest end.
      let n = 0;
      while (n < op.entries.length && this.entries[n] === op.entries[n]) n++;
      assert(n === op.entries.length || !this.entries.includes(op.entries[n] as TailEntry), 'a completed write owns the oldest queued bytes');
      this.entries.splice(0, n);
    }
    const done = this.doneSeq;
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i] as DrainWaiter;
      if (this.failure !== null) w.reject(this.failure);
      else if (w.seq <= done) w.resolve();
      else {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
    }
    this.startNext();
  }
}

/** Writes all of `bytes` at `position` (a regular file may take a write in parts). */
function writeFullySync(fd: number, bytes: Buffer, position: number): void {
  let written = 0;
  while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written, position + written);
}

function readAllSync(fd: number, out: Buffer, offset: number, length: number, position: number): void {
  const got = fs.readSync(fd, out, offset, length, position);
  assert(got === length, `short read: ${got} of ${length} bytes at ${position}`);
}
