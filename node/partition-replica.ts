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
import { firstKeylessRecord, isLogError, readBatchHeader, validateBatch, type BatchHeader, type PartitionLog } from '../log/index.js';
import type { Entry, Index, Status } from '../raft/index.js';
import { CommitWaiters } from './commit-waiters.js';
import { controlTypeLogStart, logStartBatch, logStartOf, offsetDecisionOf, tombstoneHorizonBatch } from './raft-entry-batch.js';
import { retentionStartOffset, type RetentionConfig } from './retention-policy.js';
import type { GroupApplier, RaftHost } from './raft-host.js';
import type { PartitionRaftStorage } from './partition-raft-storage.js';
import { ProduceReorderBuffer } from './produce-reorder-buffer.js';
import { lastSequenceOf, nextSequence, ProducerStateTable, type ProducerBatch } from './producer-state.js';
import { ReplicaError } from './replica-error.js';

export type Acks = 'all' | 'leader' | 'none';

/**
 * What a client may append, beyond what log/ checks for any stored batch (size, framing, CRC,
 * compression, record framing): no control or transactional bits (control batches are Ferry's
 * own Raft records, and a client one would be read back as one), an idempotent producer's id,
 * epoch and sequence in range (or all three -1), and dense offsets 0..n-1 (gaps are legal only in
 * compacted stored batches; a client batch with a 2^31 gap would burn offsets and force a segment
 * per batch). On a compacted topic (`compactedTopic` names it) every record needs a key:
 * compaction keeps the latest record per key, and a keyless one has none (Kafka refuses them the
 * same way). Returns the header of an acceptable batch.
 */
export function checkProducedBatch(batch: Buffer, maxMessageBytes: number, compactedTopic?: string): ReplicaError | BatchHeader {
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
  if (header.producerId === -1) {
    if (header.producerEpoch !== -1 || header.baseSequence !== -1) {
      return new ReplicaError('INVALID_REQUEST', `a batch without producer id must have producer epoch and base sequence -1, got ${header.producerEpoch} and ${header.baseSequence}`);
    }
  } else if (header.producerId < 0 || header.producerEpoch < 0 || header.baseSequence < 0) {
    return new ReplicaError('INVALID_REQUEST',
      `idempotent batch needs producer id, epoch and base sequence >= 0 (or all -1), got ${header.producerId}/${header.producerEpoch}/${header.baseSequence}`);
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
  return header;
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

/** Idempotent producer ids remembered per partition (least recently written dropped first). */
export const producersPerPartitionMax = 10_000;

export class PartitionReplica implements GroupApplier {
  private highWatermark: number;
  private status: Status | undefined;
  private readonly waitingForCommit = new CommitWaiters('commit');
  private readonly waitingForPersist = new CommitWaiters('persist');
  private fetchWaiters: FetchWaiter[] = [];
  /** Highest log start this replica proposed as leader (so a pending decision is not re-proposed). */
  private logStartProposed = 0;
  /** Last Raft index applied to `producers`. */
  private appliedIndex: number;
  /** Idempotent-producer state of the committed log, the same on every replica. */
  private producers: ProducerStateTable;
  /**
   * The leader's view: `producers` plus its uncommitted tail and its own proposals since, so a
   * batch in flight behind another is checked against it. Built on the first idempotent produce
   * of a leadership, dropped when leadership changes (a leader's log only grows while it leads).
   */
  private leaderView: ProducerStateTable | undefined;
  /** Idempotent batches that arrived ahead of the ones before them (leader only). */
  private readonly reorder = new ProduceReorderBuffer();
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
    const commit = storage.initialState().hardState.commit;
    this.highWatermark = storage.endOffsetOf(commit);
    this.producers = new ProducerStateTable(producersPerPartitionMax);
    this.appliedIndex = storage.firstIndex() - 1;
    this.replayProducers(this.producers, this.appliedIndex, commit);
    this.appliedIndex = commit;
  }

  /**
   * Applies the log's batches after `afterIndex` through `throughIndex` to `table`, as committed
   * entries are applied: a header scan, reading only log-start records in full.
   */
  private replayProducers(table: ProducerStateTable, afterIndex: number, throughIndex: number): void {
    if (throughIndex <= afterIndex) return;
    let index = afterIndex + 1;
    for (const h of this.log.batchHeaders(this.storage.endOffsetOf(afterIndex))) {
      if (index > throughIndex) break;
      if (h.isControl) {
        const start = logStartOf(this.log.read(h.baseOffset, h.sizeBytes, h.lastOffset + 1).records);
        if (start !== undefined) table.prune(start);
      } else if (h.producerId >= 0) {
        table.record(h, index, h.baseOffset);
      }
      index += 1;
    }
    if (index <= throughIndex) throw new Error(`partition ${this.key}: log ends at index ${index - 1}, before ${throughIndex}`);
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

  /**
   * Validates, proposes and waits as `acks` asks. Resolves with the batch's base offset. A retry
   * of an idempotent batch already in the log is not appended again: it is answered with the
   * original's offset once that is acknowledged as `acks` asks.
   */
  produce(batch: Buffer, acks: Acks, timeoutMs: number): Promise<number> {
    const header = checkProducedBatch(batch, this.limits.maxMessageBytes, this.limits.compactedTopic);
    if (header instanceof ReplicaError) return Promise.reject(header);
    return this.produceChecked(batch, header, acks, timeoutMs, this.reorder.deadlineFromNow());
  }

  /** produce() past the batch checks; `holdDeadlineMs` bounds how long an early batch may wait. */
  private produceChecked(batch: Buffer, header: BatchHeader, acks: Acks, timeoutMs: number, holdDeadlineMs: number): Promise<number> {
    if (!this.isLeader) return Promise.reject(this.notLeader());
    let view: ProducerStateTable | undefined;
    if (header.producerId >= 0) {
      try {
        view = this.leaderView ?? this.buildLeaderView();
      } catch (err) {
        return Promise.reject(err);
      }
      const verdict = view.check(header);
      if (verdict.kind === 'duplicate') return this.answerDuplicate(verdict.batch, acks, timeoutMs);
      if (verdict.kind === 'reject') {
        const refusal = new ReplicaError(verdict.code, `partition ${this.key}: ${verdict.message}`);
        if (!verdict.early) return Promise.reject(refusal);
        return new Promise<number>((resolve, reject) => {
          const held = this.reorder.hold(header.producerId, header.baseSequence, batch.length, holdDeadlineMs,
            (deadline) => resolve(this.produceChecked(batch, header, acks, timeoutMs, deadline)),
            (err) => reject(err ?? refusal));
          if (!held) reject(refusal);
        });
      }
    }
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
    view?.record(header, r.index, -1, r.term);
    const waiters = acks === 'all' ? this.waitingForCommit : this.waitingForPersist;
    const answer = acks === 'none' ? Promise.resolve(-1) : waiters.wait(r.index, r.term, timeoutMs).then(() => this.storage.baseOffsetOf(r.index));
    // Batches held for this one go after it, also in the waiters' index order.
    if (view) this.reorder.release(header.producerId, nextSequence(lastSequenceOf(header.baseSequence, header.lastOffsetDelta)));
    return answer;
  }

  /** Builds the leader's producer view: the applied table plus the log's uncommitted tail. */
  private buildLeaderView(): ProducerStateTable {
    const status = this.host.status(this.key);
    const last = this.storage.lastIndex();
    // Entries raft holds but the loop has not written yet (received just before this election)
    // cannot be scanned; the next loop cycle writes them.
    if (!status || status.lastIndex !== last) {
      throw new ReplicaError('LEADER_NOT_AVAILABLE', `partition ${this.key}: the new leader is still writing its log; retry shortly`);
    }
    const view = this.producers.clone();
    this.replayProducers(view, this.appliedIndex, last);
    this.leaderView = view;
    return view;
  }

  /** A retried batch: answered with the original's offset once that is acknowledged as `acks` asks. */
  private answerDuplicate(original: ProducerBatch, acks: Acks, timeoutMs: number): Promise<number> {
    if (acks === 'none') return Promise.resolve(-1);
    if (original.index <= this.appliedIndex) {
      return Promise.resolve(original.baseOffset >= 0 ? original.baseOffset : this.storage.baseOffsetOf(original.index));
    }
    // A leader's own proposal carries its term: its entry may not be written yet (a retry can
    // arrive that soon, e.g. a held copy released in the same call).
    const term = original.term ?? this.storage.term(original.index as Index);
    if (term === undefined) throw new Error(`partition ${this.key}: uncommitted entry ${original.index} of a producer has no term`);
    const waiters = acks === 'all' ? this.waitingForCommit : this.waitingForPersist;
    return waiters.waitExisting(original.index, term, timeoutMs).then(() => this.storage.baseOffsetOf(original.index));
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
      if (e.index <= this.appliedIndex) continue; // rebuilt from the log at open
      this.appliedIndex = e.index;
      if (e.type !== 'normal') continue;
      const header = readBatchHeader(Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
      if (header.isControl) {
        const decision = offsetDecisionOf(e.data);
        if (decision?.type === controlTypeLogStart) {
          this.producers.prune(decision.offset);
          this.applyLogStart(decision.offset);
        } else if (decision !== undefined) {
          this.horizon = Math.max(this.horizon, decision.offset);
        }
      } else if (header.producerId >= 0) {
        this.producers.record(header, e.index, header.baseOffset);
      }
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
    const changed = status.role !== this.status?.role || status.term !== this.status.term;
    this.status = status;
    if (changed) {
      this.leaderView = undefined;
      // Held batches were checked against the old view; the client retries them on the new leader.
      this.reorder.failAll(this.notLeader('leadership changed while the batch waited for the ones before it'));
    }
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
   * Forgets idempotent producers whose last batch is older than `idleMs`, by this replica's own
   * clock (as Kafka does): replicas may briefly disagree, which can only turn a late retry into
   * UNKNOWN_PRODUCER_ID, never into a second append. Returns how many were forgotten.
   */
  expireProducers(nowMs: number, idleMs: number): number {
    this.leaderView?.expireIdle(nowMs, idleMs);
    return this.producers.expireIdle(nowMs, idleMs);
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

  /** A log-start reset needs nothing but its kind, which the storage checked. */
  checkSnapshot(): string | undefined {
    return undefined;
  }

  onSnapshot(index: number): void {
    // The log restarts after `index`: no batch before it is left to derive producer state from.
    this.producers = new ProducerStateTable(producersPerPartitionMax);
    this.leaderView = undefined;
    this.appliedIndex = index;
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
  read(offset: number, maxBytes: number, alloc?: (bytes: number) => Buffer): { records: Buffer; highWatermark: number; logStartOffset: number } {
    const start = this.logStartOffset;
    const hw = this.highWatermark;
    const end = this.log.logEndOffset;
    if (offset < start || (this.isLeader && offset > end)) {
      throw new ReplicaError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside [${start}, ${Math.max(hw, end)}] of partition ${this.key}`);
    }
    if (offset >= hw) return { records: Buffer.alloc(0), highWatermark: hw, logStartOffset: start };
    const r = this.log.read(offset, maxBytes, hw, alloc);
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
    this.reorder.failAll(new ReplicaError('NOT_LEADER', `${reason}; retry on the partition's leader`));
    this.waitingForCommit.abortAll(reason);
    this.waitingForPersist.abortAll(reason);
    for (const f of this.fetchWaiters.splice(0)) f.wake();
  }
}
