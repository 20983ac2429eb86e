/**
 * raft/'s Storage for one partition, backed by the partition's log/ segments: one Raft entry is
 * one record batch (client data as is; no-op and conf entries as control batches), the batch's
 * partition leader epoch is the entry's term, and RaftIndexMap says which offsets each index
 * covers. The snapshot is where the log starts: the Raft index/term it resumes after and the
 * offset of the next batch (a "log-start reset"); the controller's also carries the image of its
 * state machine there (`kind` says which of the two the group sends and installs).
 *
 * Offsets are assigned when the leader persists its own entries: PartitionLog.append stamps the
 * base offset and term into the batch in place, before the Ready's messages carry the same Entry
 * objects to followers. A follower's copy must already sit exactly at its log end
 * (expectedBaseOffset), which Raft's log matching guarantees; a mismatch is a bug and fails fast.
 */
import { isLogError, patchBaseOffset, patchLeaderEpoch, readBatchHeader, type PartitionLog } from '../log/index.js';
import {
  asIndex, asTerm, type ConfState, type Entry, type HardState, type Index, type Snapshot, type Term,
} from '../raft/types.js';
import type { InitialState, Storage } from '../raft/storage.js';
import type { LogPosition } from '../raft/raft.js';
import type { StoredGroup, StoredSnapshot } from './group-state-store.js';
import { controlBatchFor, entryPayloadOf } from './raft-entry-batch.js';
import type { RaftEntryCache } from './raft-entry-cache.js';
import { RaftIndexMap } from './raft-index-map.js';
import { decodeSnapshotData, encodeSnapshotData, type SnapshotData, type SnapshotKind } from './snapshot-data.js';

/** Bytes read per step of the verified scan at open. */
const scanChunkBytes = 4 * 1024 * 1024;

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export class PartitionRaftStorage implements Storage {
  /** Batches this node proposed as leader: their offsets are assigned here, not checked. */
  private readonly localProposals = new WeakSet<Uint8Array>();

  private constructor(
    readonly log: PartitionLog,
    private readonly map: RaftIndexMap,
    private snap: StoredSnapshot,
    private hardState: HardState,
    private confState: ConfState,
    /** What this group's snapshots carry: a log-start reset, or that plus the controller's image. */
    readonly kind: SnapshotKind,
    /** The newest entries as appended, served before the log is read (none: always read). */
    private readonly cache: RaftEntryCache | undefined,
  ) {}

  /**
   * Rebuilds the index map by a verified scan from where the snapshot says the log resumes.
   * `stored.snapshot` must exist: a group is created with one (raft's bootstrapState).
   *
   * The scan is also where disk damage is caught: every batch is read and CRC-checked, base
   * offsets must follow on, and terms (the batch's partition leader epoch, which Kafka's CRC does
   * not cover) must never fall and never pass the stored term. At the first batch that fails, the
   * log is cut: what follows is re-replicated by the leader, never served. If the log is then
   * shorter than it was after its last persist (`stored.logEnd`), this replica may have
   * acknowledged entries it no longer holds: `lostLogEnd` tells Raft to vote as if its log still
   * ended there, and not to campaign, until it holds that much again.
   */
  static open(log: PartitionLog, stored: StoredGroup, kind: SnapshotKind = 'logStart', cache?: RaftEntryCache): PartitionRaftStorage {
    const snap = stored.snapshot;
    if (!snap) throw new Error('partition group has no stored snapshot: it was never bootstrapped');
    // Retention never deletes past the stored resume offset (the record is written first), so a
    // log that starts after it, or does not continue exactly at it, is a log-start reset that a
    // crash interrupted (the record is stored first; resetTo deletes segments oldest first).
    // What is past the resume offset is re-replicated by the leader: finish the reset.
    if (log.logStartOffset > snap.nextOffset || !PartitionRaftStorage.continuesAt(log, snap.nextOffset)) {
      log.resetTo(snap.nextOffset);
    }
    const map = new RaftIndexMap(snap.index + 1, snap.nextOffset, snap.term);
    const hs = stored.hardState ?? { term: snap.term, vote: 0, commit: snap.index };
    const cut = log.recovery.truncated;
    const damage = PartitionRaftStorage.scanInto(log, map, snap, hs.term) ??
      (cut ? `log recovery cut ${cut.batchesCut} batch(es) from offset ${cut.fromOffset}: ${cut.reason}` : undefined);
    if (damage) log.truncateFrom(map.endOffset);
    // With fsync=never a crash can lose entries below the stored commit; Raft re-learns it.
    const commit = Math.min(hs.commit, map.lastIndex);
    const confState = stored.confState ?? snap.confState;
    // Without a stored end (older data), the stored commit and term are a safe stand-in.
    const heldBefore = stored.logEnd ?? (damage ? { index: hs.commit, term: hs.term } : undefined);
    const storage = new PartitionRaftStorage(
      log, map, snap,
      { term: asTerm(hs.term), vote: hs.vote as HardState['vote'], commit: asIndex(Math.max(commit, snap.index)) },
      { voters: confState.voters as ConfState['voters'], learners: confState.learners as ConfState['learners'] },
      kind,
      cache,
    );
    storage.damage = damage;
    storage.lostLogEnd = heldBefore !== undefined && heldBefore.index > map.lastIndex
      ? { index: asIndex(heldBefore.index), term: asTerm(heldBefore.term) } : undefined;
    return storage;
  }

  /**
   * Appends every sound batch from the snapshot's resume offset to `map`; returns why it stopped
   * early, if it did (the map then ends at the last sound batch).
   */
  private static scanInto(log: PartitionLog, map: RaftIndexMap, snap: StoredSnapshot, maxTerm: number): string | undefined {
    let index = snap.index + 1;
    let lastTerm = snap.term;
    while (map.endOffset < log.logEndOffset) {
      const offset = map.endOffset;
      let r;
      try {
        r = log.read(offset, scanChunkBytes);
      } catch (err) {
        if (isLogError(err, 'CORRUPT_RANGE')) return `batch at offset ${offset} failed verification: ${err.message}`;
        throw err;
      }
      if (r.records.length === 0 || r.firstOffset !== offset) {
        return `no batch starts at offset ${offset} although the log ends at ${log.logEndOffset} (a segment was cut short)`;
      }
      for (let pos = 0; pos < r.records.length;) {
        const h = readBatchHeader(r.records, pos);
        if (h.baseOffset !== map.endOffset) return `batch at ${h.baseOffset} does not follow ${map.endOffset}`;
        if (h.partitionLeaderEpoch < lastTerm || h.partitionLeaderEpoch > maxTerm) {
          return `batch at ${h.baseOffset} has term ${h.partitionLeaderEpoch}, outside [${lastTerm}, ${maxTerm}]`;
        }
        map.append(index, h.partitionLeaderEpoch, h.lastOffset - h.baseOffset + 1);
        lastTerm = h.partitionLeaderEpoch;
        index += 1;
        pos += h.sizeBytes;
      }
    }
    return undefined;
  }

  /** Why open() cut the log, if it found damage. */
  damage: string | undefined;
  /** Raft's lostLogEnd: the last entry held before damage cut the log, if it did. */
  lostLogEnd: LogPosition | undefined;

  /** Whether the log holds a batch boundary at `offset` (or ends exactly there). */
  private static continuesAt(log: PartitionLog, offset: number): boolean {
    if (log.logEndOffset < offset) return false;
    if (log.logEndOffset === offset) return true;
    const first = log.batchHeaders(offset).next();
    return !first.done && first.value.baseOffset === offset;
  }

  // ---- raft/ Storage ---------------------------------------------------------------------

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.confState };
  }

  firstIndex(): Index {
    return asIndex(this.map.firstIndex);
  }

  lastIndex(): Index {
    return asIndex(this.map.lastIndex);
  }

  term(i: Index): Term | undefined {
    const t = this.map.term(i);
    return t === undefined ? undefined : asTerm(t);
  }

  snapshot(): Snapshot {
    return {
      meta: {
        index: asIndex(this.snap.index), term: asTerm(this.snap.term),
        confState: { voters: this.snap.confState.voters as ConfState['voters'], learners: this.snap.confState.learners as ConfState['learners'] },
      },
      // The controller's bootstrap record (index 1) has no image; no follower can be behind it.
      data: encodeSnapshotData({ kind: this.kind, resumeOffset: this.snap.nextOffset, image: this.snap.data }),
    };
  }

  entries(lo: Index, hi: Index, maxBytes: number): readonly Entry[] | undefined {
    if (lo < this.map.firstIndex) return undefined;
    if (hi > this.map.lastIndex + 1 || lo > hi) throw new Error(`entries [${lo}, ${hi}) outside [${this.map.firstIndex}, ${this.map.lastIndex + 1})`);
    const out: Entry[] = [];
    if (lo === hi) return out;
    const cached = this.cache?.slice(lo, hi, maxBytes);
    if (cached) return cached;
    const endOffset = this.map.endOffsetOf(hi - 1);
    let offset = this.map.baseOffset(lo);
    let index: number = lo;
    let bytes = 0;
    while (index < hi) {
      const r = this.log.read(offset, Math.max(1, maxBytes - bytes), endOffset);
      if (r.records.length === 0) throw new Error(`log returned nothing at ${offset} below ${endOffset}`);
      let pos = 0;
      while (pos < r.records.length && index < hi) {
        const header = readBatchHeader(r.records, pos);
        if (out.length > 0 && bytes + header.sizeBytes > maxBytes) return out;
        const batch = r.records.subarray(pos, pos + header.sizeBytes);
        const { type, data } = entryPayloadOf(batch, header);
        out.push({ index: asIndex(index), term: asTerm(header.partitionLeaderEpoch), type, data });
        bytes += header.sizeBytes;
        pos += header.sizeBytes;
        index += 1;
      }
      offset = r.nextOffset;
    }
    return out;
  }

  // ---- the host's side: persist, and answer offset questions --------------------------------

  /** Marks a batch as proposed by this node, so its offsets are assigned on append. */
  markLocalProposal(data: Uint8Array): void {
    this.localProposals.add(data);
  }

  /**
   * Gives this node's own proposals among `entries` the base offset and term append() will give
   * them, now, so they can be replicated while the write runs (the bytes on the wire must be the
   * stored bytes). Only for a fresh tail continuing the log; returns false otherwise (the caller
   * then sends after the persist, when append() has stamped them).
   */
  stampLocalProposals(entries: readonly Entry[]): boolean {
    if (entries.length === 0) return true;
    if (entries[0]!.index !== this.map.lastIndex + 1) return false;
    let offset = this.map.endOffset;
    for (const e of entries) {
      if (e.type !== 'normal') {
        offset += 1; // a no-op or conf entry is stored as a one-record control batch
        continue;
      }
      const batch = asBuffer(e.data);
      if (!this.localProposals.has(e.data)) return false;
      patchBaseOffset(batch, offset);
      patchLeaderEpoch(batch, e.term);
      offset += readBatchHeader(batch).lastOffsetDelta + 1;
    }
    return true;
  }

  /**
   * The persist step for Ready.entries: entries at or below the last index replace the tail from
   * there on (a follower resolving a conflict), then each is appended to the log (page cache;
   * the host flushes when the Ready says mustSync).
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= this.snap.index) throw new Error(`append at ${first} is at or below the snapshot ${this.snap.index}`);
    if (first > this.map.lastIndex + 1) throw new Error(`append at ${first} leaves a gap after ${this.map.lastIndex}`);
    if (first <= this.map.lastIndex) {
      this.cache?.truncateFrom(first);
      this.log.truncateFrom(this.map.truncateFrom(first));
    }
    for (const e of entries) {
      const isLocal = this.localProposals.has(e.data);
      const batch = e.type === 'normal' ? asBuffer(e.data) : controlBatchFor(e);
      // Leader bytes may come from a compacted log: a batch the leader's cleaner emptied is legal.
      const expected = e.type === 'normal' && !isLocal ? { expectedBaseOffset: this.map.endOffset, allowEmpty: true } : {};
      try {
        const r = this.log.append(batch, { ...expected, leaderEpoch: e.term });
        this.map.append(e.index, e.term, r.lastOffset - r.baseOffset + 1);
        // The entry's bytes are now the stored bytes (append stamped offset and term in place).
        this.cache?.append(e);
      } catch (err) {
        if (isLogError(err, 'BASE_OFFSET_MISMATCH')) {
          throw new Error(`replica log diverged at index ${e.index}: ${err.message}`, { cause: err });
        }
        throw err;
      }
    }
  }

  // ---- snapshots: retention (compact) and log-start reset (install) ---------------------------

  /**
   * The log before and including `index` is no longer needed (retention, or the controller's
   * snapshot: `image` is then its state as of `index`). Returns the snapshot record to persist;
   * the caller stores it (synced) first, then calls dropCompactedSegments(): metadata first, so a
   * crash in between leaves data the snapshot no longer needs, never a gap.
   */
  compactThrough(index: number, image: Uint8Array = new Uint8Array(0)): StoredSnapshot {
    const commit = this.hardState.commit;
    if (!(index >= this.map.firstIndex && index <= commit)) {
      throw new Error(`compact through ${index}: must be in [${this.map.firstIndex}, commit ${commit}]`);
    }
    if ((this.kind === 'metadataImage') !== (image.byteLength > 0)) {
      throw new Error(`compact through ${index}: a ${this.kind} group's snapshot ${this.kind === 'logStart' ? 'carries no image' : 'needs an image'}`);
    }
    const next: StoredSnapshot = {
      index, term: this.map.term(index)!, nextOffset: this.map.endOffsetOf(index),
      confState: { voters: [...this.confState.voters], learners: [...this.confState.learners] }, data: image,
    };
    this.map.compactThrough(index);
    this.cache?.dropThrough(index);
    this.snap = next;
    return next;
  }

  /** The held entry whose records end exactly at `offset` (a batch boundary), if any. */
  indexEndingAt(offset: number): number | undefined {
    const i = this.map.indexForOffset(offset - 1);
    return i !== undefined && this.map.endOffsetOf(i) === offset ? i : undefined;
  }

  /** Deletes whole segments below the snapshot's resume offset; returns the new log start. */
  dropCompactedSegments(): number {
    return this.log.deleteBefore(this.snap.nextOffset);
  }

  /**
   * The data of a snapshot received from the leader, checked to be of this group's kind; throws
   * SnapshotDataError (the host drops the message) when it is not.
   */
  snapshotDataOf(snapshot: Snapshot): SnapshotData {
    return decodeSnapshotData(snapshot.data, this.kind);
  }

  /** The record to store for a snapshot received from the leader (before resetToSnapshot). */
  storedSnapshotOf(snapshot: Snapshot): StoredSnapshot {
    const { index, term, confState } = snapshot.meta;
    const d = this.snapshotDataOf(snapshot);
    return {
      index, term, nextOffset: d.resumeOffset,
      confState: { voters: [...confState.voters], learners: [...confState.learners] }, data: d.image,
    };
  }

  /** Installs a received snapshot whose record is already stored: the log restarts at its offset. */
  resetToSnapshot(stored: StoredSnapshot): void {
    if (stored.index <= this.snap.index) throw new Error(`snapshot at ${stored.index} is not newer than ${this.snap.index}`);
    this.cache?.clear();
    this.log.resetTo(stored.nextOffset);
    this.map.reset(stored.index, stored.term, stored.nextOffset);
    this.snap = stored;
    this.confState = { voters: stored.confState.voters as ConfState['voters'], learners: stored.confState.learners as ConfState['learners'] };
  }

  /** Records the durable hard state (the host writes it to the group state store). */
  setHardState(hs: HardState, cs: ConfState | undefined): void {
    this.hardState = hs;
    if (cs) this.confState = cs;
  }

  /** Offset after the last record of entry `index` (the high watermark once it commits). */
  endOffsetOf(index: number): number {
    return this.map.endOffsetOf(Math.max(index, this.map.firstIndex - 1));
  }

  baseOffsetOf(index: number): number {
    return this.map.baseOffset(index);
  }

  /** The state-machine image of the stored snapshot (the controller's; empty for partitions). */
  get snapshotImage(): Uint8Array {
    return this.snap.data;
  }

  /** Where the Raft log (and so every replica's readable history) starts: the snapshot's resume offset. */
  get resumeOffset(): number {
    return this.snap.nextOffset;
  }

  /** Offset after the last entry in the log, committed or not. */
  get logEndOffset(): number {
    return this.map.endOffset;
  }
}
