/**
 * This node's replica of the controller group ("__controller"): every node hosts one, the
 * controller-eligible nodes as voters and the rest as learners, so every node holds the whole
 * metadata log and answers Metadata from its own copy (KRaft brokers observe the metadata log
 * the same way). Commands are JSON in the value of a one-record batch; the state machine is
 * controller/'s MetadataState.
 *
 * Snapshots: every `snapshotEveryEntries` applied entries, each node writes the image of its state
 * (controller/metadata-image.ts) as the group's snapshot record and compacts its log through it,
 * so the log does not grow forever. A restart loads the image and replays the log after it; a node
 * behind the leader's log start is sent the image in Raft's snapshot message and loads it.
 */
import { decodeBatch, encodeBatch } from '../log/index.js';
import type { Logger } from 'pino';
import type { Entry, Status } from '../raft/index.js';
import { decodeMetadataImage, encodeMetadataImage } from '../controller/metadata-image.js';
import { decodeCommand, encodeCommand, MetadataState, type ApplyResult, type MetadataCommand } from '../controller/metadata-state.js';
import { CommitWaiters } from './commit-waiters.js';
import type { GroupApplier, RaftHost } from './raft-host.js';
import { ReplicaError } from './replica-error.js';
import type { SnapshotData } from './snapshot-data.js';

export const controllerGroupKey = '__controller';

export interface ControllerSnapshotOptions {
  /** Take a snapshot (and compact the log) once this many entries applied since the last one. */
  readonly snapshotEveryEntries: number;
  /** The stored snapshot: its index and image (empty for the bootstrap record at index 1). */
  readonly snapshotIndex: number;
  readonly snapshotImage: Uint8Array;
  readonly log: Logger;
}

export class ControllerReplica implements GroupApplier {
  readonly state = new MetadataState();
  /** Index of the latest snapshot taken or installed. */
  private snapshotIndex: number;
  private status: Status | undefined;
  private readonly waiters = new CommitWaiters('commit');
  /** Apply results by index, kept only until their proposer collects them. */
  private readonly results = new Map<number, ApplyResult>();

  constructor(
    private readonly host: RaftHost,
    /** Called after each batch of committed entries was applied. */
    private readonly onChange: (state: MetadataState) => void,
    private readonly snapshots: ControllerSnapshotOptions,
  ) {
    if (!(Number.isInteger(snapshots.snapshotEveryEntries) && snapshots.snapshotEveryEntries >= 1)) {
      throw new Error(`snapshotEveryEntries must be an integer >= 1, got ${snapshots.snapshotEveryEntries}`);
    }
    this.snapshotIndex = snapshots.snapshotIndex;
    if (snapshots.snapshotImage.byteLength > 0) this.loadImage(snapshots.snapshotIndex, snapshots.snapshotImage);
    else if (snapshots.snapshotIndex > 1) throw new Error(`the controller snapshot at ${snapshots.snapshotIndex} has no metadata image`);
  }

  /** Replaces the state with an image that must be the state after `index`. */
  private loadImage(index: number, image: Uint8Array): void {
    const content = decodeMetadataImage(image);
    if (content.appliedIndex !== index) {
      throw new Error(`controller snapshot at ${index} holds the metadata image of index ${content.appliedIndex}`);
    }
    this.state.loadImage(content);
  }

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
    this.maybeSnapshot();
    this.onChange(this.state);
  }

  /**
   * Every node snapshots its own copy: the image of the state as of the last applied entry,
   * stored by the host as the group's snapshot record, after which the log before it goes.
   */
  private maybeSnapshot(): void {
    const index = this.state.version;
    if (index - this.snapshotIndex < this.snapshots.snapshotEveryEntries) return;
    const started = performance.now();
    let image: Buffer;
    try {
      image = encodeMetadataImage(this.state.toImage());
    } catch (err) {
      // Too large an image leaves the log uncompacted; nothing is lost, so say so and go on.
      this.snapshots.log.error({ err, index }, 'controller snapshot not taken');
      return;
    }
    this.snapshotIndex = index;
    this.host.requestCompaction(controllerGroupKey, index, image);
    this.snapshots.log.info({ index, imageBytes: image.length, encodeMs: Math.round((performance.now() - started) * 10) / 10 }, 'controller snapshot taken');
  }

  onStatus(status: Status): void {
    this.status = status;
  }

  checkSnapshot(index: number, data: SnapshotData): string | undefined {
    const content = decodeMetadataImage(data.image); // throws a MetadataImageError naming the problem
    return content.appliedIndex === index ? undefined : `its metadata image is of index ${content.appliedIndex}, not the snapshot's ${index}`;
  }

  onSnapshot(index: number, image: Uint8Array): void {
    // Raft installs only a snapshot past its commit, hence past everything applied here.
    if (index <= this.state.version) throw new Error(`controller snapshot at ${index} installed over applied index ${this.state.version}`);
    this.loadImage(index, image);
    this.snapshotIndex = index;
    // Proposals through the snapshot may have committed or been replaced: unknown, not failed.
    this.waiters.unknownThrough(index, `a controller snapshot replaced entries through ${index}`);
    this.snapshots.log.info({ index, imageBytes: image.byteLength }, 'controller snapshot installed from the leader');
    this.onChange(this.state);
  }

  abortAll(reason: string): void {
    this.waiters.abortAll(reason);
  }
}
