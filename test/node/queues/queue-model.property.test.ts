/**
 * Model-based test of queue semantics (issue 8): fast-check command sequences of receive / ack /
 * nack / extend / reject / tick / crash / compaction + crash / lost write / dead-letter pass against QueueSim, checked
 * against an independent model of SQS-like semantics:
 *   - an acked record is never delivered again (across crashes too);
 *   - a delivery's count is the model's count + 1 and never exceeds maxDeliveries;
 *   - nothing locked and not yet expired is delivered to another worker;
 *   - with FIFO, a record is delivered only when every earlier record of its key is finished and
 *     none of its key is in flight;
 *   - receipts are accepted exactly when the model says the lock is still theirs;
 *   - a record is dead-lettered for its delivery count only after exactly maxDeliveries;
 *   - in the end (time moving on, nobody acking), every record is acked, expired or in the DLQ.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveQueueConfig, type QueueConfig } from '../../../node/queues/queue-config.js';
import type { QueueReceipt, ReceiptOperation } from '../../../node/queues/queue-group.js';
import type { RecordMeta } from '../../../node/queues/queue-partition.js';
import { QueueSim } from './queue-sim.js';

interface ModelMsg {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly expiresAtMs: number;
  readonly visibleFromMs: number;
  deliveries: number;
  hold: { d: number; untilMs: number } | null;
  state: 'open' | 'dead' | 'acked' | 'expired' | 'dlq';
  deadReason?: string;
  /** The delivery whose ack finished it. */
  ackedBy?: number;
}

class Model {
  readonly msgs = new Map<string, ModelMsg>();
  readonly receipts: QueueReceipt[] = [];
  constructor(readonly config: QueueConfig) {}
  get(p: number, o: number): ModelMsg {
    const m = this.msgs.get(`${p}/${o}`);
    if (!m) throw new Error(`model has no record ${p}/${o}`);
    return m;
  }
  finished(m: ModelMsg): boolean {
    return m.state === 'acked' || m.state === 'expired' || m.state === 'dlq';
  }
  /** Whether the model says this receipt still holds its record's lock (expired or not). */
  holds(r: QueueReceipt): boolean {
    const m = this.get(r.partition, r.offset);
    return m.state === 'open' && m.hold !== null && m.hold.d === r.deliveries;
  }
}

type Cmd = fc.Command<Model, QueueSim>;

class Step implements Cmd {
  constructor(readonly label: string, readonly fn: (m: Model, s: QueueSim) => void) {}
  check(): boolean {
    return true;
  }
  run(m: Model, s: QueueSim): void {
    this.fn(m, s);
    syncDecisions(m, s);
  }
  toString(): string {
    return this.label;
  }
}

/** Adopts the decisions the coordinator takes on its own (dead letters, expiries) after checking they are legal. */
function syncDecisions(m: Model, s: QueueSim): void {
  for (const msg of m.msgs.values()) {
    const qs = s.image.partitionOf('g', msg.partition);
    const st = msg.offset < qs.floor ? undefined : qs.messages.get(msg.offset);
    if (msg.offset < qs.floor) {
      // Finished in the same step that moved the floor past it: only an expiry can do that unseen.
      if (msg.state === 'open') checkExpiry(msg, s);
      expect(m.finished(msg), `${msg.partition}/${msg.offset} below the floor but ${msg.state} in the model`).toBe(true);
      continue;
    }
    if (st?.s === 'dead' && msg.state === 'open') {
      const lockLive = msg.hold !== null && msg.hold.untilMs > s.nowMs;
      expect(lockLive, `${msg.partition}/${msg.offset} dead-lettered while locked`).toBe(false);
      expect(st.reason).toBe('max-deliveries');
      expect(msg.deliveries, `${msg.partition}/${msg.offset} dead-lettered after ${msg.deliveries} deliveries`).toBe(m.config.maxDeliveries);
      msg.state = 'dead';
      msg.deadReason = st.reason;
    }
    if (st?.s === 'done' && st.how === 'expired' && msg.state === 'open') checkExpiry(msg, s);
    if (msg.state === 'acked') expect(st?.s, `acked ${msg.partition}/${msg.offset} is ${st?.s} in the queue`).toBe('done');
  }
}

function checkExpiry(msg: ModelMsg, s: QueueSim): void {
  expect(s.nowMs >= msg.expiresAtMs, `${msg.partition}/${msg.offset} expired early`).toBe(true);
  expect(msg.hold !== null && msg.hold.untilMs > s.nowMs, 'expired while locked').toBe(false);
  msg.state = 'expired';
}

function checkDelivery(m: Model, s: QueueSim, r: QueueReceipt, deliveredNow: readonly QueueReceipt[]): void {
  const msg = m.get(r.partition, r.offset);
  const where = `${r.partition}/${r.offset}`;
  expect(msg.state, `${where} delivered while ${msg.state}`).toBe('open');
  expect(r.deliveries, `${where} delivery count`).toBe(msg.deliveries + 1);
  expect(r.deliveries).toBeLessThanOrEqual(m.config.maxDeliveries);
  expect(msg.hold !== null && msg.hold.untilMs > s.nowMs, `${where} delivered while locked`).toBe(false);
  expect(s.nowMs >= msg.visibleFromMs, `${where} delivered before its delivery time`).toBe(true);
  if (m.config.fifo && msg.key !== null) {
    for (const other of m.msgs.values()) {
      if (other === msg || other.key !== msg.key || other.partition !== msg.partition) continue;
      if (other.offset < msg.offset) expect(m.finished(other), `FIFO: ${where} before earlier ${other.offset} (${other.state}) of key ${msg.key}`).toBe(true);
      const inFlight = (other.hold !== null && other.hold.untilMs > s.nowMs && other.state === 'open') || deliveredNow.some((d) => d !== r && d.partition === other.partition && d.offset === other.offset);
      expect(inFlight, `FIFO: two records of key ${msg.key} in flight`).toBe(false);
    }
  }
}

function receiveCmd(max: number, lockMs: number): Cmd {
  return new Step(`receive(${max}, ${lockMs})`, (m, s) => {
    const got = s.receive(max, lockMs);
    expect(got.length).toBeLessThanOrEqual(max);
    for (const r of got) checkDelivery(m, s, r, got);
    for (const r of got) {
      const msg = m.get(r.partition, r.offset);
      msg.deliveries = r.deliveries;
      msg.hold = { d: r.deliveries, untilMs: s.nowMs + lockMs };
      m.receipts.push(r);
    }
  });
}

function settleCmd(op: ReceiptOperation, pick: number): Cmd {
  return new Step(`${op.op}(#${pick}${op.op === 'nack' ? `, ${op.delayMs}` : ''})`, (m, s) => {
    if (m.receipts.length === 0) return;
    const r = m.receipts[pick % m.receipts.length]!;
    const msg = m.get(r.partition, r.offset);
    const live = m.holds(r) && msg.hold!.untilMs > s.nowMs;
    // An ack is a no-op success when this very delivery acked it already and the record is still
    // above the floor (below it, how it finished is no longer known, so it is refused).
    const belowFloor = r.offset < s.image.partitionOf('g', r.partition).floor;
    const expected = op.op === 'ack' ? (m.finished(msg) && !belowFloor && msg.ackedBy === r.deliveries) || m.holds(r) : op.op === 'extend' ? live : m.holds(r);
    const [outcome] = s.settle(op, [r]);
    expect(outcome!.ok, `${op.op} of ${r.partition}/${r.offset}@${r.deliveries} (model: ${msg.state}, hold ${JSON.stringify(msg.hold)}, now ${s.nowMs}): ${outcome!.ok ? 'ok' : outcome!.message}`).toBe(expected);
    if (!outcome!.ok || m.finished(msg)) return;
    if (op.op === 'ack') {
      msg.state = 'acked';
      msg.ackedBy = r.deliveries;
      msg.hold = null;
    } else if (op.op === 'nack') {
      msg.hold = null;
    } else if (op.op === 'extend') {
      msg.hold = { d: r.deliveries, untilMs: s.nowMs + op.lockMs };
    } else {
      msg.state = 'dead';
      msg.deadReason = 'rejected';
      msg.hold = null;
    }
  });
}

const tickCmd = (ms: number): Cmd => new Step(`tick(${ms})`, (_m, s) => void (s.nowMs += ms));
const crashCmd = new Step('crash', (_m, s) => s.crash());
/** The log cleaner compacts the group-state log, then the coordinator fails over: same state. */
const compactAndCrashCmd = new Step('compact+crash', (_m, s) => {
  const before = stateOf(s);
  s.compact();
  s.crash();
  expect(stateOf(s)).toEqual(before);
});

function stateOf(s: QueueSim): string[] {
  return [...s.image.records()].map((r) => JSON.stringify(r)).sort();
}
const lostWriteCmd = new Step('lostReceive', (_m, s) => void s.receive(10, 1_000, { lose: true }));
const deadLetterCmd = new Step('deadLetterPass', (m, s) => {
  for (const d of s.flushDeadLetters()) {
    const msg = m.get(d.partition, d.offset);
    expect(msg.state, `${d.partition}/${d.offset} dead-lettered while ${msg.state}`).toBe('dead');
    expect(d.reason).toBe(msg.deadReason);
    msg.state = 'dlq';
  }
});

const commands = [
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom(500, 2_000, 10_000)).map(([max, lock]) => receiveCmd(max, lock)),
  fc.nat(50).map((pick) => settleCmd({ op: 'ack' }, pick)),
  fc.tuple(fc.nat(50), fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: undefined })).map(([pick, delayMs]) => settleCmd({ op: 'nack', delayMs }, pick)),
  fc.tuple(fc.nat(50), fc.constantFrom(1_000, 5_000)).map(([pick, lockMs]) => settleCmd({ op: 'extend', lockMs }, pick)),
  fc.nat(50).map((pick) => settleCmd({ op: 'reject' }, pick)),
  fc.integer({ min: 1, max: 8_000 }).map(tickCmd),
  fc.constant(crashCmd),
  fc.constant(compactAndCrashCmd),
  fc.constant(lostWriteCmd),
  fc.constant(deadLetterCmd),
];

interface Setup {
  readonly config: QueueConfig;
  readonly source: RecordMeta[][];
  readonly ends: number[];
}

const setupArb: fc.Arbitrary<Setup> = fc.record({
  maxDeliveries: fc.integer({ min: 1, max: 4 }),
  fifo: fc.boolean(),
  maxInFlightPerPartition: fc.integer({ min: 1, max: 8 }),
  baseMs: fc.integer({ min: 0, max: 1_000 }),
  jitter: fc.double({ min: 0, max: 1, noNaN: true }),
  partitions: fc.array(fc.array(fc.record({
    gap: fc.integer({ min: 0, max: 2 }),
    key: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: null }),
    delayMs: fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: undefined, freq: 4 }),
    ttlMs: fc.option(fc.integer({ min: 1, max: 60_000 }), { nil: undefined, freq: 4 }),
  }), { minLength: 0, maxLength: 10 }), { minLength: 1, maxLength: 3 }),
}).map((x) => {
  const r = resolveQueueConfig('g', {
    topic: 't', maxDeliveries: x.maxDeliveries, fifo: x.fifo, maxInFlightPerPartition: x.maxInFlightPerPartition,
    backoff: { baseMs: x.baseMs, maxMs: Math.max(x.baseMs, 2_000), jitter: x.jitter },
  });
  if (!r.ok) throw new Error(r.problem);
  const t0 = 1_000_000;
  const ends: number[] = [];
  const source = x.partitions.map((recs, p) => {
    let offset = 0;
    const metas = recs.map((rec): RecordMeta => {
      offset += rec.gap;
      const m = {
        offset, timestampMs: t0, fifoKey: rec.key, visibleFromMs: rec.delayMs === undefined ? 0 : t0 + rec.delayMs,
        expiresAtMs: rec.ttlMs === undefined ? Infinity : t0 + rec.ttlMs, sizeBytes: 100,
      };
      offset += 1;
      return m;
    });
    ends[p] = offset + 1;
    return metas;
  });
  return { config: r.value, source, ends };
});

function modelOf(setup: Setup): Model {
  const m = new Model(setup.config);
  setup.source.forEach((metas, partition) => {
    for (const meta of metas) {
      m.msgs.set(`${partition}/${meta.offset}`, {
        partition, offset: meta.offset, key: meta.fifoKey, expiresAtMs: meta.expiresAtMs, visibleFromMs: meta.visibleFromMs,
        deliveries: 0, hold: null, state: 'open',
      });
    }
  });
  return m;
}

/** Nobody acks any more and time moves on: everything must end acked, expired or dead-lettered. */
function drainToTheEnd(m: Model, s: QueueSim): void {
  const roundMs = 10_000 + s.config.backoff.maxMs + 1;
  for (let round = 0; round < 2_000 && [...m.msgs.values()].some((x) => !m.finished(x)); round += 1) {
    receiveCmd(1_000, 10_000).run(m, s);
    deadLetterCmd.run(m, s);
    s.nowMs += roundMs;
  }
  for (const msg of m.msgs.values()) {
    expect(m.finished(msg), `${msg.partition}/${msg.offset} never finished (${msg.state}, ${msg.deliveries} deliveries)`).toBe(true);
    if (msg.state === 'dlq' && msg.deadReason === 'max-deliveries') expect(msg.deliveries).toBe(m.config.maxDeliveries);
  }
}

describe('queue group semantics against an SQS-like model', () => {
  it('holds over random command sequences with crashes and lost writes', () => {
    fc.assert(
      fc.property(setupArb, fc.commands(commands, { maxCommands: 60 }), (setup, cmds) => {
        const sim = new QueueSim(setup.source, setup.ends, setup.config);
        const model = modelOf(setup);
        fc.modelRun(() => ({ model, real: sim }), cmds);
        drainToTheEnd(model, sim);
        // Replaying the committed log reaches the same state, and so does replaying it compacted.
        const before = stateOf(sim);
        sim.crash();
        expect(stateOf(sim)).toEqual(before);
        sim.compact();
        sim.crash();
        expect(stateOf(sim)).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });
});
