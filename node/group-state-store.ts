/**
 * The small durable state of every Raft group hosted on this node, in one LevelDB (the design
 * card: hard state and small metadata in LevelDB, log entries in log/ segments):
 *   hs/<group>    term, vote, commit
 *   conf/<group>  voters and learners
 *   snap/<group>  where the group's log starts: the snapshot index/term it resumes after, the
 *                 offset of the entry after it, the membership then, and any state-machine image
 *   end/<group>   the last Raft entry (index, term) the log held after the latest persist: how a
 *                 restart tells a damaged (shortened) log from one that never held more
 *   since/<group> the metadata version at which this node began hosting the group: metadata
 *                 older than that (replayed at a restart) must never make it delete the group
 * Each value carries a format version and a CRC-32C of its payload on top of LevelDB's own
 * checksums, so a damaged value is detected rather than decoded into a wrong vote.
 * Writes of one loop iteration go out as one LevelDB batch; it is synced when any write needs it
 * (a term or vote change must be on disk before the message that depends on it is sent).
 */
import { crc32c } from '@node-rs/crc32';
import { Level } from 'level';

const formatVersion = 1;

export interface StoredHardState {
  readonly term: number;
  readonly vote: number;
  readonly commit: number;
}

export interface StoredConfState {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

export interface StoredSnapshot {
  /** Last Raft index the snapshot covers (0: none). */
  readonly index: number;
  readonly term: number;
  /** Kafka offset of the first entry after `index`: where the partition log resumes. */
  readonly nextOffset: number;
  readonly confState: StoredConfState;
  /** A state-machine image (the controller's); empty for partitions. Base64 in the JSON. */
  readonly data: Uint8Array;
}

export interface StoredLogEnd {
  readonly index: number;
  readonly term: number;
}

export interface StoredGroup {
  readonly hardState: StoredHardState | undefined;
  readonly confState: StoredConfState | undefined;
  readonly snapshot: StoredSnapshot | undefined;
  /** The log's last entry after the latest persist (undefined in data written before it existed). */
  readonly logEnd?: StoredLogEnd | undefined;
  /** The metadata version at which this node began hosting it (undefined in older data). */
  readonly hostedSince?: number | undefined;
}

export class StoreCorruptionError extends Error {
  override readonly name = 'StoreCorruptionError';
}

function encode(value: unknown): Buffer {
  // The replacer looks at the holder's own value: JSON.stringify turns a Buffer into
  // {type, data} through its toJSON before a replacer sees it.
  const payload = Buffer.from(JSON.stringify(value, function (this: Record<string, unknown>, k: string, v: unknown) {
    const raw = this[k];
    return raw instanceof Uint8Array ? { $bytes: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') } : v;
  }));
  const out = Buffer.allocUnsafe(5 + payload.length);
  out.writeUInt8(formatVersion, 0);
  out.writeUInt32BE(crc32c(payload), 1);
  payload.copy(out, 5);
  return out;
}

function decode<T>(key: string, raw: Buffer | undefined): T | undefined {
  if (raw === undefined) return undefined;
  if (raw.length < 5 || raw.readUInt8(0) !== formatVersion) {
    throw new StoreCorruptionError(`group state ${key}: unknown format (version byte ${raw[0]}, ${raw.length} bytes)`);
  }
  const payload = raw.subarray(5);
  if (crc32c(payload) !== raw.readUInt32BE(1)) throw new StoreCorruptionError(`group state ${key}: CRC mismatch`);
  return JSON.parse(payload.toString('utf8'), (_k, v: unknown) =>
    v !== null && typeof v === 'object' && '$bytes' in v ? new Uint8Array(Buffer.from(String((v as { $bytes: string }).$bytes), 'base64')) : v) as T;
}

type PendingWrite = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

export class GroupStateStore {
  private pending: PendingWrite[] = [];
  private pendingSync = false;
  /** The last batch written: batches go out one after another, never two at once. */
  private last: Promise<void> = Promise.resolve();

  private constructor(private readonly db: Level<string, Buffer>) {}

  static async open(dir: string): Promise<GroupStateStore> {
    const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    return new GroupStateStore(db);
  }

  async load(group: string): Promise<StoredGroup> {
    const [hs, conf, snap, end, since] = await this.db.getMany([`hs/${group}`, `conf/${group}`, `snap/${group}`, `end/${group}`, `since/${group}`]);
    return {
      hardState: decode<StoredHardState>(`hs/${group}`, hs),
      confState: decode<StoredConfState>(`conf/${group}`, conf),
      snapshot: decode<StoredSnapshot>(`snap/${group}`, snap),
      logEnd: decode<StoredLogEnd>(`end/${group}`, end),
      hostedSince: decode<{ version: number }>(`since/${group}`, since)?.version,
    };
  }

  setHostedSince(group: string, version: number): void {
    this.queue({ type: 'put', key: `since/${group}`, value: encode({ version }) }, true);
  }

  /** Groups that have state here (to reopen them at start-up before metadata arrives). */
  async groups(): Promise<string[]> {
    const out: string[] = [];
    for await (const key of this.db.keys({ gte: 'hs/', lt: 'hs0' })) out.push(key.slice(3));
    return out;
  }

  setHardState(group: string, hs: StoredHardState, sync: boolean): void {
    this.queue({ type: 'put', key: `hs/${group}`, value: encode(hs) }, sync);
  }

  setConfState(group: string, cs: StoredConfState): void {
    this.queue({ type: 'put', key: `conf/${group}`, value: encode(cs) }, true);
  }

  setSnapshot(group: string, snap: StoredSnapshot): void {
    this.queue({ type: 'put', key: `snap/${group}`, value: encode(snap) }, true);
  }

  /** Not synced: after a process crash the OS still has it; a stale value only errs towards caution. */
  setLogEnd(group: string, end: StoredLogEnd): void {
    this.queue({ type: 'put', key: `end/${group}`, value: encode(end) }, false);
  }

  deleteGroup(group: string): void {
    for (const prefix of ['hs', 'conf', 'snap', 'end', 'since']) this.queue({ type: 'del', key: `${prefix}/${group}` }, true);
  }

  private queue(w: PendingWrite, sync: boolean): void {
    // Later writes to the same key win inside one LevelDB batch, as they must.
    this.pending.push(w);
    this.pendingSync ||= sync;
  }

  /** True when writes are queued. */
  get dirty(): boolean {
    return this.pending.length > 0;
  }

  /**
   * Writes everything queued as one batch, fsynced when any queued write asked for it. Batches
   * are chained: LevelDB runs concurrent batches on the thread pool in any order, and an older
   * hard state or snapshot record must never land after a newer one.
   */
  commit(): Promise<void> {
    if (this.pending.length === 0) return this.last;
    const ops = this.pending;
    const sync = this.pendingSync;
    this.pending = [];
    this.pendingSync = false;
    this.last = this.last.then(() => this.db.batch(ops, { sync }));
    return this.last;
  }

  async close(): Promise<void> {
    await this.commit();
    await this.db.close();
  }
}
