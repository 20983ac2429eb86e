// A hand-driven cluster for paper-style tests: every message goes through an inbox the test can
// filter, and every node runs the host loop of raw-node.ts against a MemoryStorage.
import {
  MemoryStorage, RawNode, Xoshiro128, asNodeId, bootstrapState,
  type Entry, type Message, type NodeId, type RaftConfig,
} from '../../raft/index.js';

export interface TestNode {
  readonly node: RawNode;
  readonly storage: MemoryStorage;
  readonly applied: Entry[];
}

export class TestNet {
  readonly nodes = new Map<NodeId, TestNode>();
  inbox: Message[] = [];
  /** Messages for which this returns true are dropped on delivery. */
  drop: (m: Message) => boolean = () => false;

  constructor(size: number, readonly config: Partial<Omit<RaftConfig, 'id' | 'storage' | 'random'>> = {}) {
    const voters = Array.from({ length: size }, (_, i) => asNodeId(i + 1));
    for (const id of voters) this.add(id, bootedStorage(voters));
  }

  add(id: NodeId, storage: MemoryStorage): TestNode {
    const node = new RawNode({ id, storage, random: new Xoshiro128(id), ...this.config });
    const t = { node, storage, applied: [] };
    this.nodes.set(id, t);
    return t;
  }

  get(id: number): TestNode {
    return this.nodes.get(asNodeId(id))!;
  }

  raft(id: number) {
    return this.get(id).node.raft;
  }

  /** Run one node's Ready cycles until it has nothing more; its messages go to the inbox. */
  drain(id: number): Message[] {
    const t = this.get(id);
    const out: Message[] = [];
    while (t.node.hasReady()) {
      const rd = t.node.ready();
      if (rd.snapshot !== undefined) t.storage.applySnapshot(rd.snapshot);
      t.storage.append(rd.entries);
      if (rd.hardState !== undefined) t.storage.setHardState(rd.hardState);
      if (rd.confState !== undefined) t.storage.setConfState(rd.confState);
      out.push(...rd.messages);
      t.applied.push(...rd.committedEntries);
      t.node.advance(rd);
    }
    this.inbox.push(...out);
    return out;
  }

  /** Deliver and drain until quiet. */
  stabilize(maxRounds = 200): void {
    for (let round = 0; round < maxRounds; round += 1) {
      for (const id of this.nodes.keys()) this.drain(id);
      if (this.inbox.length === 0) return;
      const batch = this.inbox;
      this.inbox = [];
      for (const m of batch) {
        const to = this.nodes.get(m.to);
        if (to !== undefined && !this.drop(m)) to.node.step(m);
      }
    }
    throw new Error('cluster did not stabilize');
  }

  /** Tick every node n times, stabilizing after each tick. */
  tickAll(n: number, only?: readonly number[]): void {
    for (let i = 0; i < n; i += 1) {
      for (const [id, t] of this.nodes) if (only === undefined || only.includes(id)) t.node.tick();
      this.stabilize();
    }
  }

  elect(id: number): void {
    this.get(id).node.campaign();
    this.stabilize();
  }
}

export function bootedStorage(voters: readonly NodeId[], learners: readonly NodeId[] = []): MemoryStorage {
  const s = new MemoryStorage();
  const boot = bootstrapState({ voters, learners });
  s.applySnapshot(boot.snapshot);
  s.setHardState(boot.hardState);
  return s;
}

export const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
