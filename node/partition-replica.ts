/**
 * One partition replica hosted on this node: the Raft group's applier (commit → high watermark,
 * produce waiters answered, long-polling fetches woken) and the produce/fetch entry points.
 *
 * A produce with acks=all is answered when its entry commits *with the term it was proposed in*.
 * If a different entry commits at that index, the write definitely did not happen (NOT_LEADER,
 * retriable). If neither happens before the request's timeout (leadership moved and the new
 * leader has not yet decided), the outcome is unknown and the answer says so (TIMEOUT): the
 * caller must not assume either way. The chaos checker relies on this distinction.
 */
import { firstKeylessRecord, isLogError, validateBatch, type PartitionLog } from '../log/index.js';
import type { Entry, Index, Status } from '../raft/index.js';
import { CommitWaiters } from './commit-waiters.js';
import { controlTypeLogStart, logStartBatch, offsetDecisionOf, tombstoneHorizonBatch } from './raft-entry-batch.js';
import { retentionStartOffset, type RetentionConfig } from './retention-policy.js';
import type { GroupApplier, RaftHost } from './raft-host.js';
import type { PartitionRaftStorage } from './partition-raft-storage.js';
import { ReplicaError } from './replica-error.js';

export type Acks = 'all' | 'leader' | 'none';

/**
 * What a client may append, beyond what log/ checks for any stored batch (size, framing, CRC,
 * compression, record framing): no control or transactional bits (control batches are Ferry's
 * own Raft records, and a client one would be read back as one), no producer id until the
 * idempotent producer exists, and dense offsets 0..n-1 (gaps are legal only in compacted stored
 * batches; a client batch with a 2^31 gap would burn offsets and force a segment per batch).
 * On a compacted topic (`compactedTopic` names it) every record needs a key: compaction keeps the
 * latest record per key, and a keyless one has none (Kafka refuses them the same way).
 */
export function producedBatchProblem(batch: Buffer, maxMessageBytes: number, compactedTopic?: string): ReplicaError | undefined {
  let header;
  try {
    header = validateBatch(batch, maxMessageBytes);
  } catch (err) {
    if (!isLogError(err)) throw err;
    const code = err.code === 'BATCH_TOO_LARGE' ? 'MESSAGE_TOO_LARGE' : err.code === 'UNSUPPORTED_COMPRESSION' ? 'UNSUPPORTED_COMPRESSION' : 'CORRUPT_MESSAGE';
    return new ReplicaError(code, err.message);
  }
  if (header.isControl || header.isTransactional) {
    return new ReplicaError('INVALID_REQUEST', 'control and transactional batches cannot be produced (attributes bits 4-5 must be 0)');
  }
  if (header.producerId !== -1) {
    return new ReplicaError('INVALID_REQUEST', `producer id ${header.producerId} given, but idempotent produce is not supported yet: send -1`);
  }
  if (header.recordCount !== header.lastOffsetDelta + 1) {
    return new ReplicaError('CORRUPT_MESSAGE',
      `batch has ${header.recordCount} records but lastOffsetDelta ${header.lastOffsetDelta}: offset deltas must be 0..n-1`);
  }
  const keyless = compactedTopic === undefined ? null : firstKeylessRecord(batch, header);
  if (keyless !== null) {
    // INVALID_REQUEST (not retriable as is): the request names a field the topic's policy forbids.
    return new ReplicaError('INVALID_REQUEST',
      `topic "${compactedTopic}" is compacted (cleanup.policy includes compact), so every record needs a key; record ${keyless} of the batch has none`);
  }
  return undefined;
}

interface FetchWaiter {
  readonly offset: number;
  readonly wake: () => void;
}

export interface ReplicaLimits {
  /** Largest batch accepted, in bytes (the topic's max.message.bytes). */
  readonly maxMessageBytes: number;
  /** The topic's name when its cleanup.policy includes compact: keyless records are refused. */
  readonly compactedTopic?: string;
}

export class PartitionReplica implements GroupApplier {
  readonly acceptsSnapshots = true;
  private highWatermark: number;
  private status: Status | undefined;
  private readonly waitingForCommit = new CommitWaiters('commit');
  private readonly waitingForPersist = new CommitWaiters('persist');
  private fetchWaiters: FetchWaiter[] = [];
  /** Highest log start this replica proposed as leader (so a pending decision is not re-proposed). */
  private logStartProposed = 0;
  /** The committed tombstone horizon (0 until one commits after this replica opened). */
  private horizon = 0;
  /** Highest horizon this replica proposed as leader. */
  private horizonProposed = 0;

  constructor(
    readonly key: string,
    private readonly selfId: number,
    private readonly host: RaftHost,
    private readonly storage: PartitionRaftStorage,
    private limits: ReplicaLimits,
  ) {
    this.highWatermark = storage.endOffsetOf(storage.initialState().hardState.commit);
  }

  /** A topic config change (max.message.bytes) applies to the next produce. */
  setLimits(limits: ReplicaLimits): void {
    this.limits = limits;
  }

  get log(): PartitionLog {
    return this.storage.log;
  }

  get hw(): number {
    return this.highWatermark;
  }

  /**
   * The first readable offset, the same on every replica: the resume offset of the snapshot
   * retention replicated. The physical log may still hold older bytes (segment boundaries differ
   * between replicas); they are not served.
   */
  get logStartOffset(): number {
    return Math.max(this.log.logStartOffset, this.storage.resumeOffset);
  }

  get isLeader(): boolean {
    return this.status?.role === 'leader';
  }

  get leaderId(): number {
    return this.status?.leader ?? 0;
  }

  get term(): number {
    return this.status?.term ?? 0;
  }

  raftStatus(): Status | undefined {
    return this.host.status(this.key);
  }

  /** Validates, proposes and waits as `acks` asks. Resolves with the batch's base offset. */
  produce(batch: Buffer, acks: Acks, timeoutMs: number): Promise<number> {
    const problem = producedBatchProblem(batch, this.limits.maxMessageBytes, this.limits.compactedTopic);
    if (problem) return Promise.reject(problem);
    if (!this.isLeader) return Promise.reject(this.notLeader());
    const r = this.host.propose(this.key, batch);
    if (!r) return Promise.reject(new ReplicaError('NOT_LEADER', `partition ${this.key} is no longer hosted here`));
    if (!r.ok) {
      if (r.code === 'overloaded') return Promise.reject(new ReplicaError('THROTTLED', `partition ${this.key}: ${r.message}`));
      // Mid-transfer this node still names itself leader: a hint to itself would make clients spin.
      if (r.code === 'transferring') {
        return Promise.reject(new ReplicaError('LEADER_NOT_AVAILABLE', `partition ${this.key} is handing leadership over; retry shortly`));
      }
      return Promise.reject(this.notLeader(r.message));
    }
    if (acks === 'none') return Promise.resolve(-1);
    const waiters = acks === 'all' ? this.waitingForCommit : this.waitingForPersist;
    return waiters.wait(r.index, r.term, timeoutMs).then(() => this.storage.baseOffsetOf(r.index));
  }

  private notLeader(detail?: string): ReplicaError {
    const leader = this.leaderId === this.selfId ? 0 : this.leaderId;
    const msg = `node is not the leader of partition ${this.key}${leader ? `; node ${leader} is` : '; no leader is known yet'}` +
      (detail ? ` (${detail})` : '');
    return new ReplicaError(leader ? 'NOT_LEADER' : 'LEADER_NOT_AVAILABLE', msg, leader || undefined);
  }

  // ---- GroupApplier ------------------------------------------------------------------------

  onPersisted(lastIndex: number): void {
    this.waitingForPersist.settleThrough(lastIndex, (i) => this.storage.term(i as Index));
  }

  onCommitted(entries: readonly Entry[]): void {
    const first = entries[0]!.index;
    const last = entries[entries.length - 1]!.index;
    this.waitingForCommit.settleThrough(last, (i) => entries[i - first]?.term);
    for (const e of entries) {
      if (e.type !== 'normal') continue;
      const decision = offsetDecisionOf(e.data);
      if (decision?.type === controlTypeLogStart) this.applyLogStart(decision.offset);
      else if (decision !== undefined) this.horizon = Math.max(this.horizon, decision.offset);
    }
    const hw = this.storage.endOffsetOf(last);
    if (hw < this.highWatermark) throw new Error(`high watermark of ${this.key} would move back from ${this.highWatermark} to ${hw}`);
    this.highWatermark = hw;
    if (this.fetchWaiters.length > 0) {
      const keep: FetchWaiter[] = [];
      for (const f of this.fetchWaiters) {
        if (f.offset < hw) f.wake();
        else keep.push(f);
      }
      this.fetchWaiters = keep;
    }
  }

  onStatus(status: Status): void {
    // A proposal made in an earlier leadership may have been replaced: allow proposing again.
    if (status.role === 'leader' && this.status?.role !== 'leader') {
      this.logStartProposed = 0;
      this.horizonProposed = 0;
    }
    this.status = status;
  }

  /**
   * Retention, on the leader: if whole segments may go, propose the new log start through Raft so
   * every replica cuts at the same offset when it commits. Returns the proposed offset, if any.
   */
  maybeRetain(config: RetentionConfig, nowMs: number): number | undefined {
    if (!this.isLeader) return undefined;
    const start = retentionStartOffset(this.log.segmentInfos(), config, this.highWatermark, nowMs);
    if (start === undefined || start <= this.logStartOffset || start <= this.logStartProposed) return undefined;
    const r = this.host.propose(this.key, logStartBatch(start));
    if (!r?.ok) return undefined;
    this.logStartProposed = start;
    return start;
  }

  /**
   * Compaction may drop a tombstone only below this offset: every member of the group held every
   * batch below it when the leader proposed it. Each replica's cleaner drops tombstones on its own,
   * and a replica that had not yet received a tombstone would get the leader's batch without it and
   * keep the older value it already held (a deleted key back from the dead on that replica). With
   * the horizon, a tombstone goes only once everyone has it. The same on every replica (committed
   * through Raft); 0 after a restart until the next one commits, which only keeps tombstones longer.
   */
  get tombstoneHorizon(): number {
    return this.horizon;
  }

  /**
   * Compaction, on the leader: propose the offset below which every member (learners too) holds
   * every committed batch, if it moved. Returns the proposed offset, if any.
   */
  maybeAdvanceTombstoneHorizon(): number | undefined {
    const status = this.host.status(this.key);
    if (status?.role !== 'leader' || !status.progress || status.progress.size === 0) return undefined;
    const held = Math.min(status.commit, ...[...status.progress.values()].map((p) => p.match));
    const offset = this.storage.endOffsetOf(held);
    if (offset <= this.horizon || offset <= this.horizonProposed) return undefined;
    const r = this.host.propose(this.key, tombstoneHorizonBatch(offset));
    if (!r?.ok) return undefined;
    this.horizonProposed = offset;
    return offset;
  }

  /** A committed log-start decision: the loop compacts through the entry that ends at `start`. */
  private applyLogStart(start: number): void {
    const index = this.storage.indexEndingAt(start);
    if (index === undefined) return; // already compacted past it, or reset by a snapshot
    this.host.requestCompaction(this.key, index);
  }

  onSnapshot(index: number): void {
    // Entries through the snapshot may have committed under another leader: unknown, not failed.
    this.waitingForCommit.unknownThrough(index, `a log-start reset replaced entries through ${index}`);
    this.waitingForPersist.unknownThrough(index, `a log-start reset replaced entries through ${index}`);
    // The log restarted at the snapshot's resume offset, which is now the high watermark.
    this.highWatermark = Math.max(this.highWatermark, this.storage.endOffsetOf(index));
    for (const f of this.fetchWaiters.splice(0)) f.wake();
  }

  // ---- fetch -------------------------------------------------------------------------------

  /**
   * Committed batches from `offset`, at most ~maxBytes (at least one whole batch). A replica
   * never returns anything at or above its high watermark. Below the log start, or (on the
   * leader) past the log end, is OFFSET_OUT_OF_RANGE with both bounds in the message. Between
   * the high watermark and the log end the answer is empty (the caller long-polls): a new leader's
   * high watermark trails the old one's until its first entry commits, and a consumer positioned
   * there must wait, not be told its offset does not exist.
   */
  read(offset: number, maxBytes: number): { records: Buffer; highWatermark: number; logStartOffset: number } {
    const start = this.logStartOffset;
    const hw = this.highWatermark;
    const end = this.log.logEndOffset;
    if (offset < start || (this.isLeader && offset > end)) {
      throw new ReplicaError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside [${start}, ${Math.max(hw, end)}] of partition ${this.key}`);
    }
    if (offset >= hw) return { records: Buffer.alloc(0), highWatermark: hw, logStartOffset: start };
    const r = this.log.read(offset, maxBytes, hw);
    return { records: r.records, highWatermark: hw, logStartOffset: start };
  }

  /**
   * `ready` resolves once the high watermark passes `offset`; `cancel` stops waiting (and
   * resolves it). The caller bounds the wait with its own timer (the fetch's max wait).
   */
  waitForData(offset: number): { ready: Promise<void>; cancel: () => void } {
    if (offset < this.highWatermark) return { ready: Promise.resolve(), cancel: () => undefined };
    let waiter: FetchWaiter | undefined;
    const ready = new Promise<void>((resolve) => {
      waiter = { offset, wake: resolve };
      this.fetchWaiters.push(waiter);
    });
    return {
      ready,
      cancel: () => {
        this.fetchWaiters = this.fetchWaiters.filter((f) => f !== waiter);
        waiter?.wake();
      },
    };
  }

  /** Fails every pending produce (the replica is being removed or the node is stopping). */
  abortAll(reason: string): void {
    this.waitingForCommit.abortAll(reason);
    this.waitingForPersist.abortAll(reason);
    for (const f of this.fetchWaiters.splice(0)) f.wake();
  }
}
