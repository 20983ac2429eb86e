// A simulated cluster driving the real core through the same Ready cycle node/ will use, with a
// "disk" per node that keeps only what was fsynced (mustSync) when the node crashes.
import { RaftInvariantError, assert } from '../assert.js';
import { applyConfChange, decodeConfChange } from '../confchange.js';
import { Xoshiro128 } from '../prng.js';
import { RawNode, bootstrapState, type Ready } from '../raw-node.js';
import type { LogPosition } from '../raft.js';
import { MemoryStorage } from '../storage.js';
import {
  asIndex, asNodeId, emptyConfState,
  type ConfChange, type ConfState, type Entry, type HardState, type Index, type NodeId, type Snapshot,
} from '../types.js';
import { InvariantChecker, Violation, type LogView } from './invariants.js';
import { Network, type NetworkFaults } from './network.js';

export interface ClusterOptions {
  readonly seed: number;
  readonly size: number;
  readonly faults: NetworkFaults;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  readonly preVote: boolean;
  /** Tests only: turn each RawNode (on every start) into a deliberately broken variant. */
  readonly mutate?: (node: RawNode) => void;
}

type DiskOp =
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot }
  | { readonly kind: 'append'; readonly entries: readonly Entry[] }
  /** One atomic write (one LevelDB batch in node/): commit and the membership as of it travel together. */
  | { readonly kind: 'state'; readonly hardState: HardState | undefined; readonly confState: ConfState | undefined }
  | { readonly kind: 'compact'; readonly index: Index; readonly confState: ConfState };

export class SimNode {
  node: RawNode | undefined = undefined;
  /** What the running process reads and writes (the page cache). */
  storage = new MemoryStorage();
  /** Written but not yet fsynced; a crash keeps only a prefix of these. */
  pending: DiskOp[] = [];
  lastApplied: Index = asIndex(0);
  /** Membership as of lastApplied (what a compaction records). */
  appliedConf: ConfState = emptyConfState;
  /** index → term of entries this node accepted from clients while leading. */
  proposals = new Map<number, { term: number; value: number }>();
  lastRole = '';
  lastTerm = 0;
  /** voter → last tick this node could reach it (ground truth, for the check-quorum invariant). */
  lastReachTick = new Map<NodeId, number>();
  startTick = 0;
  lastConf: ConfState | undefined = undefined;

  /**
   * Set when a crash also cut this node's stored log (disk damage): the last entry it held
   * before. Passed to Raft as lostLogEnd until Raft is back there.
   */
  lostLogEnd: LogPosition | undefined = undefined;

  constructor(readonly id: NodeId, public disk: MemoryStorage) {}

  get alive(): boolean {
    return this.node !== undefined;
  }
}

export function applyDiskOp(s: MemoryStorage, op: DiskOp): void {
  switch (op.kind) {
    case 'snapshot': s.applySnapshot(op.snapshot); return;
    case 'append': s.append(op.entries); return;
    case 'state':
      if (op.hardState !== undefined) s.setHardState(op.hardState);
      if (op.confState !== undefined) s.setConfState(op.confState);
      return;
    case 'compact': s.compact(op.index, op.confState); return;
  }
}

/**
 * The disk after damage cut its log after `keepThrough` (bit rot found at restart, a lost
 * write-back): entries past it are gone, commit falls with them, hard state and membership stay.
 */
function damagedStorage(disk: MemoryStorage, keepThrough: Index): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot(disk.snapshot());
  const ents = disk.entries(disk.firstIndex(), asIndex(keepThrough + 1), Number.MAX_SAFE_INTEGER);
  if (ents !== undefined) s.append(ents);
  const init = disk.initialState();
  s.setHardState({ ...init.hardState, commit: asIndex(Math.min(init.hardState.commit, keepThrough)) });
  s.setConfState(init.confState);
  return s;
}

function cloneStorage(disk: MemoryStorage): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot(disk.snapshot());
  const ents = disk.entries(disk.firstIndex(), asIndex(disk.lastIndex() + 1), Number.MAX_SAFE_INTEGER);
  if (ents !== undefined) s.append(ents);
  const init = disk.initialState();
  s.setHardState(init.hardState);
  s.setConfState(init.confState);
  return s;
}

export function logView(node: RawNode): LogView {
  const log = node.raft.log;
  return {
    firstIndex: () => log.firstIndex(),
    lastIndex: () => log.lastIndex(),
    term: (i) => log.term(i),
    entryAt: (i) => (i < log.firstIndex() || i > log.lastIndex() ? undefined : log.slice(i, asIndex(i + 1), Number.MAX_SAFE_INTEGER)?.[0]),
  };
}

export function encodeValue(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

export function decodeValue(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
}

export class Cluster {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly net: Network;
  readonly rng: Xoshiro128;
  readonly checker = new InvariantChecker();
  readonly trace: string[] = [];
  nowTick = 0;
  nextValue = 1;
  /** Values a leader accepted (a client is waiting for them) → the term of the last acceptance. */
  readonly accepted = new Map<number, number>();
  readonly committedValues = new Set<number>();
  nextNodeId: number;

  constructor(readonly opts: ClusterOptions) {
    this.rng = new Xoshiro128(opts.seed);
    this.net = new Network(new Xoshiro128(opts.seed ^ 0x5eed_0001), opts.faults);
    const voters = Array.from({ length: opts.size }, (_, i) => asNodeId(i + 1));
    this.nextNodeId = opts.size + 1;
    const boot = bootstrapState({ voters, learners: [] });
    for (const id of voters) {
      const disk = new MemoryStorage();
      disk.applySnapshot(boot.snapshot);
      disk.setHardState(boot.hardState);
      this.addNode(id, disk);
    }
  }

  private addNode(id: NodeId, disk: MemoryStorage): SimNode {
    const sn = new SimNode(id, disk);
    this.nodes.set(id, sn);
    this.start(sn);
    return sn;
  }

  note(event: string): void {
    this.trace.push(`t${this.nowTick} ${event}`);
  }

  private start(sn: SimNode): void {
    sn.storage = cloneStorage(sn.disk);
    sn.pending = [];
    const snap = sn.storage.snapshot();
    sn.lastApplied = snap.meta.index;
    sn.appliedConf = snap.meta.confState;
    sn.proposals.clear();
    sn.node = new RawNode({
      id: sn.id, storage: sn.storage, random: new Xoshiro128(this.opts.seed * 31 + sn.id * 7919 + this.nowTick),
      applied: snap.meta.index,
      electionTimeoutTicks: this.opts.electionTimeoutTicks, heartbeatIntervalTicks: this.opts.heartbeatIntervalTicks,
      maxSizePerMsgBytes: this.opts.maxSizePerMsgBytes, maxInflightMsgs: this.opts.maxInflightMsgs, preVote: this.opts.preVote,
      ...(sn.lostLogEnd ? { lostLogEnd: sn.lostLogEnd } : {}),
    });
    this.opts.mutate?.(sn.node);
    this.checker.observeRestart(sn.id);
    sn.lastRole = '';
    sn.startTick = this.nowTick;
    sn.lastReachTick.clear();
  }

  /** Runs fn, turning a failed core assertion into a violation the runner reports. */
  private guard(sn: SimNode, what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof RaftInvariantError) throw new Violation('coreAssert', `node ${sn.id} ${what}: ${err.message}`);
      throw err;
    }
  }

  alive(): SimNode[] {
    return [...this.nodes.values()].filter((sn) => sn.alive);
  }

  /** The live leader with the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const sn of this.nodes.values()) {
      const r = sn.node?.raft;
      if (r?.role === 'leader' && (best === undefined || r.term > best.node!.raft.term)) best = sn;
    }
    return best;
  }

  // ---- the host loop -----------------------------------------------------------------------

  /** One global tick: deliver what is due, tick every live node, drain every Ready. */
  tick(): void {
    for (const sn of this.nodes.values()) {
      if (sn.lostLogEnd !== undefined && sn.node !== undefined && sn.node.raft.lostLogEnd() === undefined) sn.lostLogEnd = undefined;
    }
    for (const m of this.net.takeDue(this.nowTick)) {
      const sn = this.nodes.get(m.to);
      if (sn?.node === undefined) continue;
      this.guard(sn, `step ${m.type} from ${m.from}`, () => sn.node!.step(m));
      this.observe(sn);
    }
    for (const sn of this.nodes.values()) {
      if (sn.node === undefined) continue;
      this.guard(sn, 'tick', () => sn.node!.tick());
      this.observe(sn);
    }
    this.drain();
    this.checkIsolatedLeaders();
    this.nowTick += 1;
  }

  drain(): void {
    for (let round = 0; round < 20; round += 1) {
      let any = false;
      for (const sn of this.nodes.values()) {
        if (sn.node === undefined || !sn.node.hasReady()) continue;
        any = true;
        this.guard(sn, 'ready cycle', () => this.handleReady(sn, sn.node!));
        this.observe(sn);
      }
      if (!any) return;
    }
  }

  private handleReady(sn: SimNode, node: RawNode): void {
    const rd = node.ready();
    this.persist(sn, node, rd);
    for (const m of rd.messages) this.net.send(m, this.nowTick);
    if (rd.snapshot !== undefined) {
      sn.lastApplied = rd.snapshot.meta.index;
      sn.appliedConf = rd.snapshot.meta.confState;
    }
    for (const e of rd.committedEntries) this.apply(sn, e);
    node.advance(rd);
  }

  private persist(sn: SimNode, node: RawNode, rd: Ready): void {
    const ops: DiskOp[] = [];
    if (rd.snapshot !== undefined) ops.push({ kind: 'snapshot', snapshot: rd.snapshot });
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      const prevTerm = node.raft.log.term(asIndex(first - 1)) ?? sn.storage.term(asIndex(first - 1));
      assert(prevTerm !== undefined, `no term before ${first}`);
      this.checker.observeAppend(sn.id, rd.entries, prevTerm);
      ops.push({ kind: 'append', entries: rd.entries });
    }
    if (rd.hardState !== undefined || rd.confState !== undefined) {
      ops.push({ kind: 'state', hardState: rd.hardState, confState: rd.confState });
    }
    for (const op of ops) {
      applyDiskOp(sn.storage, op);
      sn.pending.push(op);
    }
    if (rd.mustSync) this.fsync(sn);
    if (rd.hardState !== undefined) this.checker.observeCommit(sn.id, rd.hardState.commit, logView(node));
  }

  private fsync(sn: SimNode): void {
    for (const op of sn.pending) applyDiskOp(sn.disk, op);
    sn.pending = [];
  }

  private apply(sn: SimNode, e: Entry): void {
    assert(e.index === sn.lastApplied + 1, `node ${sn.id} applies ${e.index} after ${sn.lastApplied}`);
    this.checker.observeApply(sn.id, e);
    sn.lastApplied = e.index;
    if (e.type === 'conf') sn.appliedConf = applyConfChange(sn.appliedConf, decodeConfChange(e.data));
    if (e.type !== 'normal') return;
    const value = decodeValue(e.data);
    this.committedValues.add(value);
    const p = sn.proposals.get(e.index);
    if (p !== undefined && p.term === e.term && p.value === value) this.checker.observeAck(e.index, e.term);
  }

  /** After anything that may change a node's role: election safety and leader completeness. */
  private observe(sn: SimNode): void {
    const r = sn.node?.raft;
    if (r === undefined) return;
    if (r.role !== sn.lastRole || r.term !== sn.lastTerm) {
      this.note(`n${sn.id} ${r.role} term ${r.term}`);
      sn.lastRole = r.role;
      sn.lastTerm = r.term;
    }
    if (r.role === 'leader') this.checker.observeLeader(sn.id, r.term, logView(sn.node!));
  }

  /**
   * Check-quorum, from the outside (ground truth of the network, not the core's view): a leader
   * that could reach only a minority of its voters during the last 2 election timeouts (+ the
   * maximum delay, for messages already on the wire) must have stepped down. Reachability is a
   * union over that window, because check-quorum also counts minorities that take turns.
   */
  private checkIsolatedLeaders(): void {
    const windowTicks = 2 * this.opts.electionTimeoutTicks + this.opts.faults.maxDelayTicks + 2;
    for (const sn of this.nodes.values()) {
      const r = sn.node?.raft;
      if (r === undefined) continue;
      if (r.conf !== sn.lastConf) {
        // A new config changes what "a majority" is: the window starts again for it.
        sn.lastConf = r.conf;
        for (const v of r.conf.voters) sn.lastReachTick.set(v, this.nowTick);
      }
      let recent = 0;
      for (const v of r.conf.voters) {
        if (v === sn.id || (this.nodes.get(v)?.alive === true && this.net.canTalk(sn.id, v))) sn.lastReachTick.set(v, this.nowTick);
        if (this.nowTick - (sn.lastReachTick.get(v) ?? sn.startTick) <= windowTicks) recent += 1;
      }
      if (r.role === 'leader' && recent <= r.conf.voters.length / 2) {
        throw new Violation('isolatedLeader', `node ${sn.id} still leads term ${r.term} after ${windowTicks} ticks able to reach only ${recent} of ${r.conf.voters.length} voters`);
      }
    }
  }

  // ---- faults and workload -----------------------------------------------------------------

  /**
   * Crashes a node; with `damage`, its disk then also loses a suffix of the log, fsynced or not.
   * Damage hits one node at a time (a minority): not while another still withholds its vote.
   */
  crash(id: NodeId, damage = false): void {
    const sn = this.nodes.get(id);
    if (sn?.node === undefined) return;
    const keep = this.rng.nextInt(sn.pending.length + 1); // the OS may have flushed some of it
    for (const op of sn.pending.slice(0, keep)) applyDiskOp(sn.disk, op);
    sn.pending = [];
    sn.node = undefined;
    this.note(`crash n${id} (kept ${keep} unsynced writes)`);
    const otherDamaged = [...this.nodes.values()].some((o) => o !== sn && o.lostLogEnd !== undefined);
    if (!damage || otherDamaged) return;
    // Not past a membership change: the stored membership is as of commit and must stay true.
    const ents = sn.disk.entries(sn.disk.firstIndex(), asIndex(sn.disk.lastIndex() + 1), Number.MAX_SAFE_INTEGER) ?? [];
    const lastConf = ents.reduce((k, e) => (e.type === 'conf' ? e.index : k), sn.disk.snapshot().meta.index);
    const last = sn.disk.lastIndex();
    if (last <= lastConf) return;
    const keepThrough = asIndex(lastConf + this.rng.nextInt(last - lastConf));
    const lastTerm = sn.disk.term(last)!;
    sn.disk = damagedStorage(sn.disk, keepThrough);
    if (sn.lostLogEnd === undefined || sn.lostLogEnd.index < last) sn.lostLogEnd = { index: last, term: lastTerm };
    this.note(`disk damage on n${id}: log cut after ${keepThrough} (held ${last})`);
  }

  restart(id: NodeId): void {
    const sn = this.nodes.get(id);
    if (sn === undefined || sn.node !== undefined) return;
    this.start(sn);
    this.note(`restart n${id}`);
  }

  /** Client proposals to whichever node claims to lead (a client follows "not leader" hints). */
  propose(count: number): void {
    const l = this.leader();
    if (l === undefined) return;
    for (let i = 0; i < count; i += 1) this.proposeValue(l, this.nextValue++);
  }

  proposeValue(l: SimNode, value: number): boolean {
    const res = l.node!.propose(encodeValue(value));
    if (!res.ok) return false;
    l.proposals.set(res.index, { term: res.term, value });
    this.accepted.set(value, res.term);
    return true;
  }

  transfer(to: NodeId): void {
    const l = this.leader();
    if (l === undefined) return;
    const res = l.node!.transferLeadership(to);
    this.note(`transfer n${l.id} → n${to}: ${res.ok ? 'started' : res.code}`);
  }

  /** One membership step, chosen from what the leader's config allows. */
  confChange(): void {
    const l = this.leader();
    if (l === undefined) return;
    const conf = l.node!.raft.conf;
    let cc: ConfChange;
    const learner = conf.learners[0];
    if (learner !== undefined) {
      const pr = l.node!.raft.progress.get(learner);
      if (pr === undefined || pr.match < l.node!.raft.log.committed) return; // not caught up yet
      cc = { type: 'addVoter', nodeId: learner };
    } else if (conf.voters.length < 5 && this.rng.chance(0.5)) {
      cc = { type: 'addLearner', nodeId: asNodeId(this.nextNodeId) };
    } else if (conf.voters.length > 3) {
      cc = { type: 'removeNode', nodeId: conf.voters[this.rng.nextInt(conf.voters.length)]! };
    } else return;
    const res = l.node!.proposeConfChange(cc);
    this.note(`conf ${cc.type} n${cc.nodeId} via n${l.id}: ${res.ok ? `at ${res.index}` : res.code}`);
    if (res.ok && cc.type === 'addLearner') {
      this.nextNodeId += 1;
      this.addNode(cc.nodeId, new MemoryStorage()); // an empty replica: it will get a snapshot
    }
  }

  /** The host drops the log through its applied index (retention or a snapshot). */
  compact(id: NodeId): void {
    const sn = this.nodes.get(id);
    if (sn?.node === undefined || sn.lastApplied <= sn.storage.firstIndex()) return;
    const op: DiskOp = { kind: 'compact', index: sn.lastApplied, confState: sn.appliedConf };
    applyDiskOp(sn.storage, op);
    sn.pending.push(op);
    this.note(`compact n${id} through ${sn.lastApplied}`);
  }

  partition(sides: ReadonlyMap<NodeId, number>, holdTicks: number): void {
    this.net.partition(sides, this.nowTick + holdTicks);
    this.note(`partition ${[...sides].map(([id, s]) => `n${id}:${s}`).join(' ')} for ≥${holdTicks}`);
  }

  heal(): void {
    if (!this.net.partitioned) return;
    this.net.heal();
    this.note('heal');
  }
}
