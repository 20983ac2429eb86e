/**
 * A deterministic model of consumer-group clients around the real GroupMachine: each simulated
 * client joins, syncs, heartbeats, revokes and rejoins as the SDK does (eager: revoke everything
 * before rejoining; cooperative: revoke what the new assignment lacks, rejoin when told), and the
 * test drives crashes, pauses, leaves, partition growth and coordinator failovers between them.
 * Time is simulated; a coordinator failover restores the last *persisted* snapshot, as a new
 * coordinator replaying the group-state log would.
 */
import { isCooperative, type AssignorName } from '../../../node/consumer-groups/assignors.js';
import { GroupMachine, type GroupError, type GroupSnapshot } from '../../../node/consumer-groups/group-machine.js';
import { partitionKey, refOfKey } from '../../../node/consumer-groups/partition-ref.js';

export const sessionTimeoutMs = 1_000;
export const rebalanceTimeoutMs = 2_000;
export const heartbeatIntervalMs = 300;
export const stepMs = 50;

export interface SimClient {
  readonly name: string;
  readonly topics: readonly string[];
  memberId: string;
  owned: Set<string>;
  phase: 'joining' | 'syncing' | 'stable' | 'crashed' | 'left';
  generation: number;
  nextHeartbeatMs: number;
  pausedUntilMs: number;
}

export class GroupSim {
  nowMs = 0;
  machine: GroupMachine;
  readonly clients: SimClient[] = [];
  private persisted: GroupSnapshot | undefined;
  private nextId = 0;
  private readonly config;

  constructor(readonly assignor: AssignorName, readonly counts: Record<string, number>) {
    this.config = {
      partitionsOf: (t: string) => this.counts[t] ?? 0,
      newMemberId: (clientId: string) => `${clientId}-${String(this.nextId++).padStart(4, '0')}`,
      membersMax: 50,
      initialRebalanceDelayMs: 100,
    };
    this.machine = new GroupMachine('g', this.config);
  }

  /** Clients that run and are members of the group as the coordinator sees it. */
  liveMembers(): SimClient[] {
    return this.clients.filter((c) => c.phase !== 'crashed' && c.phase !== 'left' && c.memberId !== '' && this.machine.hasMember(c.memberId));
  }

  addClient(topics: readonly string[]): void {
    const c: SimClient = {
      name: `c${this.clients.length}`, topics, memberId: '', owned: new Set(), phase: 'joining', generation: -1, nextHeartbeatMs: 0, pausedUntilMs: 0,
    };
    this.clients.push(c);
    this.join(c);
  }

  leave(c: SimClient): void {
    if (c.phase === 'crashed' || c.phase === 'left') return;
    c.owned.clear(); // the SDK revokes (and commits) everything before leaving
    if (c.memberId !== '') this.machine.leave(c.memberId, this.nowMs);
    c.phase = 'left';
    this.afterMachineCall();
  }

  crash(c: SimClient): void {
    if (c.phase === 'left') return;
    c.phase = 'crashed';
    c.owned.clear();
  }

  pause(c: SimClient, ms: number): void {
    c.pausedUntilMs = this.nowMs + ms;
  }

  grow(topic: string, by: number): void {
    this.counts[topic] = (this.counts[topic] ?? 0) + by;
    this.machine.onMetadataChange(this.nowMs);
    this.afterMachineCall();
  }

  /** The coordinator's node dies; a new one replays what was persisted. Pending joins fail. */
  failover(): void {
    this.machine = this.persisted
      ? GroupMachine.restore('g', this.config, this.persisted, this.nowMs)
      : new GroupMachine('g', this.config);
    for (const c of this.clients) if (c.phase === 'joining') this.rejoinAfter(c, { code: 'REBALANCE_IN_PROGRESS', message: 'NOT_COORDINATOR' });
    this.afterMachineCall();
  }

  advance(ms: number): void {
    const end = this.nowMs + ms;
    while (this.nowMs < end) {
      this.nowMs = Math.min(end, this.nowMs + stepMs);
      this.machine.tick(this.nowMs);
      this.afterMachineCall();
      for (const c of this.clients) this.act(c);
    }
  }

  /** True once the group is stable with nothing left to move and every running client settled. */
  settled(): boolean {
    const snap = this.machine.snapshot();
    const running = this.clients.filter((c) => c.phase !== 'crashed' && c.phase !== 'left');
    return this.machine.state === (running.length === 0 ? 'Empty' : 'Stable') && !snap.pendingMoves && this.machine.memberCount === running.length &&
      running.every((c) => c.phase === 'stable' && this.machine.hasMember(c.memberId) && c.pausedUntilMs <= this.nowMs);
  }

  private act(c: SimClient): void {
    if (c.phase === 'crashed' || c.phase === 'left' || c.pausedUntilMs > this.nowMs) return;
    if (c.phase === 'syncing') this.sync(c);
    else if (c.phase === 'stable' && this.nowMs >= c.nextHeartbeatMs) {
      const r = this.machine.heartbeat(c.memberId, c.generation, this.nowMs);
      c.nextHeartbeatMs = this.nowMs + heartbeatIntervalMs;
      this.afterMachineCall();
      if (!r.ok) this.rejoinAfter(c, r.error);
    }
  }

  private join(c: SimClient): void {
    const cooperative = isCooperative(this.assignor);
    if (!cooperative) c.owned.clear(); // eager: revoke everything before rejoining
    const r = this.machine.join({
      memberId: c.memberId, clientId: c.name, topics: c.topics, assignor: this.assignor, sessionTimeoutMs, rebalanceTimeoutMs,
      owned: [...c.owned].map(refOfKey),
    }, this.nowMs);
    if (!r.ok) {
      if (r.error.code !== 'UNKNOWN_MEMBER') throw new Error(`join failed: ${r.error.code} ${r.error.message}`);
      c.memberId = '';
      c.owned.clear(); // lost, not revoked: someone else may own them already
      this.afterMachineCall();
      this.join(c);
      return;
    }
    c.memberId = r.value.memberId;
    c.phase = 'joining';
    this.afterMachineCall();
  }

  private sync(c: SimClient): void {
    const r = this.machine.sync(c.memberId, c.generation, this.nowMs);
    if (!r.ok) {
      this.afterMachineCall();
      this.rejoinAfter(c, r.error);
      return;
    }
    c.owned = new Set(r.value.assignment.map((p) => partitionKey(p.topic, p.partition)));
    c.phase = 'stable';
    c.nextHeartbeatMs = this.nowMs + heartbeatIntervalMs;
    this.afterMachineCall();
    if (r.value.rejoin) this.join(c);
  }

  private rejoinAfter(c: SimClient, error: GroupError): void {
    if (error.code === 'UNKNOWN_MEMBER') {
      c.memberId = '';
      c.owned.clear();
    }
    this.join(c);
  }

  private afterMachineCall(): void {
    for (const ev of this.machine.drainEvents()) {
      if (ev.type === 'persist') {
        this.persisted = this.machine.snapshot();
        continue;
      }
      const c = this.clients.find((x) => x.memberId === ev.memberId && x.phase === 'joining');
      if (!c) continue; // crashed or paused clients never see their answer
      if (ev.type === 'joinCompleted') {
        c.generation = ev.result.generation;
        c.phase = 'syncing';
      } else {
        c.memberId = '';
        c.owned.clear();
        c.phase = 'joining';
        this.join(c);
      }
    }
    this.checkSafety();
  }

  /**
   * At every step: what a running member consumes is owned by it in the coordinator's view (so
   * its commits are accepted and nobody else is given those partitions), and no two running
   * members consume the same partition.
   */
  private checkSafety(): void {
    const seen = new Map<string, string>();
    for (const c of this.liveMembers()) {
      for (const key of c.owned) {
        const owner = this.machine.ownerOf(refOfKey(key).topic, refOfKey(key).partition);
        if (owner !== c.memberId) throw new Error(`${c.memberId} consumes ${key} but the coordinator says ${owner ?? 'nobody'} owns it`);
        const other = seen.get(key);
        if (other) throw new Error(`${key} is consumed by both ${other} and ${c.memberId}`);
        seen.set(key, c.memberId);
      }
    }
  }
}
