/**
 * This node's replica of the controller group ("__controller"): every node hosts one, the
 * controller-eligible nodes as voters and the rest as learners, so every node holds the whole
 * metadata log and answers Metadata from its own copy (KRaft brokers observe the metadata log
 * the same way). Commands are JSON in the value of a one-record batch; the state machine is
 * controller/'s MetadataState, rebuilt at start by replaying the log from its snapshot.
 */
import { decodeBatch, encodeBatch } from '../log/index.js';
import type { Entry, Status } from '../raft/index.js';
import { decodeCommand, encodeCommand, MetadataState, type ApplyResult, type MetadataCommand } from '../controller/metadata-state.js';
import { CommitWaiters } from './commit-waiters.js';
import type { GroupApplier, RaftHost } from './raft-host.js';
import { ReplicaError } from './replica-error.js';

export const controllerGroupKey = '__controller';

export class ControllerReplica implements GroupApplier {
  /** The controller log is not compacted yet, so no snapshot can rebuild MetadataState. */
  readonly acceptsSnapshots = false;
  readonly state = new MetadataState();
  private status: Status | undefined;
  private readonly waiters = new CommitWaiters('commit');
  /** Apply results by index, kept only until their proposer collects them. */
  private readonly results = new Map<number, ApplyResult>();

  constructor(
    private readonly host: RaftHost,
    /** Called after each batch of committed entries was applied. */
    private readonly onChange: (state: MetadataState) => void,
  ) {}

  get leaderId(): number {
    return this.status?.leader ?? 0;
  }

  get isLeader(): boolean {
    return this.status?.role === 'leader';
  }

  /** Proposes a command (on the controller leader) and resolves with its apply result. */
  async propose(cmd: MetadataCommand, timeoutMs: number): Promise<ApplyResult> {
    if (!this.isLeader) {
      const leader = this.leaderId;
      throw new ReplicaError(leader ? 'NOT_LEADER' : 'LEADER_NOT_AVAILABLE',
        leader ? `node ${leader} leads the controller` : 'the controller has no leader yet; retry shortly', leader || undefined);
    }
    const batch = encodeBatch({ records: [{ key: null, value: encodeCommand(cmd), timestamp: Date.now() }] });
    const r = this.host.propose(controllerGroupKey, batch);
    if (!r) throw new ReplicaError('INTERNAL', 'the controller group is not hosted on this node');
    if (!r.ok) throw new ReplicaError(r.code === 'overloaded' ? 'THROTTLED' : 'NOT_LEADER', `controller: ${r.message}`, r.leader || undefined);
    this.results.set(r.index, { ok: false, code: 'INVALID_REQUEST', message: 'not applied' });
    try {
      await this.waiters.wait(r.index, r.term, timeoutMs);
      return this.results.get(r.index)!;
    } finally {
      this.results.delete(r.index);
    }
  }

  onPersisted(): void {}

  onCommitted(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.type !== 'normal') {
        this.state.skip(e.index);
        continue;
      }
      const record = decodeBatch(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength)).records[0];
      if (!record?.value) throw new Error(`controller entry ${e.index} holds no command`);
      const result = this.state.apply(e.index, decodeCommand(record.value));
      if (this.results.has(e.index)) this.results.set(e.index, result);
    }
    const first = entries[0]!.index;
    this.waiters.settleThrough(entries[entries.length - 1]!.index, (i) => entries[i - first]?.term);
    this.onChange(this.state);
  }

  onStatus(status: Status): void {
    this.status = status;
  }

  onSnapshot(index: number): void {
    // The controller log is never compacted yet, so no leader sends one; a state-machine image
    // would be needed to rebuild MetadataState from it.
    throw new Error(`controller snapshot at ${index} received, but controller snapshots are not implemented`);
  }

  abortAll(reason: string): void {
    this.waiters.abortAll(reason);
  }
}
