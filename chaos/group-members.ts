/**
 * Group consumers for a chaos run: a few SDK members of one consumer group read the chaos topic
 * through every fault with the SDK's own at-least-once auto-commit (periodic, on revoke, on
 * close). Recorded: what each member was handed (poll events tagged with the group), each
 * assignment change (rebalance markers) and each commit with its answer. Every `churnMs` the
 * oldest member leaves, and a little later a fresh one joins, so rebalances also happen while
 * faults hit: the survivors take the leaver's partitions, then give some up to the newcomer
 * (revoked, committed, resumed by their new owner from the committed offset).
 *
 * The checker holds each member to continuity per partition between rebalance markers, and the
 * group to group-skip (a committed offset never passes a record no member read) and lost-commit
 * (an acknowledged commit survives).
 */
import { createClient, type FerryClient, type GroupConsumer, type TopicPartitionRef } from '../client/index.js';
import type { CommitEvent, PollEvent, RebalanceEvent } from './history.js';
import { pollLoop } from './pollers.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface GroupMembersOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly group: string;
  /** Members at any time (at least 1). */
  readonly members: number;
  /** How often one member is replaced by a new one (0: never). */
  readonly churnMs: number;
  readonly record: (e: PollEvent | RebalanceEvent | CommitEvent) => void;
}

interface Member {
  readonly name: string;
  readonly consumer: GroupConsumer;
  stopped: boolean;
  loop: Promise<void>;
}

/** Between a member leaving and its replacement joining: long enough for the group to rebalance without it. */
const replaceGapMs = 1_500;
/** How long a member's close (last commit, LeaveGroup) may take. */
const closeWaitMs = 20_000;

export class ChaosGroupMembers {
  /** Members started so far (names are group-m0, group-m1, ...: a replaced member is a new name). */
  private started = 0;
  private stopped = false;
  private churning: Promise<void> | undefined;
  private readonly members: Member[] = [];
  private readonly client: FerryClient;

  constructor(private readonly o: GroupMembersOptions) {
    if (!Number.isInteger(o.members) || o.members < 1) throw new Error(`group members must be a whole number >= 1, got ${o.members}`);
    this.client = createClient({ bootstrap: o.bootstrap, requestTimeoutMs: 2_000 });
  }

  start(): void {
    for (let i = 0; i < this.o.members; i += 1) this.members.push(this.member());
    if (this.o.churnMs > 0) this.churning = this.churn();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.churning;
    await Promise.all(this.members.splice(0).map((m) => this.retire(m)));
    this.client.close();
  }

  private member(): Member {
    const name = `group-m${this.started++}`;
    const { group } = this.o;
    // Read when a callback runs, by which time `consumer` exists.
    const generation = (): number => consumer.member.generation;
    const marker = (action: RebalanceEvent['action']) => (parts: readonly TopicPartitionRef[]): void => {
      this.o.record({ kind: 'rebalance', group, member: name, timeMs: Date.now(), action, generation: generation(), partitions: parts.map((p) => p.partition) });
    };
    const consumer: GroupConsumer = this.client.consumer({
      group, topics: [this.o.topic], clientId: 'chaos', autoCommitIntervalMs: 500,
      // Short sessions, so a member cut off by a fault for a few seconds loses its partitions.
      sessionTimeoutMs: 4_000, heartbeatIntervalMs: 400, rebalanceTimeoutMs: 5_000, maxWaitMs: 200,
      onAssigned: marker('assigned'), onRevoked: marker('revoked'), onLost: marker('lost'),
      onCommit: (offsets, err) => this.o.record({
        kind: 'commit', group, member: name, timeMs: Date.now(), generation: generation(),
        offsets: offsets.map((x) => ({ partition: x.partition, offset: x.offset })), ...(err ? { error: err.code } : {}),
      }),
    });
    const m: Member = { name, consumer, stopped: false, loop: Promise.resolve() };
    m.loop = pollLoop({
      name, group, poll: () => consumer.poll(300), stopped: () => m.stopped, record: this.o.record,
    });
    return m;
  }

  /**
   * Stops a member's reads, then closes it (a last commit, then LeaveGroup). A close that cannot
   * finish within closeWaitMs (a coordinator unreachable for long) is left behind: closing the
   * client at stop() ends its calls, and the run must not hang on it.
   */
  private async retire(m: Member): Promise<void> {
    m.stopped = true;
    await m.loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([m.consumer.close(), new Promise<void>((r) => {
      timer = setTimeout(r, closeWaitMs);
    })]);
    clearTimeout(timer);
  }

  /** Sleeps up to `ms` in short steps; false once stop() was called. */
  private async pause(ms: number): Promise<boolean> {
    for (let waited = 0; waited < ms && !this.stopped; waited += 100) await sleep(100);
    return !this.stopped;
  }

  private async churn(): Promise<void> {
    while (await this.pause(this.o.churnMs)) {
      await this.retire(this.members.shift()!);
      if (!(await this.pause(replaceGapMs))) return;
      this.members.push(this.member());
    }
  }
}
