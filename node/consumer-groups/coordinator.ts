/**
 * The coordinator of the groups of one group-state partition, on that partition's leader.
 *
 * Loading: on becoming leader it writes a load marker and waits for it to commit (so everything
 * an earlier leader committed is below it), folds the log up to the marker into an image, and
 * restores each group from its last persisted snapshot. Until then every call is answered
 * COORDINATOR_NOT_AVAILABLE; on any other node or after losing leadership, NOT_COORDINATOR.
 *
 * Writing: it is the partition's only writer while it leads. A write changes the image only once
 * committed; a write that fails or whose outcome is unknown makes it reload from the log, so the
 * in-memory state never drifts from what the log says. A generation's join answers wait for the
 * group snapshot of that generation to commit, so a new coordinator never hands out a generation
 * number twice and recognises every member that was told it joined.
 *
 * Growth: when the log holds many more records than the state needs, a checkpoint rewrites the
 * whole state at the tail (writes paused meanwhile) and moves the log start to it through Raft.
 *
 * Queue groups hashed to this partition live here too (`queues`, node/queues/): they share this
 * load, these writes and checkpoints, so the partition keeps one writer.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { groupMetadataBytesMax, groupMembersMax, groupsPerCoordinatorMax } from './constants.js';
import { GroupMachine, type GroupErrorCode, type GroupMachineConfig, type JoinRequest, type JoinResult, type SyncResult } from './group-machine.js';
import type { GroupStateImage } from './group-state-image.js';
import type { CommittedOffsetValue, GroupStateRecord } from './group-records.js';
import { partitionKey } from './partition-ref.js';
import { encodeRecords, loadImage, type StatePartition } from './state-partition.js';
import { QueueCoordinator } from '../queues/queue-coordinator.js';
import type { TopicAccess } from '../queues/topic-access.js';

export type CoordinatorErrorCode = GroupErrorCode | 'NOT_COORDINATOR' | 'COORDINATOR_NOT_AVAILABLE' | 'INVALID_REQUEST' | 'UNKNOWN_TOPIC_OR_PARTITION'
  | 'RECEIPT_EXPIRED' | 'QUEUE_GROUP_NOT_FOUND' | 'INTERNAL';

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: { readonly code: CoordinatorErrorCode; readonly message: string } };

function failure<T>(code: CoordinatorErrorCode, message: string): Outcome<T> {
  return { ok: false, error: { code, message } };
}

const done: Outcome<void> = { ok: true, value: undefined };

/** How long one group-state write may wait for its commit. */
const writeTimeoutMs = 10_000;
/** A checkpoint runs once the log holds this many records and 4x what the state needs. */
const checkpointRecordsMin = 20_000;
const checkpointBatchRecordsMax = 2_000;

export interface CoordinatorEnv {
  readonly nodeId: number;
  readonly partition: StatePartition;
  readonly partitionsOf: (topic: string) => number;
  readonly log: Logger;
  readonly nowMs: () => number;
  /** Records in the partition's log now (high watermark - log start), for checkpoint sizing. */
  readonly logRecordCount: () => number;
  /** Overrides checkpointRecordsMin (tests). */
  readonly checkpointRecordsMin?: number;
  /** Ordinary topics, for queue groups (source reads, dead letters). */
  readonly topics: TopicAccess;
}

export interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string;
}

export interface GroupDescription {
  readonly state: string;
  readonly generation: number;
  readonly assignor: string;
  readonly leaderId: string;
  readonly members: ReturnType<GroupMachine['describeMembers']>;
  readonly offsets: ReadonlyArray<CommittedOffsetValue & { readonly topic: string; readonly partition: number }>;
}

type JoinAnswer = (o: Outcome<JoinResult>) => void;

export class GroupCoordinator {
  private phase: 'idle' | 'loading' | 'active' = 'idle';
  /** Bumped by every load and unload: work begun under an older epoch is void. */
  private epoch = 0;
  private loadedTerm = -1;
  private image: GroupStateImage | undefined;
  private readonly groups = new Map<string, GroupMachine>();
  private readonly pendingJoins = new Map<string, Map<string, JoinAnswer>>();
  private inflightWrites = 0;
  private idleWaiters: Array<() => void> = [];
  /** Set while a checkpoint runs: new writes wait for it. */
  private gate: Promise<void> | undefined;
  private readonly machineConfig: GroupMachineConfig;
  /** The queue groups of this partition. */
  readonly queues: QueueCoordinator;

  constructor(readonly statePartition: number, private readonly env: CoordinatorEnv) {
    this.machineConfig = {
      partitionsOf: env.partitionsOf,
      newMemberId: (clientId) => `${clientId || 'member'}-${randomUUID()}`,
      membersMax: groupMembersMax,
    };
    const epochNow = (): number => this.epoch;
    this.queues = new QueueCoordinator({
      unavailable: () => this.unavailable<never>(),
      get epoch() {
        return epochNow();
      },
      write: (records, epoch, preApplied) => this.write(records, epoch, preApplied),
    }, { log: env.log, nowMs: env.nowMs, topics: env.topics });
  }

  get isActive(): boolean {
    return this.phase === 'active';
  }

  /** Called on every leadership change and periodically: loads, reloads or unloads as needed. */
  refresh(): void {
    const p = this.env.partition;
    if (!p.isLeader) {
      if (this.phase !== 'idle') this.unload('leadership of the group-state partition moved');
      return;
    }
    if (this.phase === 'idle' || p.term !== this.loadedTerm) void this.load();
  }

  /** Stops serving (leadership lost, node stopping): pending joins are told to find us again. */
  unload(reason: string): void {
    this.epoch += 1;
    this.phase = 'idle';
    this.loadedTerm = -1;
    this.image = undefined;
    this.groups.clear();
    this.queues.unload();
    for (const answers of this.pendingJoins.values()) for (const answer of answers.values()) answer(failure('NOT_COORDINATOR', reason));
    this.pendingJoins.clear();
  }

  private async load(): Promise<void> {
    this.unload('the coordinator is reloading its state');
    const epoch = this.epoch;
    const term = this.env.partition.term;
    this.phase = 'loading';
    this.loadedTerm = term;
    for (let attempt = 0; epoch === this.epoch && this.env.partition.isLeader; attempt += 1) {
      try {
        const marker = encodeRecords([{ key: { type: 'loaded' }, value: { nodeId: this.env.nodeId, term } }], this.env.nowMs());
        const markerOffset = await this.env.partition.produce(marker, 'all', writeTimeoutMs);
        if (epoch !== this.epoch) return;
        const image = loadImage(this.env.partition, markerOffset);
        const now = this.env.nowMs();
        for (const groupId of image.groupIds()) {
          const snap = image.snapshotOf(groupId);
          if (snap) this.groups.set(groupId, GroupMachine.restore(groupId, this.machineConfig, snap, now));
        }
        this.image = image;
        this.phase = 'active';
        this.queues.load(image.queues, epoch);
        this.env.log.info({ statePartition: this.statePartition, term, groups: this.groups.size, markerOffset }, 'group coordinator loaded');
        return;
      } catch (err) {
        if (epoch !== this.epoch) return;
        this.env.log.warn({ err, statePartition: this.statePartition, attempt }, 'group coordinator could not load yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2_000)));
      }
    }
  }

  private unavailable<T>(): Outcome<T> | undefined {
    if (this.phase === 'active') return undefined;
    if (this.phase === 'loading') return failure('COORDINATOR_NOT_AVAILABLE', `the coordinator of group-state partition ${this.statePartition} is loading; retry shortly`);
    return failure('NOT_COORDINATOR', `node ${this.env.nodeId} does not coordinate group-state partition ${this.statePartition}; find the coordinator again`);
  }

  // ---- writes ------------------------------------------------------------------------------

  /**
   * Appends records through Raft; the image changes only once they committed, unless the caller
   * applied them already (`preApplied`, the queue side: a failed write reloads the image anyway).
   */
  private async write(records: readonly GroupStateRecord[], epoch: number, preApplied = false): Promise<Outcome<void>> {
    if (this.gate) await this.gate;
    if (epoch !== this.epoch || this.phase !== 'active') return this.unavailable() ?? failure('NOT_COORDINATOR', 'the coordinator reloaded; retry');
    this.inflightWrites += 1;
    try {
      await this.env.partition.produce(encodeRecords(records, this.env.nowMs()), 'all', writeTimeoutMs);
      if (epoch !== this.epoch) return failure('NOT_COORDINATOR', 'the coordinator moved or reloaded while writing; retry');
      if (!preApplied) for (const r of records) this.image!.apply(r);
      this.maybeCheckpoint(epoch);
      return done;
    } catch (err) {
      if (epoch === this.epoch) {
        this.env.log.warn({ err, statePartition: this.statePartition }, 'group-state write failed or its outcome is unknown; reloading from the log');
        this.refreshAfterFailure();
      }
      return failure('NOT_COORDINATOR', `group-state write failed (${err instanceof Error ? err.message : String(err)}); find the coordinator and retry`);
    } finally {
      this.inflightWrites -= 1;
      if (this.inflightWrites === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private refreshAfterFailure(): void {
    if (this.env.partition.isLeader) void this.load();
    else this.unload('leadership of the group-state partition moved');
  }

  private maybeCheckpoint(epoch: number): void {
    if (this.gate) return;
    const live = this.image!.liveRecordCount + 1;
    const inLog = this.env.logRecordCount();
    if (inLog < (this.env.checkpointRecordsMin ?? checkpointRecordsMin) || inLog < 4 * live) return;
    void this.checkpoint(epoch);
  }

  /**
   * Rewrites the whole state after everything written so far (writes are paused, and the ones in
   * flight are waited for), then moves the log start to the first rewritten record: what lies
   * below it is superseded, so the log holds O(state), not O(history).
   */
  private async checkpoint(epoch: number): Promise<void> {
    let open!: () => void;
    this.gate = new Promise((r) => (open = r));
    try {
      if (this.inflightWrites > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      if (epoch !== this.epoch) return;
      const all: GroupStateRecord[] = [{ key: { type: 'loaded' }, value: { nodeId: this.env.nodeId, term: this.loadedTerm } }, ...this.image!.records()];
      let start: number | undefined;
      for (let i = 0; i < all.length; i += checkpointBatchRecordsMax) {
        const offset = await this.env.partition.produce(encodeRecords(all.slice(i, i + checkpointBatchRecordsMax), this.env.nowMs()), 'all', writeTimeoutMs);
        start ??= offset;
        if (epoch !== this.epoch) return;
      }
      const proposed = this.env.partition.proposeLogStart(start!);
      this.env.log.info({ statePartition: this.statePartition, records: all.length, logStart: start, proposed }, 'group state checkpointed');
    } catch (err) {
      if (epoch === this.epoch) {
        this.env.log.warn({ err, statePartition: this.statePartition }, 'group-state checkpoint failed; reloading from the log');
        this.refreshAfterFailure();
      }
    } finally {
      this.gate = undefined;
      open();
    }
  }

  /** Answers joins and persists snapshots for what a group's last calls produced. */
  private settle(groupId: string, machine: GroupMachine): void {
    const events = machine.drainEvents();
    if (events.length === 0) return;
    const epoch = this.epoch;
    const persisted = events.some((e) => e.type === 'persist')
      ? this.write([{ key: { type: 'group', group: groupId }, value: machine.snapshot() }], epoch)
      : Promise.resolve(done);
    const answer = (memberId: string, o: Outcome<JoinResult>): void => {
      const answers = this.pendingJoins.get(groupId);
      const a = answers?.get(memberId);
      if (!a) return;
      answers!.delete(memberId);
      if (answers!.size === 0) this.pendingJoins.delete(groupId);
      a(o);
    };
    for (const e of events) {
      if (e.type === 'joinFailed') answer(e.memberId, { ok: false, error: e.error });
      else if (e.type === 'joinCompleted') void persisted.then((w) => answer(e.memberId, w.ok ? { ok: true, value: e.result } : w));
    }
  }

  // ---- membership ----------------------------------------------------------------------------

  join(groupId: string, req: JoinRequest): Promise<Outcome<JoinResult>> {
    const down = this.unavailable<JoinResult>();
    if (down) return Promise.resolve(down);
    let machine = this.groups.get(groupId);
    if (!machine) {
      if (this.groups.size >= groupsPerCoordinatorMax) {
        return Promise.resolve(failure('INVALID_REQUEST', `coordinator of group-state partition ${this.statePartition} holds ${this.groups.size} groups (the limit); delete unused groups`));
      }
      machine = new GroupMachine(groupId, this.machineConfig);
      this.groups.set(groupId, machine);
    }
    const bytes = Buffer.byteLength(JSON.stringify(machine.snapshot())) + Buffer.byteLength(JSON.stringify(req)) * 2;
    if (bytes > groupMetadataBytesMax) {
      return Promise.resolve(failure('GROUP_MAX_SIZE_REACHED', `group ${groupId}'s metadata would exceed ${groupMetadataBytesMax} bytes with this member`));
    }
    const r = machine.join(req, this.env.nowMs());
    if (!r.ok) return Promise.resolve(r);
    const answers = this.pendingJoins.get(groupId) ?? new Map<string, JoinAnswer>();
    this.pendingJoins.set(groupId, answers);
    // A retried join (the client lost the first answer) replaces the older wait.
    answers.get(r.value.memberId)?.(failure('REBALANCE_IN_PROGRESS', 'a newer join of this member replaced this one'));
    const answered = new Promise<Outcome<JoinResult>>((resolve) => answers.set(r.value.memberId, resolve));
    this.settle(groupId, machine);
    return answered;
  }

  private withGroup<T>(groupId: string, fn: (m: GroupMachine) => Outcome<T>): Outcome<T> {
    const down = this.unavailable<T>();
    if (down) return down;
    const machine = this.groups.get(groupId);
    if (!machine) return failure('UNKNOWN_MEMBER', `group ${groupId} has no members on its coordinator; join again`);
    const out = fn(machine);
    this.settle(groupId, machine);
    return out;
  }

  sync(groupId: string, memberId: string, generation: number): Outcome<SyncResult> {
    return this.withGroup(groupId, (m) => m.sync(memberId, generation, this.env.nowMs()));
  }

  heartbeat(groupId: string, memberId: string, generation: number): Outcome<void> {
    return this.withGroup(groupId, (m) => m.heartbeat(memberId, generation, this.env.nowMs()));
  }

  leave(groupId: string, memberId: string): Outcome<void> {
    return this.withGroup(groupId, (m) => m.leave(memberId, this.env.nowMs()));
  }

  /** Session expiry and rebalance deadlines of every group. */
  tick(): void {
    this.forEachGroup((m, now) => m.tick(now));
    this.queues.tick();
  }

  /** Topic metadata changed: groups whose subscribed topics changed partition count rebalance. */
  onMetadataChange(): void {
    this.forEachGroup((m, now) => m.onMetadataChange(now));
  }

  private forEachGroup(fn: (m: GroupMachine, nowMs: number) => void): void {
    if (this.phase !== 'active') return;
    const now = this.env.nowMs();
    for (const [groupId, m] of this.groups) {
      fn(m, now);
      this.settle(groupId, m);
    }
  }

  // ---- offsets -----------------------------------------------------------------------------

  async commit(groupId: string, memberId: string, generation: number, offsets: readonly OffsetToCommit[]): Promise<Outcome<void>> {
    const down = this.unavailable<void>();
    if (down) return down;
    const machine = this.groups.get(groupId);
    if (machine) {
      const check = machine.checkCommit(memberId, generation, offsets.map((o) => partitionKey(o.topic, o.partition)));
      if (!check.ok) return check;
    } else if (memberId !== '' || generation >= 0) {
      return failure('UNKNOWN_MEMBER', `group ${groupId} has no members, so member ${memberId} of generation ${generation} cannot commit; join again`);
    } else if (this.image!.offsetsOf(groupId).size === 0 && this.groups.size + this.image!.groupIds().length >= groupsPerCoordinatorMax) {
      return failure('INVALID_REQUEST', `coordinator of group-state partition ${this.statePartition} holds the maximum number of groups`);
    }
    if (memberId === '') {
      // From outside the group (a reset): every partition must exist, or the offset means nothing.
      const missing = offsets.filter((o) => o.partition >= this.env.partitionsOf(o.topic));
      if (missing.length > 0) return failure('UNKNOWN_TOPIC_OR_PARTITION', `no such partition: ${missing.slice(0, 10).map((o) => partitionKey(o.topic, o.partition)).join(', ')}`);
    }
    const now = this.env.nowMs();
    return this.write(offsets.map((o) => ({
      key: { type: 'offset', group: groupId, topic: o.topic, partition: o.partition },
      value: { offset: o.offset, metadata: o.metadata, commitTimestampMs: now },
    })), this.epoch);
  }

  fetchOffsets(groupId: string): Outcome<GroupDescription['offsets']> {
    const down = this.unavailable<GroupDescription['offsets']>();
    if (down) return down;
    return { ok: true, value: [...this.image!.offsetsOf(groupId).values()] };
  }

  // ---- administration ------------------------------------------------------------------------

  list(): Outcome<Array<{ groupId: string; state: string; members: number; assignor: string }>> {
    const down = this.unavailable<Array<{ groupId: string; state: string; members: number; assignor: string }>>();
    if (down) return down;
    const ids = [...new Set([...this.groups.keys(), ...this.image!.groupIds()])].sort();
    return {
      ok: true,
      value: ids.map((groupId) => {
        const m = this.groups.get(groupId);
        return { groupId, state: m?.state ?? 'Empty', members: m?.memberCount ?? 0, assignor: m?.assignor ?? '' };
      }),
    };
  }

  describe(groupId: string): Outcome<GroupDescription> {
    const down = this.unavailable<GroupDescription>();
    if (down) return down;
    const m = this.groups.get(groupId);
    const offsets = [...this.image!.offsetsOf(groupId).values()];
    if (!m && offsets.length === 0) return failure('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist (no members, no committed offsets)`);
    const members = m?.describeMembers() ?? [];
    return {
      ok: true,
      value: { state: m?.state ?? 'Empty', generation: m?.generation ?? 0, assignor: m?.assignor ?? '', leaderId: members[0]?.id ?? '', members, offsets },
    };
  }

  /** Deletes an empty group: tombstones for its snapshot and every committed offset. */
  async deleteGroup(groupId: string): Promise<Outcome<void>> {
    const down = this.unavailable<void>();
    if (down) return down;
    const m = this.groups.get(groupId);
    if (m && m.memberCount > 0) return failure('GROUP_NOT_EMPTY', `group ${groupId} has ${m.memberCount} member(s); stop them before deleting it`);
    const offsets = [...this.image!.offsetsOf(groupId).values()];
    const hasSnapshot = this.image!.snapshotOf(groupId) !== undefined;
    if (!m && offsets.length === 0 && !hasSnapshot) return failure('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
    m?.markDead();
    const tombstones: GroupStateRecord[] = [
      { key: { type: 'group', group: groupId }, value: null },
      ...offsets.map((o): GroupStateRecord => ({ key: { type: 'offset', group: groupId, topic: o.topic, partition: o.partition }, value: null })),
    ];
    const r = await this.write(tombstones, this.epoch);
    if (r.ok && this.groups.get(groupId) === m) this.groups.delete(groupId);
    return r;
  }
}
