// One seed = one whole run: a fault phase (safety checked after every step), then a liveness
// phase (heal, restart, require convergence within a bound), then one measured leader crash.
import { RaftInvariantError } from '../assert.js';
import { Xoshiro128 } from '../prng.js';
import type { RawNode } from '../raw-node.js';
import { asNodeId, type NodeId } from '../types.js';
import { Cluster } from './cluster.js';
import { Violation } from './invariants.js';
import type { NetworkFaults } from './network.js';

export interface Scenario {
  readonly seed: number;
  readonly size: number;
  readonly faults: NetworkFaults;
  readonly faultTicks: number;
  readonly crashChance: number;
  readonly restartChance: number;
  readonly partitionChance: number;
  readonly proposeChance: number;
  readonly transferChance: number;
  readonly confChangeChance: number;
  readonly compactChance: number;
  /** Chance that a crash also cuts the node's stored log (disk damage on a minority). */
  readonly damageChance: number;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  /** Small values force one entry per append and a full inflight window: flow control under test. */
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  readonly preVote: boolean;
}

export interface SeedResult {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly violation: Violation | undefined;
  readonly ticks: number;
  /** Ticks from crashing a healthy leader to a new leader (undefined if not reached). */
  readonly electTicks: number | undefined;
  readonly committed: number;
  readonly trace: readonly string[];
}

/** Cluster size and fault rates are themselves drawn from the seed. */
export function scenarioFor(seed: number, overrides: Partial<Scenario> = {}): Scenario {
  const rng = new Xoshiro128(seed ^ 0x0c0f_fee0);
  const pick = (lo: number, hi: number) => lo + (hi - lo) * (rng.nextInt(1001) / 1000);
  return {
    seed,
    size: rng.chance(0.5) ? 3 : 5,
    faults: { dropRate: pick(0, 0.2), duplicateRate: pick(0, 0.1), maxDelayTicks: 1 + rng.nextInt(4), reorder: true },
    faultTicks: 300,
    crashChance: pick(0, 0.03),
    restartChance: pick(0.02, 0.1),
    partitionChance: pick(0, 0.03),
    proposeChance: pick(0.1, 0.6),
    transferChance: pick(0, 0.01),
    confChangeChance: pick(0, 0.03),
    compactChance: pick(0, 0.03),
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: 1,
    maxSizePerMsgBytes: rng.chance(0.5) ? 8 : 1024,
    maxInflightMsgs: rng.chance(0.5) ? 4 : 64,
    damageChance: pick(0, 0.5),
    preVote: true,
    ...overrides,
  };
}

/** One random fault-phase step: maybe some events, then one tick. */
export function chaosStep(c: Cluster, s: Scenario): void {
  const rng = c.rng;
  const ids = [...c.nodes.keys()];
  const anyId = (): NodeId => ids[rng.nextInt(ids.length)]!;
  if (rng.chance(s.crashChance)) {
    const liveCount = c.alive().length;
    if (liveCount > 1) c.crash(anyId(), rng.chance(s.damageChance));
  }
  if (rng.chance(s.restartChance)) {
    const dead = ids.filter((id) => !c.nodes.get(id)!.alive);
    if (dead.length > 0) c.restart(dead[rng.nextInt(dead.length)]!);
  }
  if (rng.chance(s.partitionChance) && c.nowTick >= c.net.partitionHoldUntilTick) {
    if (c.net.partitioned && rng.chance(0.5)) c.heal();
    else c.partition(new Map(ids.map((id) => [id, rng.nextInt(2)])), 2 * s.electionTimeoutTicks + rng.nextInt(40));
  }
  if (rng.chance(s.proposeChance)) c.propose(1 + rng.nextInt(3));
  if (rng.chance(s.transferChance)) c.transfer(anyId());
  if (rng.chance(s.confChangeChance)) c.confChange();
  if (rng.chance(s.compactChance)) c.compact(anyId());
  c.tick();
}

export interface RunOptions {
  readonly mutate?: (node: RawNode) => void;
  /** Stop after the fault phase (the must-catch tests only need safety). */
  readonly safetyOnly?: boolean;
}

export function runSeed(seed: number, overrides: Partial<Scenario> = {}, opts: RunOptions = {}): SeedResult {
  const s = scenarioFor(seed, overrides);
  const c = new Cluster({
    seed, size: s.size, faults: s.faults, electionTimeoutTicks: s.electionTimeoutTicks,
    heartbeatIntervalTicks: s.heartbeatIntervalTicks, maxSizePerMsgBytes: s.maxSizePerMsgBytes,
    maxInflightMsgs: s.maxInflightMsgs, preVote: s.preVote, mutate: opts.mutate,
  });
  let violation: Violation | undefined;
  let electTicks: number | undefined;
  try {
    for (let i = 0; i < s.faultTicks; i += 1) chaosStep(c, s);
    if (!opts.safetyOnly) {
      liveness(c, s);
      electTicks = measureElection(c, s);
    }
  } catch (err) {
    if (err instanceof Violation) violation = err;
    else if (err instanceof RaftInvariantError) violation = new Violation('coreAssert', err.message);
    else throw err;
  }
  if (violation !== undefined) c.note(`VIOLATION ${violation.message}`);
  return { seed, scenario: s, violation, ticks: c.nowTick, electTicks, committed: c.committedValues.size, trace: c.trace };
}

/** Heal everything and require a leader, every accepted value committed, and all members caught up. */
export function liveness(c: Cluster, s: Scenario): void {
  c.note('liveness: heal, restart all, no more faults');
  c.heal();
  c.net.faults = { dropRate: 0, duplicateRate: 0, maxDelayTicks: 1, reorder: false }; // healthy: FIFO, one tick
  for (const [id, sn] of c.nodes) if (!sn.alive) c.restart(id);
  const boundTicks = 40 * s.electionTimeoutTicks;
  const start = c.nowTick;
  while (c.nowTick - start < boundTicks) {
    c.tick();
    const l = c.leader();
    if (l === undefined) continue;
    if ((c.nowTick - start) % 5 === 0) {
      // Clients retry what they never saw committed (the leader that took it may have lost it).
      // Only values whose last acceptance was in an older term: those may have been cut.
      const term = l.node!.raft.term;
      for (const [v, t] of c.accepted) if (!c.committedValues.has(v) && t < term) c.proposeValue(l, v);
    }
    if (converged(c)) {
      c.note(`liveness: converged after ${c.nowTick - start} ticks`);
      return;
    }
  }
  const l = c.leader();
  const missing = [...c.accepted.keys()].filter((v) => !c.committedValues.has(v)).length;
  const states = [...c.nodes.values()].map((sn) => {
    const r = sn.node?.raft;
    return r ? `n${sn.id}:${r.role[0]}${r.term} last ${r.log.lastIndex()} commit ${r.log.committed} applied ${sn.lastApplied}${r.lostLogEnd() ? ' lost-log' : ''}` : `n${sn.id}:down`;
  }).join(', ');
  throw new Violation('liveness', `no convergence within ${boundTicks} ticks after healing (leader ${l?.id ?? 'none'}, ${missing} values uncommitted; ${states})`);
}

function converged(c: Cluster): boolean {
  const l = c.leader();
  if (l === undefined) return false;
  const r = l.node!.raft;
  if (r.log.committed !== r.log.lastIndex()) return false;
  for (const v of c.accepted.keys()) if (!c.committedValues.has(v)) return false;
  for (const id of [...r.conf.voters, ...r.conf.learners]) {
    const sn = c.nodes.get(id);
    if (sn?.node === undefined || sn.node.raft.role === 'leader' && sn !== l) return false;
    if (sn.node.raft.term !== r.term || sn.lastApplied !== r.log.committed) return false;
  }
  return true;
}

/** Crash the (healthy, converged) leader and count ticks until a new one is elected. */
export function measureElection(c: Cluster, s: Scenario): number {
  const old = c.leader()!;
  const oldTerm = old.node!.raft.term;
  c.crash(old.id);
  const start = c.nowTick;
  const bound = 20 * s.electionTimeoutTicks;
  while (c.nowTick - start < bound) {
    c.tick();
    const l = c.leader();
    if (l !== undefined && l.node!.raft.term > oldTerm) return c.nowTick - start;
  }
  throw new Violation('liveness', `no new leader within ${bound} ticks after crashing leader n${old.id}`);
}

export const nodeIds = (n: number): NodeId[] => Array.from({ length: n }, (_, i) => asNodeId(i + 1));
