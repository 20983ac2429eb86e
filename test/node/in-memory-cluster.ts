/**
 * A test harness: partition replicas of one Raft group ("7/0") on real logs and LevelDB, each with
 * its own RaftHost, over an in-memory network that delivers between running nodes only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { PartitionLog } from '../../log/index.js';
import { asNodeId, type Message, type NodeId } from '../../raft/index.js';
import type { FsyncPolicy } from '../../node/config.js';
import { GroupStateStore } from '../../node/group-state-store.js';
import { loadOrBootstrapGroup, loadOrJoinGroup } from '../../node/group-bootstrap.js';
import { EntryCacheBudget, RaftEntryCache } from '../../node/raft-entry-cache.js';
import { PartitionRaftStorage } from '../../node/partition-raft-storage.js';
import { PartitionReplica } from '../../node/partition-replica.js';
import { RaftHost, type MessageSink } from '../../node/raft-host.js';

const log = pino({ level: 'silent' });
export const group = '7/0';

export interface TestNode {
  id: NodeId;
  dir: string;
  store: GroupStateStore;
  plog: PartitionLog;
  host: RaftHost;
  replica: PartitionReplica;
  up: boolean;
}

/** Partition replicas of one Raft group on real logs and LevelDB, over an in-memory network. */
export class Cluster {
  nodes = new Map<number, TestNode>();

  constructor(private readonly fsync: FsyncPolicy = 'always') {}

  private ticker: NodeJS.Timeout | undefined;
  private readonly root = mkdtempSync(path.join(os.tmpdir(), 'ferry-multiraft-'));

  async start(ids: number[]): Promise<void> {
    for (const id of ids) await this.startNode(id, ids);
    this.ticker = setInterval(() => {
      for (const n of this.nodes.values()) if (n.up) n.host.tick();
    }, 5);
  }

  /** Starts (or restarts, from its disk) a node: a founding voter of `voters`, or one that joins. */
  async startNode(id: number, voters: number[] | 'join'): Promise<TestNode> {
    const dir = path.join(this.root, `n${id}`);
    const store = await GroupStateStore.open(path.join(dir, 'meta'));
    const stored = voters === 'join' ? await loadOrJoinGroup(store, group, 0) : await loadOrBootstrapGroup(store, group, { voters, learners: [] });
    const plog = await PartitionLog.open(path.join(dir, 'p'));
    // As the broker runs it, with an entry cache, but a tiny one: replication must also be right
    // through cache misses, evictions and truncations (1 KiB a group here; the broker gives 8 MiB).
    const storage = PartitionRaftStorage.open(plog, stored, 'logStart', new RaftEntryCache(new EntryCacheBudget(2 * 1024), 1024));
    const outbox: Array<[string, Message]> = [];
    const sink: MessageSink = {
      send: (g, m) => outbox.push([g, m]),
      flush: () => {
        for (const [g, m] of outbox.splice(0)) {
          const to = this.nodes.get(m.to);
          if (to?.up && this.nodes.get(id)?.up) setImmediate(() => to.up && to.host.step(g, m));
        }
      },
    };
    const host = new RaftHost({
      nodeId: asNodeId(id), store, sink, fsync: this.fsync, timing: { electionTimeoutTicks: 10, heartbeatIntervalTicks: 2 }, log,
      seed: id * 7919, onFatal: (err) => { throw err; },
    });
    const replica = new PartitionReplica(group, id, host, storage, { maxMessageBytes: 1 << 20 });
    host.addGroup(group, storage, replica);
    const node: TestNode = { id: asNodeId(id), dir, store, plog, host, replica, up: true };
    this.nodes.set(id, node);
    return node;
  }

  async kill(id: number): Promise<void> {
    const n = this.nodes.get(id)!;
    n.up = false;
    n.host.stop();
    await n.host.whenIdle();
    n.replica.abortAll('node stopped');
    await n.plog.close();
    await n.store.close();
  }

  async leader(timeoutMs = 5_000): Promise<TestNode> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leaders = [...this.nodes.values()].filter((n) => n.up && n.replica.isLeader);
      if (leaders.length === 1) return leaders[0]!;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('no single leader in time');
  }

  async stop(): Promise<void> {
    clearInterval(this.ticker);
    for (const n of this.nodes.values()) if (n.up) await this.kill(n.id);
    rmSync(this.root, { recursive: true, force: true });
  }
}
