/**
 * One consumer group's membership and ownership, as a pure state machine: time enters as `now`
 * arguments, member ids from an injected generator, partition counts from an injected lookup;
 * nothing here does I/O. The coordinator (coordinator.ts) turns its events into gRPC answers and
 * log writes; the property test drives it with simulated members and crashes.
 *
 *   Empty ──join──▶ PreparingRebalance ──every member rejoined (or rebalance timeout)──▶
 *   CompletingRebalance ──every member synced──▶ Stable ──join / leave / expiry / new partitions──▶
 *   PreparingRebalance …          (last member gone ──▶ Empty;  deleted ──▶ Dead)
 *
 * Ownership (`owners`: partition → member) is the coordinator's view of who may be consuming a
 * partition right now, and the only thing a commit is checked against. A partition gets a new
 * owner only once the previous one released it: eager members release everything by rejoining;
 * cooperative members release what their join no longer lists (KIP-429), so a moved partition
 * is revoked in one generation and handed over in the next, and nobody else stops.
 */
import { computeAssignment, isCooperative, type AssignorName } from './assignors.js';
import { initialRebalanceDelayMsDefault } from './constants.js';
import { compareKeys, partitionKey, partitionsOfTopics, refOfKey, type PartitionRef } from './partition-ref.js';

export type GroupStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export type GroupErrorCode =
  | 'UNKNOWN_MEMBER'
  | 'ILLEGAL_GENERATION'
  | 'REBALANCE_IN_PROGRESS'
  | 'INCONSISTENT_GROUP_PROTOCOL'
  | 'GROUP_MAX_SIZE_REACHED'
  | 'GROUP_NOT_EMPTY'
  | 'PARTITION_NOT_OWNED'
  | 'GROUP_ID_NOT_FOUND';

export interface GroupError {
  readonly code: GroupErrorCode;
  readonly message: string;
}

export type GroupResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: GroupError };

export interface JoinRequest {
  /** Empty for a member joining for the first time (the coordinator names it). */
  readonly memberId: string;
  readonly clientId: string;
  readonly topics: readonly string[];
  readonly assignor: AssignorName;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** Partitions the member still consumes (cooperative); eager members have released all. */
  readonly owned: readonly PartitionRef[];
}

export interface JoinResult {
  readonly generation: number;
  readonly memberId: string;
  /** The member with the lowest id: informational (the coordinator assigns, not the leader). */
  readonly leaderId: string;
  readonly assignor: AssignorName;
  readonly memberIds: readonly string[];
}

export interface SyncResult {
  readonly generation: number;
  /** What the member may consume in this generation; anything else it holds it must revoke. */
  readonly assignment: readonly PartitionRef[];
  /** Partitions are still moving: revoke, then rejoin at once for the next round. */
  readonly rejoin: boolean;
}

export type GroupEvent =
  | { readonly type: 'joinCompleted'; readonly memberId: string; readonly result: JoinResult }
  | { readonly type: 'joinFailed'; readonly memberId: string; readonly error: GroupError }
  /** The durable part changed (generation, members, ownership): write snapshot(). */
  | { readonly type: 'persist' };

export interface GroupMachineConfig {
  /** Partition count of a topic from metadata; 0 when it does not exist. */
  readonly partitionsOf: (topic: string) => number;
  /** Names a new member (the coordinator: clientId + random UUID; tests: a counter). */
  readonly newMemberId: (clientId: string) => string;
  readonly membersMax: number;
  readonly initialRebalanceDelayMs?: number;
}

/** A member as stored in the group-state log and as described to admins. */
export interface MemberSnapshot {
  readonly id: string;
  readonly clientId: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** Partition keys this member was given in the current generation. */
  readonly assigned: readonly string[];
}

/** The durable state of a group: enough for a new coordinator to carry on without a rebalance. */
export interface GroupSnapshot {
  readonly generation: number;
  readonly assignor: AssignorName | null;
  readonly members: readonly MemberSnapshot[];
  /** Partition key → member id that may be consuming it. */
  readonly owners: ReadonlyArray<readonly [string, string]>;
  readonly pendingMoves: boolean;
  /** Partition counts of the subscribed topics when the generation was formed. */
  readonly partitionCounts: Readonly<Record<string, number>>;
}

interface Member {
  readonly id: string;
  clientId: string;
  topics: readonly string[];
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** Session deadline (ms); not checked while the member's join waits for the rebalance. */
  expiresAtMs: number;
  joinPending: boolean;
  synced: boolean;
}

function fail<T>(code: GroupErrorCode, message: string): GroupResult<T> {
  return { ok: false, error: { code, message } };
}

export class GroupMachine {
  private stateName: GroupStateName = 'Empty';
  private generationId = 0;
  private assignorName: AssignorName | undefined;
  private leader = '';
  private readonly members = new Map<string, Member>();
  private readonly owners = new Map<string, string>();
  private readonly assigned = new Map<string, ReadonlySet<string>>();
  private pendingMoves = false;
  private rebalance: { deadlineMs: number; notBeforeMs: number } | undefined;
  private partitionCounts: Record<string, number> = {};
  private events: GroupEvent[] = [];

  constructor(readonly groupId: string, private readonly config: GroupMachineConfig) {}

  /** A group as a previous coordinator left it; members get a fresh session to find us. */
  static restore(groupId: string, config: GroupMachineConfig, snap: GroupSnapshot, nowMs: number): GroupMachine {
    const g = new GroupMachine(groupId, config);
    g.generationId = snap.generation;
    g.assignorName = snap.assignor ?? undefined;
    for (const m of snap.members) {
      g.members.set(m.id, {
        id: m.id, clientId: m.clientId, topics: [...m.topics], sessionTimeoutMs: m.sessionTimeoutMs, rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        expiresAtMs: nowMs + m.sessionTimeoutMs, joinPending: false, synced: true,
      });
      g.assigned.set(m.id, new Set(m.assigned));
    }
    for (const [key, owner] of snap.owners) {
      if (!g.members.has(owner)) throw new Error(`group ${groupId}: stored owner ${owner} of ${key} is not a stored member`);
      g.owners.set(key, owner);
    }
    g.partitionCounts = { ...snap.partitionCounts };
    g.pendingMoves = snap.pendingMoves;
    g.leader = [...g.members.keys()].sort()[0] ?? '';
    if (g.members.size === 0) return g;
    g.stateName = 'Stable';
    if (snap.pendingMoves) g.prepare(nowMs, false);
    else g.onMetadataChange(nowMs);
    g.events = [];
    return g;
  }

  get state(): GroupStateName {
    return this.stateName;
  }

  get generation(): number {
    return this.generationId;
  }

  get assignor(): AssignorName | undefined {
    return this.assignorName;
  }

  get memberCount(): number {
    return this.members.size;
  }

  hasMember(memberId: string): boolean {
    return this.members.has(memberId);
  }

  /** Who may be consuming a partition now (commits are checked against it). */
  ownerOf(topic: string, partition: number): string | undefined {
    return this.owners.get(partitionKey(topic, partition));
  }

  /** Events produced since the last drain, oldest first. */
  drainEvents(): GroupEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  join(req: JoinRequest, nowMs: number): GroupResult<{ memberId: string }> {
    if (this.stateName === 'Dead') return fail('GROUP_ID_NOT_FOUND', `group ${this.groupId} was deleted; join again to recreate it`);
    let member = req.memberId === '' ? undefined : this.members.get(req.memberId);
    if (req.memberId !== '' && !member) {
      return fail('UNKNOWN_MEMBER', `member ${req.memberId} is not in group ${this.groupId} (its session expired or it left); join without a member id`);
    }
    if (this.members.size > 0 && this.assignorName !== req.assignor) {
      return fail('INCONSISTENT_GROUP_PROTOCOL', `group ${this.groupId} uses the ${this.assignorName} assignor; this member asked for ${req.assignor}`);
    }
    if (!member) {
      if (this.members.size >= this.config.membersMax) {
        return fail('GROUP_MAX_SIZE_REACHED', `group ${this.groupId} already has ${this.members.size} members (the limit)`);
      }
      const id = this.config.newMemberId(req.clientId);
      if (this.members.has(id)) throw new Error(`member id ${id} generated twice in group ${this.groupId}`);
      member = { id, clientId: req.clientId, topics: [], sessionTimeoutMs: 0, rebalanceTimeoutMs: 0, expiresAtMs: 0, joinPending: false, synced: false };
      this.members.set(id, member);
    }
    member.clientId = req.clientId;
    member.topics = [...new Set(req.topics)].sort();
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.joinPending = true;
    member.synced = false;
    this.release(member.id, isCooperative(req.assignor) ? new Set(req.owned.map((r) => partitionKey(r.topic, r.partition))) : new Set());
    if (this.stateName === 'Empty') {
      this.assignorName = req.assignor;
      this.prepare(nowMs, true);
    } else if (this.stateName !== 'PreparingRebalance') {
      this.prepare(nowMs, false);
    }
    this.tryComplete(nowMs);
    return { ok: true, value: { memberId: member.id } };
  }

  sync(memberId: string, generation: number, nowMs: number): GroupResult<SyncResult> {
    const member = this.members.get(memberId);
    if (!member) return fail('UNKNOWN_MEMBER', `member ${memberId} is not in group ${this.groupId}; join again`);
    if (member.joinPending) return fail('REBALANCE_IN_PROGRESS', `member ${memberId} has a join in progress; wait for its answer`);
    if (generation !== this.generationId) {
      return fail('ILLEGAL_GENERATION', `generation ${generation} is not group ${this.groupId}'s current generation ${this.generationId}; join again`);
    }
    member.synced = true;
    member.expiresAtMs = nowMs + member.sessionTimeoutMs;
    const assignment = [...(this.assigned.get(memberId) ?? [])].sort(compareKeys).map(refOfKey);
    // A new round may have begun before this member synced; it still gets its assignment of
    // this generation (a subset of what it owns), so it learns what to revoke before rejoining.
    // Refusing it would let members that sync first restart the round forever.
    const result: SyncResult = { generation, assignment, rejoin: this.pendingMoves || this.stateName === 'PreparingRebalance' };
    if (this.stateName === 'CompletingRebalance' && [...this.members.values()].every((m) => m.synced)) {
      this.stateName = 'Stable';
      // Second round of a cooperative rebalance: the revoked partitions are handed over once
      // their owners have released them by rejoining.
      if (this.pendingMoves) this.prepare(nowMs, false);
    }
    return { ok: true, value: result };
  }

  heartbeat(memberId: string, generation: number, nowMs: number): GroupResult<void> {
    const member = this.members.get(memberId);
    if (!member) return fail('UNKNOWN_MEMBER', `member ${memberId} is not in group ${this.groupId} (session expired?); join again`);
    if (!member.joinPending) member.expiresAtMs = nowMs + member.sessionTimeoutMs;
    if (this.stateName === 'PreparingRebalance') return fail('REBALANCE_IN_PROGRESS', `group ${this.groupId} is rebalancing; join again`);
    if (generation !== this.generationId) {
      return fail('ILLEGAL_GENERATION', `generation ${generation} is not group ${this.groupId}'s current generation ${this.generationId}; join again`);
    }
    return { ok: true, value: undefined };
  }

  leave(memberId: string, nowMs: number): GroupResult<void> {
    if (!this.members.has(memberId)) return fail('UNKNOWN_MEMBER', `member ${memberId} is not in group ${this.groupId}`);
    this.remove(memberId, nowMs);
    return { ok: true, value: undefined };
  }

  /** Expires silent members and completes a rebalance whose wait is over. */
  tick(nowMs: number): void {
    for (const m of [...this.members.values()]) {
      if (!m.joinPending && nowMs >= m.expiresAtMs && this.members.has(m.id)) this.remove(m.id, nowMs);
    }
    this.tryComplete(nowMs);
  }

  /** Topic metadata changed: rebalance when a subscribed topic's partition count moved. */
  onMetadataChange(nowMs: number): void {
    if (this.stateName !== 'Stable' && this.stateName !== 'CompletingRebalance') return;
    const now = this.countsOfSubscriptions();
    const before = this.partitionCounts;
    const keys = new Set([...Object.keys(now), ...Object.keys(before)]);
    if ([...keys].some((t) => (now[t] ?? 0) !== (before[t] ?? 0))) this.prepare(nowMs, false);
  }

  /**
   * Whether `memberId` of `generation` may commit offsets for `keys`. With no member id and
   * generation -1 (an admin, or a consumer outside any group) only while the group is empty.
   */
  checkCommit(memberId: string, generation: number, keys: readonly string[]): GroupResult<void> {
    if (this.stateName === 'Dead') return fail('GROUP_ID_NOT_FOUND', `group ${this.groupId} was deleted`);
    if (memberId === '' && generation < 0) {
      if (this.members.size === 0) return { ok: true, value: undefined };
      return fail('GROUP_NOT_EMPTY', `group ${this.groupId} has ${this.members.size} active member(s): only they may commit; stop them first`);
    }
    if (!this.members.has(memberId)) return fail('UNKNOWN_MEMBER', `member ${memberId} is not in group ${this.groupId} (session expired?); its partitions may have moved`);
    if (generation !== this.generationId) {
      return fail('ILLEGAL_GENERATION', `commit from generation ${generation}, but group ${this.groupId} is at generation ${this.generationId}`);
    }
    const notOwned = keys.filter((k) => this.owners.get(k) !== memberId);
    if (notOwned.length > 0) {
      return fail('PARTITION_NOT_OWNED', `member ${memberId} does not own ${notOwned.slice(0, 10).join(', ')}${notOwned.length > 10 ? ` (+${notOwned.length - 10} more)` : ''} in generation ${generation}`);
    }
    return { ok: true, value: undefined };
  }

  /** Marks the group deleted; every later call says so. Only an empty group may be deleted. */
  markDead(): void {
    if (this.members.size > 0) throw new Error(`group ${this.groupId} has members; it cannot be marked dead`);
    this.stateName = 'Dead';
  }

  snapshot(): GroupSnapshot {
    return {
      generation: this.generationId,
      assignor: this.assignorName ?? null,
      members: [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((m) => ({
        id: m.id, clientId: m.clientId, topics: [...m.topics], sessionTimeoutMs: m.sessionTimeoutMs, rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        assigned: [...(this.assigned.get(m.id) ?? [])].sort(compareKeys),
      })),
      owners: [...this.owners].sort((a, b) => compareKeys(a[0], b[0])),
      pendingMoves: this.pendingMoves,
      partitionCounts: { ...this.partitionCounts },
    };
  }

  /** For describe: members with what they were assigned and what they still own. */
  describeMembers(): Array<MemberSnapshot & { readonly owned: readonly string[] }> {
    const owned = new Map<string, string[]>();
    for (const [key, m] of this.owners) owned.set(m, [...(owned.get(m) ?? []), key]);
    return this.snapshot().members.map((m) => ({ ...m, owned: (owned.get(m.id) ?? []).sort(compareKeys) }));
  }

  // ---- internals -----------------------------------------------------------------------------

  /** The member no longer consumes partitions outside `keep`: they are free for others. */
  private release(memberId: string, keep: ReadonlySet<string>): void {
    for (const [key, owner] of [...this.owners]) if (owner === memberId && !keep.has(key)) this.owners.delete(key);
  }

  private prepare(nowMs: number, fromEmpty: boolean): void {
    this.stateName = 'PreparingRebalance';
    const waitMs = Math.max(0, ...[...this.members.values()].map((m) => m.rebalanceTimeoutMs));
    const delayMs = fromEmpty ? this.config.initialRebalanceDelayMs ?? initialRebalanceDelayMsDefault : 0;
    this.rebalance = { deadlineMs: nowMs + Math.max(waitMs, delayMs), notBeforeMs: nowMs + delayMs };
  }

  /** `settle`: react at once (rebalance, or complete one whose last holdout this was). */
  private remove(memberId: string, nowMs: number, settle = true): void {
    const member = this.members.get(memberId)!;
    this.members.delete(memberId);
    this.assigned.delete(memberId);
    this.release(memberId, new Set());
    if (member.joinPending) {
      this.events.push({ type: 'joinFailed', memberId, error: { code: 'UNKNOWN_MEMBER', message: `member ${memberId} was removed from group ${this.groupId}` } });
    }
    if (this.members.size === 0) {
      this.becomeEmpty();
      return;
    }
    if (!settle) return;
    if (this.stateName === 'Stable' || this.stateName === 'CompletingRebalance') this.prepare(nowMs, false);
    else this.tryComplete(nowMs);
  }

  private becomeEmpty(): void {
    if (this.owners.size > 0) throw new Error(`group ${this.groupId} has no members but ${this.owners.size} owned partitions`);
    this.stateName = 'Empty';
    this.assignorName = undefined;
    this.assigned.clear();
    this.pendingMoves = false;
    this.rebalance = undefined;
    this.leader = '';
    this.events.push({ type: 'persist' });
  }

  private tryComplete(nowMs: number): void {
    if (this.stateName !== 'PreparingRebalance') return;
    const r = this.rebalance!;
    const all = [...this.members.values()];
    if (all.every((m) => m.joinPending) && nowMs >= r.notBeforeMs) {
      this.complete(nowMs);
      return;
    }
    if (nowMs < r.deadlineMs) return;
    // Rebalance timeout: members that did not rejoin are out.
    for (const m of all) if (!m.joinPending) this.remove(m.id, nowMs, false);
    if (this.stateName === 'PreparingRebalance' && this.members.size > 0) this.complete(nowMs);
  }

  private countsOfSubscriptions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.members.values()) for (const t of m.topics) out[t] = this.config.partitionsOf(t);
    return out;
  }

  private complete(nowMs: number): void {
    const assignor = this.assignorName;
    if (!assignor) throw new Error(`group ${this.groupId} completes a rebalance without an assignor`);
    this.generationId += 1;
    this.partitionCounts = this.countsOfSubscriptions();
    const existing = new Set(partitionsOfTopics(Object.keys(this.partitionCounts), (t) => this.partitionCounts[t] ?? 0));
    for (const key of [...this.owners.keys()]) if (!existing.has(key)) this.owners.delete(key); // topic deleted or shrunk
    const members = [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    const target = computeAssignment(assignor, { members, partitionsOf: (t) => this.partitionCounts[t] ?? 0, owners: this.owners });
    for (const [key, to] of target) if (!this.owners.has(key)) this.owners.set(key, to);
    this.pendingMoves = [...this.owners].some(([key, owner]) => target.get(key) !== owner);
    this.assigned.clear();
    for (const m of members) this.assigned.set(m.id, new Set());
    for (const [key, owner] of this.owners) if (target.get(key) === owner) (this.assigned.get(owner) as Set<string>).add(key);
    this.leader = members[0]!.id;
    this.stateName = 'CompletingRebalance';
    this.rebalance = undefined;
    const memberIds = members.map((m) => m.id);
    this.events.push({ type: 'persist' });
    for (const m of members) {
      m.joinPending = false;
      m.synced = false;
      m.expiresAtMs = nowMs + m.sessionTimeoutMs;
      this.events.push({
        type: 'joinCompleted', memberId: m.id,
        result: { generation: this.generationId, memberId: m.id, leaderId: this.leader, assignor, memberIds },
      });
    }
  }
}
