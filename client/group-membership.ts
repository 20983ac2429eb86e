/**
 * The membership side of a group consumer: a background loop of JoinGroup → SyncGroup →
 * GroupHeartbeat, telling its owner which partitions to start, revoke or consider lost.
 *
 *   eager assignors       everything is revoked before rejoining
 *   cooperative-sticky    only what the new assignment lacks is revoked (after SyncGroup); the
 *                         member rejoins at once when the coordinator says partitions are moving
 *   UNKNOWN_MEMBER        the session expired: every partition is lost (not committed: another
 *                         member may own it already), and the member joins afresh
 */
import type { JoinGroupResponse__Output } from '../proto/gen/ferry/v1/JoinGroupResponse.js';
import type { OffsetFetchResponse__Output } from '../proto/gen/ferry/v1/OffsetFetchResponse.js';
import type { SyncGroupResponse__Output } from '../proto/gen/ferry/v1/SyncGroupResponse.js';
import { FerryError } from './errors.js';
import type { GroupRpc } from './group-rpc.js';

export interface TopicPartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export interface MembershipConfig {
  readonly group: string;
  readonly topics: readonly string[];
  readonly assignor: 'range' | 'round-robin' | 'cooperative-sticky';
  readonly clientId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
}

export interface MembershipHandlers {
  assign(parts: readonly TopicPartitionRef[]): Promise<void>;
  revoke(parts: readonly TopicPartitionRef[]): Promise<void>;
  lose(parts: readonly TopicPartitionRef[]): Promise<void>;
}

const keyOf = (p: TopicPartitionRef): string => `${p.topic}/${p.partition}`;
/** Errors after which joining again cannot help: the caller's settings are wrong. */
const fatalCodes = new Set(['INVALID_REQUEST', 'INCONSISTENT_GROUP_PROTOCOL', 'GROUP_MAX_SIZE_REACHED', 'UNKNOWN_TOPIC_OR_PARTITION', 'CLIENT_CLOSED']);

export class GroupMembership {
  memberId = '';
  generation = -1;
  private readonly ownedByKey = new Map<string, TopicPartitionRef>();
  private loop: Promise<void> | undefined;
  private stopped = false;
  private failure: FerryError | undefined;
  private sleeper: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  constructor(private readonly rpc: GroupRpc, private readonly config: MembershipConfig, private readonly handlers: MembershipHandlers) {}

  get running(): boolean {
    return this.loop !== undefined && !this.stopped;
  }

  owned(): TopicPartitionRef[] {
    return [...this.ownedByKey.values()];
  }

  start(): void {
    this.loop ??= this.run();
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleeper = { timer: setTimeout(resolve, ms), resolve };
    });
  }

  private async run(): Promise<void> {
    let backoff = 0;
    while (!this.stopped) {
      try {
        const joined = await this.join();
        const synced = await this.rpc.onCoordinator<SyncGroupResponse__Output>(this.config.group, 'SyncGroup',
          { groupId: this.config.group, memberId: this.memberId, generation: this.generation });
        await this.apply(synced.assignment.map((p) => ({ topic: p.topic, partition: p.partition })));
        backoff = 0;
        if (!synced.rejoin && joined) await this.heartbeatUntilRebalance();
      } catch (err) {
        if (this.stopped) return;
        const e = FerryError.from(err);
        if (fatalCodes.has(e.code)) {
          this.failure = e;
          return;
        }
        if (e.code === 'UNKNOWN_MEMBER') await this.loseAll();
        // REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION: join again at once; anything else after a back-off.
        if (e.code !== 'REBALANCE_IN_PROGRESS' && e.code !== 'ILLEGAL_GENERATION' && e.code !== 'UNKNOWN_MEMBER') {
          backoff = Math.min(Math.max(100, backoff * 2), 2_000);
          await this.sleep(backoff);
        }
      }
    }
  }

  private async join(): Promise<boolean> {
    const cooperative = this.config.assignor === 'cooperative-sticky';
    if (!cooperative && this.ownedByKey.size > 0) await this.revokeSome(this.owned());
    const res = await this.rpc.onCoordinator<JoinGroupResponse__Output>(this.config.group, 'JoinGroup', {
      groupId: this.config.group, memberId: this.memberId, clientId: this.config.clientId, topics: this.config.topics,
      assignor: this.config.assignor, sessionTimeoutMs: this.config.sessionTimeoutMs, rebalanceTimeoutMs: this.config.rebalanceTimeoutMs,
      owned: cooperative ? this.owned() : [],
    }, this.config.rebalanceTimeoutMs + 10_000);
    if (this.stopped) return false;
    this.memberId = res.memberId;
    this.generation = res.generation;
    return true;
  }

  /** Revokes what the assignment lacks, then starts what it adds. */
  private async apply(assignment: readonly TopicPartitionRef[]): Promise<void> {
    const next = new Set(assignment.map(keyOf));
    const revoked = this.owned().filter((p) => !next.has(keyOf(p)));
    if (revoked.length > 0) await this.revokeSome(revoked);
    const added = assignment.filter((p) => !this.ownedByKey.has(keyOf(p)));
    for (const p of added) this.ownedByKey.set(keyOf(p), p);
    if (added.length > 0) await this.handlers.assign(added);
  }

  private async revokeSome(parts: readonly TopicPartitionRef[]): Promise<void> {
    await this.handlers.revoke(parts); // commits while this member still owns them
    for (const p of parts) this.ownedByKey.delete(keyOf(p));
  }

  private async loseAll(): Promise<void> {
    const lost = this.owned();
    this.ownedByKey.clear();
    this.memberId = '';
    this.generation = -1;
    if (lost.length > 0) await this.handlers.lose(lost);
  }

  private async heartbeatUntilRebalance(): Promise<void> {
    while (!this.stopped) {
      await this.sleep(this.config.heartbeatIntervalMs);
      if (this.stopped) return;
      try {
        await this.rpc.onCoordinator(this.config.group, 'GroupHeartbeat', { groupId: this.config.group, memberId: this.memberId, generation: this.generation });
      } catch (err) {
        // A coordinator that cannot be reached for a while: keep trying, the session may survive.
        if (err instanceof FerryError && (err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT' || err.code === 'COORDINATOR_NOT_AVAILABLE' || err.code === 'NOT_COORDINATOR')) continue;
        throw err;
      }
    }
  }

  /** The group's committed offsets of `parts` (-1 where none). */
  async committedOffsets(parts: readonly TopicPartitionRef[]): Promise<Map<string, number>> {
    const res = await this.rpc.onCoordinator<OffsetFetchResponse__Output>(this.config.group, 'OffsetFetch', { groupId: this.config.group, partitions: parts });
    return new Map(res.offsets.map((o) => [keyOf(o), o.offset]));
  }

  commit(offsets: ReadonlyArray<TopicPartitionRef & { readonly offset: number }>): Promise<unknown> {
    return this.rpc.onCoordinator(this.config.group, 'OffsetCommit', {
      groupId: this.config.group, memberId: this.memberId, generation: this.generation,
      partitions: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, metadata: '' })),
    });
  }

  /** Leaves the group (its partitions go to others at once) and ends the loop. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sleeper) {
      clearTimeout(this.sleeper.timer);
      this.sleeper.resolve();
    }
    if (this.memberId !== '') {
      await this.rpc.onCoordinator(this.config.group, 'LeaveGroup', { groupId: this.config.group, memberId: this.memberId }).catch(() => undefined);
    }
  }
}
