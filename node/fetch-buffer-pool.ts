/**
 * Buffers that fetch reads land in, taken per read and given back once the answer has been encoded
 * (node/fetch-response-encoding.ts copies the records out). A node serving consumers reads
 * megabytes per fetch; a fresh buffer for each counts as V8 external memory and brings the next
 * full collection closer (see fetch-response-encoding.ts), so the same few buffers go round instead.
 *
 * A buffer that is never given back (an answer dropped because the call was cancelled) is simply
 * collected; a view of a buffer the pool did not make is ignored by give().
 */

/** Smallest buffer the pool makes: most fetches of a busy partition fit. */
const pooledBytesMin = 1024 * 1024;
/** Free buffers kept, in bytes: beyond this, given-back buffers are left to the collector. */
export const fetchPoolBytesMax = 64 * 1024 * 1024;

export class FetchBufferPool {
  private readonly free: Buffer[] = [];
  private freeBytes = 0;
  /** The whole buffers this pool made, by their memory (views from reads share it). */
  private readonly made = new WeakMap<ArrayBufferLike, Buffer>();
  private readonly out = new WeakSet<Buffer>();

  /** A buffer of at least `bytes`; the caller must treat it as uninitialised. */
  readonly take = (bytes: number): Buffer => {
    const i = this.free.findIndex((b) => b.length >= bytes);
    let buf: Buffer;
    if (i >= 0) {
      buf = this.free.splice(i, 1)[0] as Buffer;
      this.freeBytes -= buf.length;
    } else {
      buf = Buffer.allocUnsafeSlow(Math.max(bytes, pooledBytesMin)); // own memory, never Node's shared slab
      this.made.set(buf.buffer, buf);
    }
    this.out.add(buf);
    return buf;
  };

  /** Gives back the buffer `view` was read into; nothing may use `view` afterwards. */
  give(view: Buffer): void {
    const buf = this.made.get(view.buffer);
    if (buf === undefined || !this.out.has(buf)) return; // not ours, or already given back
    this.out.delete(buf);
    if (this.freeBytes + buf.length > fetchPoolBytesMax) return;
    this.free.push(buf);
    this.freeBytes += buf.length;
  }
}
