/**
 * Multi-raft: one event loop drives the Ready cycles of every Raft group on this node (one per
 * hosted partition replica, plus the controller's). gRPC handlers and timers only step, tick or
 * propose and mark the group dirty; the loop then runs cycles until nothing is dirty:
 *
 *   1. gather a Ready from every dirty group that has one
 *   2. PERSIST all of them: entries to the page cache (sync writes), then every touched log's
 *      fsync in parallel with one LevelDB batch for hard states: one group commit across
 *      batches *and* partitions
 *   3. SEND every message, one frame per peer
 *   4. APPLY committed entries (the group's applier: waiters, high watermark, state machines)
 *   5. ADVANCE each group, which may release acknowledgements for the next cycle
 *
 * Anything that breaks an invariant here (a diverged replica log, a failed fsync) stops the
 * process: a node that cannot keep promise 1 must not keep answering.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { RawNode, Xoshiro128, type Entry, type Message, type ProposeResult, type Ready, type Snapshot, type Status } from '../raft/index.js';
import { NO_NODE, type ConfChange, type NodeId } from '../raft/types.js';
import type { FsyncPolicy } from './config.js';
import type { GroupStateStore } from './group-state-store.js';
import type { PartitionRaftStorage } from './partition-raft-storage.js';
import type { SnapshotData } from './snapshot-data.js';

/** What the host sends messages through (the gRPC PeerTransport, or an in-memory one in tests). */
export interface MessageSink {
  send(group: string, message: Message): void;
  flush(): void;
}

/** A group's state machine side: told about durability and commits, in order. */
export interface GroupApplier {
  /** Entries up to `lastIndex` are durable on this node (acks=leader can answer). */
  onPersisted(lastIndex: number): void;
  /** Committed entries, in index order, exactly once per node lifetime. */
  onCommitted(entries: readonly Entry[]): void;
  /** Called when the group's role, leader or term changed. */
  onStatus(status: Status): void;
  /**
   * A snapshot was installed: everything through `index` is committed; `image` is the state
   * machine's image as of `index` (empty for a partition's log-start reset).
   */
  onSnapshot(index: number, image: Uint8Array): void;
  /**
   * Why a snapshot received from the leader (already checked to be of the group's kind) must not
   * be installed, or undefined when it may be: checked before Raft sees it, so a bad one changes
   * nothing.
   */
  checkSnapshot(index: number, data: SnapshotData): string | undefined;
}

/** A commit-index-only change of a group's hard state is written at most this often. */
const commitPersistIntervalMs = 1_000;

export interface RaftTimingConfig {
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
}

interface HostedGroup {
  readonly key: string;
  readonly raw: RawNode;
  readonly storage: PartitionRaftStorage;
  readonly applier: GroupApplier;
  lastTerm: number;
  lastVote: number;
  /** When the hard state was last written (performance.now() ms). */
  lastHardStateWriteMs: number;
  /** A commit-only hard state not written yet (written by tick() once due, and at stop). */
  unwrittenHardState: { term: number; vote: number; commit: number } | undefined;
  /** Retention (or a controller snapshot) asked to compact through this index; done by the loop after the next persist. */
  compactThrough: { index: number; image: Uint8Array } | undefined;
  removed: boolean;
  /** What onStatus last reported, to call it on changes only. */
  seen: { role: string; leader: number; term: number };
}

export interface RaftHostOptions {
  readonly nodeId: NodeId;
  readonly store: GroupStateStore;
  readonly sink: MessageSink;
  readonly fsync: FsyncPolicy;
  readonly timing: RaftTimingConfig;
  readonly log: Logger;
  /** Seed for election jitter; random unless a test fixes it. */
  readonly seed?: number;
  /** Called when the loop hits an invariant violation or an I/O failure it cannot survive. */
  readonly onFatal: (err: unknown) => void;
  /** Called when any group's role, leader or term changed (after its applier was told). */
  readonly onStatusChange?: (key: string, status: Status) => void;
}

export class RaftHost {
  private readonly groups = new Map<string, HostedGroup>();
  private readonly dirty = new Set<HostedGroup>();
  private scheduled = false;
  private running = false;
  private stopped = false;
  private readonly idle: Array<() => void> = [];
  private seedCounter: number;

  constructor(private readonly options: RaftHostOptions) {
    this.seedCounter = options.seed ?? randomInt(2 ** 31);
  }

  get groupCount(): number {
    return this.groups.size;
  }

  hasGroup(key: string): boolean {
    return this.groups.has(key);
  }

  /**
   * Starts driving a group. `replayFromSnapshot`: committed entries after the snapshot are handed
   * to the applier again (a state machine rebuilt from its log, like the controller's); otherwise
   * the applier starts at the stored commit (a partition: its log *is* the state).
   */
  addGroup(key: string, storage: PartitionRaftStorage, applier: GroupApplier, replayFromSnapshot = false): RawNode {
    if (this.groups.has(key)) throw new Error(`group ${key} is already hosted`);
    const init = storage.initialState();
    const raw = new RawNode({
      id: this.options.nodeId,
      storage,
      random: new Xoshiro128(this.seedCounter++),
      applied: replayFromSnapshot ? storage.firstIndex() - 1 as typeof init.hardState.commit : init.hardState.commit,
      electionTimeoutTicks: this.options.timing.electionTimeoutTicks,
      // With fsync=never every crash may lose a tail: withholding then could leave no voter at all,
      // and that mode promises nothing about acknowledged writes on a whole-cluster crash anyway.
      ...(this.options.fsync === 'always' && storage.lostLogEnd ? { lostLogEnd: storage.lostLogEnd } : {}),
      heartbeatIntervalTicks: this.options.timing.heartbeatIntervalTicks,
    });
    const g: HostedGroup = { key, raw, storage, applier, lastTerm: init.hardState.term, lastVote: init.hardState.vote, lastHardStateWriteMs: 0, unwrittenHardState: undefined, compactThrough: undefined, removed: false,
      seen: { role: '', leader: -1, term: -1 } };
    this.groups.set(key, g);
    this.markDirty(g);
    return raw;
  }

  /** Stops driving a group (topic deleted, replica moved). Its files are the caller's to remove. */
  removeGroup(key: string): void {
    const g = this.groups.get(key);
    if (!g) return;
    g.removed = true;
    this.groups.delete(key);
    this.dirty.delete(g);
  }

  status(key: string): Status | undefined {
    return this.groups.get(key)?.raw.status();
  }

  /** Groups this node leads now, with their terms (for leader reports to peers). */
  ledGroups(): Array<{ group: string; term: number }> {
    const out: Array<{ group: string; term: number }> = [];
    for (const g of this.groups.values()) if (g.raw.raft.role === 'leader') out.push({ group: g.key, term: g.raw.raft.term });
    return out;
  }

  /** Ticks every group: one timer for all of them, never one per group. */
  tick(): void {
    const now = performance.now();
    let wrote = false;
    for (const g of this.groups.values()) {
      g.raw.tick();
      if (g.raw.hasReady() || this.statusChanged(g)) this.markDirty(g);
      if (g.unwrittenHardState && now - g.lastHardStateWriteMs >= commitPersistIntervalMs) {
        this.options.store.setHardState(g.key, g.unwrittenHardState, false);
        g.unwrittenHardState = undefined;
        g.lastHardStateWriteMs = now;
        wrote = true;
      }
    }
    if (wrote && !this.running) void this.options.store.commit().catch((err: unknown) => this.options.onFatal(err));
  }

  /** Queues every commit-only hard state not yet written (at shutdown, before the store closes). */
  writeUnwrittenHardStates(): void {
    for (const g of this.groups.values()) {
      if (!g.unwrittenHardState) continue;
      this.options.store.setHardState(g.key, g.unwrittenHardState, false);
      g.unwrittenHardState = undefined;
    }
  }

  /**
   * Runs `fn` on a hosted group's RawNode and schedules a cycle for it; undefined when the group
   * is not hosted here (messages for it are dropped: Raft resends).
   */
  private act<T>(key: string, fn: (g: HostedGroup) => T): T | undefined {
    const g = this.groups.get(key);
    if (!g) return undefined;
    const result = fn(g);
    this.markDirty(g);
    return result;
  }

  step(key: string, message: Message): void {
    const g = this.groups.get(key);
    // Refuse a snapshot before Raft accepts it, not after persisting it: data of the wrong kind,
    // or an image that does not decode, is dropped (the leader retries).
    if (g && message.type === 'snap') {
      const problem = this.snapshotProblem(g, message.snapshot);
      if (problem !== undefined) {
        this.options.log.warn({ group: key, from: message.from, index: message.snapshot.meta.index, problem }, 'dropped a snapshot this group cannot install');
        return;
      }
    }
    this.act(key, (h) => h.raw.step(message));
  }

  private snapshotProblem(g: HostedGroup, snapshot: Snapshot): string | undefined {
    if (snapshot.meta.confState.voters.length === 0) return 'the snapshot names no voters';
    try {
      return g.applier.checkSnapshot(snapshot.meta.index, g.storage.snapshotDataOf(snapshot));
    } catch (err) {
      return (err as Error).message;
    }
  }

  propose(key: string, data: Uint8Array): ProposeResult | undefined {
    return this.act(key, (g) => {
      g.storage.markLocalProposal(data);
      return g.raw.propose(data);
    });
  }

  proposeConfChange(key: string, cc: ConfChange): ProposeResult | undefined {
    return this.act(key, (g) => g.raw.proposeConfChange(cc));
  }

  transferLeadership(key: string, to: NodeId): ProposeResult | undefined {
    return this.act(key, (g) => g.raw.transferLeadership(to));
  }

  campaign(key: string): void {
    this.act(key, (g) => g.raw.campaign());
  }

  /**
   * Campaigns only in a group where nothing has happened yet (the bootstrap term, no vote, no
   * leader, nothing past the bootstrap entry): a brand-new
   * partition's preferred replica standing first, so the first election lands where the leader
   * balancer would move leadership anyway. Never disturbs a group that has begun.
   */
  campaignIfUntouched(key: string): void {
    const g = this.groups.get(key);
    const r = g?.raw.raft;
    if (!r || r.term !== 1 || r.vote !== NO_NODE || r.lead !== NO_NODE || g.storage.lastIndex() !== 1) return;
    this.act(key, (h) => h.raw.campaign());
  }

  /**
   * Retention: the group's log through `index` (committed) is no longer needed. The loop does it
   * after its next persist (never concurrently with a snapshot install or a removal): the
   * snapshot record is stored first, then whole segments are deleted; followers behind it will be
   * sent a log-start reset by the leader.
   */
  requestCompaction(key: string, index: number, image: Uint8Array = new Uint8Array(0)): void {
    const g = this.groups.get(key);
    if (!g) return; // removed meanwhile (topic deleted): nothing to keep
    if (g.compactThrough === undefined || index > g.compactThrough.index) g.compactThrough = { index, image };
    this.markDirty(g);
  }

  /** Runs requested compactions (inside the loop, after persist). */
  private async compactRequested(batch: ReadonlyArray<[HostedGroup, Ready]>): Promise<void> {
    const installed = new Set(batch.filter(([, rd]) => rd.snapshot).map(([g]) => g));
    const done: HostedGroup[] = [];
    for (const g of this.groups.values()) {
      const request = g.compactThrough;
      if (request === undefined) continue;
      g.compactThrough = undefined;
      // A snapshot installed in this cycle supersedes it; an index at or below the log start is done.
      if (installed.has(g) || request.index < g.storage.firstIndex()) continue;
      this.options.store.setSnapshot(g.key, g.storage.compactThrough(request.index, request.image));
      done.push(g);
    }
    if (done.length === 0) return;
    await this.options.store.commit();
    for (const g of done) if (!g.removed) g.storage.dropCompactedSegments();
  }

  /** Resolves when the loop has nothing left to do (tests and shutdown). */
  whenIdle(): Promise<void> {
    if (!this.running && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  stop(): void {
    this.stopped = true;
  }

  private markDirty(g: HostedGroup): void {
    this.dirty.add(g);
    if (!this.scheduled && !this.running && !this.stopped) {
      this.scheduled = true;
      setImmediate(() => void this.run());
    }
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    try {
      while (this.dirty.size > 0 && !this.stopped) await this.cycle();
    } catch (err) {
      this.stopped = true;
      this.options.onFatal(err);
    } finally {
      this.running = false;
      for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  private statusChanged(g: HostedGroup): boolean {
    const r = g.raw.raft;
    return r.role !== g.seen.role || r.lead !== g.seen.leader || r.term !== g.seen.term;
  }

  private noticeStatus(g: HostedGroup): void {
    if (g.removed || !this.statusChanged(g)) return;
    const r = g.raw.raft;
    g.seen = { role: r.role, leader: r.lead, term: r.term };
    const status = g.raw.status();
    g.applier.onStatus(status);
    this.options.onStatusChange?.(g.key, status);
  }

  private async cycle(): Promise<void> {
    const batch: Array<[HostedGroup, Ready]> = [];
    for (const g of this.dirty) {
      if (g.removed) continue;
      if (g.raw.hasReady()) batch.push([g, g.raw.ready()]);
      else this.noticeStatus(g);
    }
    this.dirty.clear();
    // Messages whose term and vote are already on disk go out now, while this cycle's entries are
    // written (Raft thesis §10.2.1: the leader replicates in parallel with its own write, and counts
    // itself only after it, at advance()). Acks and granted votes are not among them: the core
    // holds those until the Ready after the persist. A new term or vote must be synced first.
    const sentEarly = new Set<HostedGroup>();
    for (const [g, rd] of batch) {
      const termDurable = rd.hardState === undefined || (rd.hardState.term === g.lastTerm && rd.hardState.vote === g.lastVote);
      if (!termDurable || rd.snapshot || rd.messages.length === 0 || !g.storage.stampLocalProposals(rd.entries)) continue;
      for (const m of rd.messages) this.options.sink.send(g.key, m);
      sentEarly.add(g);
    }
    if (sentEarly.size > 0) this.options.sink.flush();
    await this.persist(batch);
    await this.compactRequested(batch);
    if (batch.length === 0) return;
    // A group removed meanwhile persisted nothing (see persist): it neither answers nor applies.
    for (const [g, rd] of batch) if (!sentEarly.has(g) && !g.removed) for (const m of rd.messages) this.options.sink.send(g.key, m);
    this.options.sink.flush();
    for (const [g, rd] of batch) {
      if (g.removed) continue;
      if (rd.snapshot) g.applier.onSnapshot(rd.snapshot.meta.index, g.storage.snapshotImage);
      const last = rd.entries[rd.entries.length - 1];
      if (last) g.applier.onPersisted(last.index);
      if (rd.committedEntries.length > 0) g.applier.onCommitted(rd.committedEntries);
    }
    for (const [g, rd] of batch) {
      g.raw.advance(rd);
      if (g.removed) continue;
      this.noticeStatus(g);
      if (g.raw.hasReady()) this.dirty.add(g);
    }
  }

  private async persist(batch: ReadonlyArray<[HostedGroup, Ready]>): Promise<void> {
    // Snapshots first: their record is synced to LevelDB before the log is reset, so a crash in
    // between leaves a stored snapshot over an old log, which open() finishes resetting.
    for (const [g, rd] of batch) {
      if (!rd.snapshot || g.removed) continue;
      const stored = g.storage.storedSnapshotOf(rd.snapshot);
      this.options.store.setSnapshot(g.key, stored);
      this.options.store.setConfState(g.key, { voters: [...stored.confState.voters], learners: [...stored.confState.learners] });
      await this.options.store.commit();
      if (!g.removed) g.storage.resetToSnapshot(stored);
    }
    const flushes: Promise<unknown>[] = [];
    for (const [g, rd] of batch) {
      // Removed while a snapshot's record was being written above: its log is closed (and its
      // files about to go); nothing of it needs to persist.
      if (g.removed) continue;
      g.storage.append(rd.entries);
      // How long the log was after this persist: a restart that finds it shorter knows the disk
      // lost entries this node may have acknowledged (PartitionRaftStorage.open).
      // While still withholding votes after such a loss, the old mark stays: a second crash before
      // catching up must not forget what was lost.
      if (rd.entries.length > 0 || rd.snapshot) {
        const lost = g.raw.raft.lostLogEnd();
        const last = g.storage.lastIndex();
        this.options.store.setLogEnd(g.key, lost && lost.index > last ? lost : { index: last, term: g.storage.term(last) ?? 0 });
      }
      if (rd.hardState || rd.confState) {
        const hs = rd.hardState ?? g.storage.initialState().hardState;
        g.storage.setHardState(hs, rd.confState);
        // Term and vote must be on disk (synced) before a message that depends on them leaves,
        // and membership with them. Commit need not be durable at all (Raft re-learns it from
        // the leader), so a commit-only change is written at most every commitPersistIntervalMs:
        // it would otherwise cost a LevelDB write on every node for every produce.
        const mustSyncHardState = hs.term !== g.lastTerm || hs.vote !== g.lastVote;
        const now = performance.now();
        const stored = { term: hs.term, vote: hs.vote, commit: hs.commit };
        if (mustSyncHardState || rd.confState || now - g.lastHardStateWriteMs >= commitPersistIntervalMs) {
          this.options.store.setHardState(g.key, stored, mustSyncHardState);
          if (rd.confState) this.options.store.setConfState(g.key, { voters: [...rd.confState.voters], learners: [...rd.confState.learners] });
          g.lastHardStateWriteMs = now;
          g.unwrittenHardState = undefined;
        } else {
          g.unwrittenHardState = stored;
        }
        g.lastTerm = hs.term;
        g.lastVote = hs.vote;
      }
      // Without fsync, entries must still be in the kernel (past the log's write-behind) before
      // they are acknowledged: what a process crash keeps.
      if (rd.mustSync && rd.entries.length > 0) flushes.push(this.options.fsync === 'always' ? g.storage.log.flush() : g.storage.log.settle());
    }
    flushes.push(this.options.store.commit());
    await Promise.all(flushes);
  }
}
