/**
 * The newest entries of one group's Raft log, exactly as appended. What a leader sends its
 * followers and what every replica applies once committed are nearly always entries it appended
 * moments ago; serving those from here spares reading them back from the page cache into fresh
 * buffers (a copy per batch, and the garbage) on the produce path. A miss falls back to the log.
 *
 * Always one contiguous run of indexes ending at the log's last index. Bounded twice: by its own
 * byte limit, and by a budget shared by every group on the node (so a thousand partitions cannot
 * hold a thousand times the limit). Its own oldest entries go first; when the node's budget is
 * short, the groups that appended least recently are emptied first (an idle partition must not
 * keep cache from busy ones). An entry that does not fit empties the cache (a run stays
 * contiguous). An entry whose bytes are a view into a much larger buffer (a peer frame carrying
 * many groups' entries, a pooled small Buffer) is copied, so what is counted is what is held.
 */
import type { Entry } from '../raft/types.js';

/** Bytes of cached entries across every group of a node. */
export class EntryCacheBudget {
  private usedBytes = 0;
  /** The caches holding bytes, least recently appended to first. */
  private readonly holders = new Set<RaftEntryCache>();

  constructor(readonly bytesMax: number) {
    if (!(Number.isInteger(bytesMax) && bytesMax >= 0)) throw new Error(`entry cache budget must be a non-negative integer, got ${bytesMax}`);
  }

  get used(): number {
    return this.usedBytes;
  }

  /**
   * Takes `bytes` for `cache` if they fit, emptying the caches that appended least recently
   * (never `cache` itself) to make room.
   */
  take(bytes: number, cache: RaftEntryCache): boolean {
    if (bytes > this.bytesMax) return false;
    for (const other of this.holders) {
      if (this.usedBytes + bytes <= this.bytesMax) break;
      if (other !== cache) other.clear();
    }
    if (this.usedBytes + bytes > this.bytesMax) return false;
    this.usedBytes += bytes;
    this.holders.delete(cache); // re-inserted last: the most recent
    this.holders.add(cache);
    return true;
  }

  /** `cache` holds nothing any more. */
  forget(cache: RaftEntryCache): void {
    this.holders.delete(cache);
  }

  give(bytes: number): void {
    this.usedBytes -= bytes;
    if (this.usedBytes < 0) throw new Error(`entry cache budget went negative (${this.usedBytes})`);
  }
}

/** Default per-group limit: a few of the SDK's 1 MiB batches in flight, with room to apply them. */
export const entryCacheBytesPerGroup = 8 * 1024 * 1024;
/** Default node-wide budget. */
export const entryCacheBytesPerNode = 64 * 1024 * 1024;

const sizeOf = (e: Entry): number => e.data.byteLength + 64;

/**
 * The entry itself, or a copy with its own right-sized buffer when its bytes are a view into a
 * much larger one (which caching would otherwise keep alive uncounted).
 */
function owned(e: Entry): Entry {
  if (e.data.buffer.byteLength <= 2 * e.data.byteLength + 4096) return e;
  const copy = Buffer.allocUnsafeSlow(e.data.byteLength);
  copy.set(e.data);
  return { ...e, data: copy };
}

export class RaftEntryCache {
  private entries: Entry[] = [];
  private bytes = 0;

  constructor(private readonly budget: EntryCacheBudget, private readonly bytesMax = entryCacheBytesPerGroup) {}

  get size(): number {
    return this.entries.length;
  }

  /** Adds an entry just appended to the log (it must follow the cached run, or the run restarts). */
  append(e: Entry): void {
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined && e.index !== last.index + 1) this.clear();
    const size = sizeOf(e);
    while (this.entries.length > 0 && this.bytes + size > this.bytesMax) this.evictOldest();
    if (size > this.bytesMax || !this.budget.take(size, this)) {
      this.clear();
      return;
    }
    this.entries.push(owned(e));
    this.bytes += size;
  }

  /** Entries at `index` and after left the log (a follower's conflicting tail was cut). */
  truncateFrom(index: number): void {
    while (this.entries.length > 0 && this.entries[this.entries.length - 1]!.index >= index) {
      const e = this.entries.pop()!;
      this.release(sizeOf(e));
    }
  }

  /** Entries through `index` left the log (compaction). */
  dropThrough(index: number): void {
    while (this.entries.length > 0 && this.entries[0]!.index <= index) this.evictOldest();
  }

  clear(): void {
    this.release(this.bytes);
    this.entries = [];
    this.budget.forget(this);
  }

  /**
   * Entries [lo, hi) within `maxBytes` of data (always at least one), or undefined when the run
   * does not cover them all.
   */
  slice(lo: number, hi: number, maxBytes: number): Entry[] | undefined {
    const first = this.entries[0];
    if (first === undefined || lo < first.index || hi - 1 > this.entries[this.entries.length - 1]!.index) return undefined;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo - first.index; i < hi - first.index; i += 1) {
      const e = this.entries[i]!;
      if (out.length > 0 && bytes + e.data.byteLength > maxBytes) break;
      out.push(e);
      bytes += e.data.byteLength;
    }
    return out;
  }

  private evictOldest(): void {
    const e = this.entries.shift()!;
    this.release(sizeOf(e));
  }

  private release(bytes: number): void {
    this.bytes -= bytes;
    this.budget.give(bytes);
  }
}
