/**
 * One partition of a queue group, as its coordinator decides it: pure and deterministic, time
 * passed in, no I/O. It holds the durable state (the ack floor and per-record states, shared with
 * the image) and the window: what is known about the source records from the floor up to the read
 * position (offset, FIFO key, delay, expiry), bounded by maxInFlightPerPartition. Records beyond
 * the window are not looked at until the floor moves (receive "waits" there).
 *
 * Every operation returns the facts to write through Raft (message states, floor moves) and has
 * already applied them: the coordinator applies eagerly and reloads from the log if a write fails,
 * so what it answers is always what the log says once the write committed.
 */
import { backoffMs } from './backoff.js';
import type { QueueConfig } from './queue-config.js';
import type { QueuePartitionState } from './queue-state-image.js';
import type { DeadReason, MessageState } from './queue-records.js';

/** What the window keeps of one source record. */
export interface RecordMeta {
  readonly offset: number;
  /** The record's timestamp (ms since the epoch): oldest-unacked age. */
  readonly timestampMs: number;
  /** The FIFO message-group key; null = ordered against nothing. */
  readonly fifoKey: string | null;
  /** Not delivered before this time (delayed delivery); 0 = at once. */
  readonly visibleFromMs: number;
  /** Skipped from this time on (time to live); Infinity = never. */
  readonly expiresAtMs: number;
  /** Key + value + headers bytes: a receive's byte budget. */
  readonly sizeBytes: number;
}

export type QueueFact =
  | { readonly kind: 'msg'; readonly offset: number; readonly state: MessageState }
  | { readonly kind: 'floor'; readonly floor: number };

export type Availability =
  | { readonly kind: 'available'; readonly deliveries: number }
  | { readonly kind: 'locked'; readonly untilMs: number; readonly deliveries: number }
  | { readonly kind: 'delayed'; readonly untilMs: number }
  | { readonly kind: 'deadLetterDue'; readonly deliveries: number }
  | { readonly kind: 'expired'; readonly deliveries: number }
  | { readonly kind: 'deadPending' }
  | { readonly kind: 'done' };

/** Where a record that failed delivery `d` (timed out or nacked) stands once it may be visible at `visibleAtMs`. */
function afterFailure(meta: RecordMeta, d: number, visibleAtMs: number, config: QueueConfig, nowMs: number): Availability {
  if (d >= config.maxDeliveries) return { kind: 'deadLetterDue', deliveries: d };
  if (nowMs >= meta.expiresAtMs) return { kind: 'expired', deliveries: d };
  if (nowMs < visibleAtMs) return { kind: 'delayed', untilMs: visibleAtMs };
  return { kind: 'available', deliveries: d };
}

/** Where a record stands at `nowMs`: the whole delivery policy in one function (hot: no closures). */
export function availabilityOf(meta: RecordMeta, st: MessageState | undefined, config: QueueConfig, nowMs: number): Availability {
  if (!st) {
    if (nowMs >= meta.expiresAtMs) return { kind: 'expired', deliveries: 0 };
    if (nowMs < meta.visibleFromMs) return { kind: 'delayed', untilMs: meta.visibleFromMs };
    return { kind: 'available', deliveries: 0 };
  }
  switch (st.s) {
    case 'done': return { kind: 'done' };
    case 'dead': return { kind: 'deadPending' };
    case 'locked':
      if (nowMs < st.until) return { kind: 'locked', untilMs: st.until, deliveries: st.d };
      return afterFailure(meta, st.d, st.until + backoffMs(config.backoff, meta.offset, st.d), config, nowMs);
    case 'released': return afterFailure(meta, st.d, st.at, config, nowMs);
  }
}

/** Names one delivery of one record: a receipt. */
export interface Delivery {
  readonly offset: number;
  readonly deliveries: number;
}

export type ReceiptCheck = { ok: true } | { ok: false; code: 'RECEIPT_EXPIRED' | 'INVALID_REQUEST'; message: string };

export interface ScanLimits {
  /** Records to lock at most. */
  readonly max: number;
  /** Record bytes to lock at most; a first record larger than this is allowed unless `nothingOversized`. */
  readonly maxBytes: number;
  /** Set when the receive already holds records (from other partitions). */
  readonly nothingOversized?: boolean;
  /** How long each lock lasts, in ms. */
  readonly lockMs: number;
}

export interface ScanResult {
  readonly facts: QueueFact[];
  /** Records locked for the caller, in offset order, with their new delivery count. */
  readonly delivered: Delivery[];
  /** Record bytes of `delivered`. */
  readonly bytes: number;
  readonly expired: number;
}

export class QueuePartition {
  private window: RecordMeta[] = [];
  private next: number;

  constructor(readonly partition: number, readonly state: QueuePartitionState) {
    this.next = state.floor;
  }

  /** The next source offset the window has not seen. */
  get readPosition(): number {
    return this.next;
  }

  get windowSize(): number {
    return this.window.length;
  }

  room(config: QueueConfig): number {
    return Math.max(0, config.maxInFlightPerPartition - this.window.length);
  }

  /**
   * Adds source records read at the read position; `nextOffset` is where the read ended (the
   * offset after the last batch). Records below the read position are skipped (a batch read at
   * the floor may start before it).
   */
  addRecords(metas: readonly RecordMeta[], nextOffset: number): void {
    if (nextOffset < this.next) throw new Error(`window read ended at ${nextOffset}, before the read position ${this.next}`);
    for (const m of metas) {
      if (m.offset < this.next) continue;
      if (m.offset >= nextOffset) throw new Error(`record ${m.offset} lies past the end of its read (${nextOffset})`);
      const last = this.window[this.window.length - 1];
      if (last && m.offset <= last.offset) throw new Error(`window records out of order: ${m.offset} after ${last.offset}`);
      this.window.push(m);
    }
    this.next = nextOffset;
  }

  /** The source log no longer starts at or below the floor (retention removed records): move past them. */
  skipTo(logStartOffset: number): QueueFact[] {
    if (logStartOffset <= this.state.floor) return [];
    this.window = this.window.filter((m) => m.offset >= logStartOffset);
    this.next = Math.max(this.next, logStartOffset);
    return this.apply([{ kind: 'floor', floor: logStartOffset }]);
  }

  metaOf(offset: number): RecordMeta | undefined {
    let lo = 0;
    let hi = this.window.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = this.window[mid]!;
      if (m.offset === offset) return m;
      if (m.offset < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** Applies facts (the coordinator's own, or replayed) and trims the window below the floor. */
  apply(facts: readonly QueueFact[]): QueueFact[] {
    for (const f of facts) {
      if (f.kind === 'floor') {
        this.state.setFloor(f.floor);
        let drop = 0;
        while (drop < this.window.length && this.window[drop]!.offset < f.floor) drop += 1;
        if (drop > 0) this.window = this.window.slice(drop);
        if (this.next < f.floor) this.next = f.floor;
      } else {
        this.state.setMessage(f.offset, f.state);
      }
    }
    return [...facts];
  }

  /** A floor fact when the lowest records of the window are all done. */
  private floorAdvance(): QueueFact[] {
    let i = 0;
    while (i < this.window.length && this.state.messages.get(this.window[i]!.offset)?.s === 'done') i += 1;
    const floor = i < this.window.length ? this.window[i]!.offset : this.next;
    return floor > this.state.floor ? this.apply([{ kind: 'floor', floor }]) : [];
  }

  /**
   * Locks up to `max` available records for `lockMs` (delivery count + 1), and settles what is
   * due on the way: dead letters (delivery count reached, decided with the next sequence number)
   * and expired records (skipped, or dead-lettered when the group says so). With FIFO, only the
   * lowest unfinished record of each key may be handed out, and only while no other of its key
   * is in flight.
   */
  scan(config: QueueConfig, nowMs: number, limits: ScanLimits, nextDeadLetterSeq: () => number): ScanResult {
    const { max, lockMs } = limits;
    if (!(lockMs > 0) || !(max >= 0)) throw new Error(`scan needs lockMs > 0 and max >= 0, got ${lockMs} and ${max}`);
    let bytes = 0;
    const facts: QueueFact[] = [];
    const delivered: Delivery[] = [];
    let expired = 0;
    const blockedKeys = config.fifo ? new Set<string>() : undefined;
    for (const meta of this.window) {
      const st = this.state.messages.get(meta.offset);
      if (st?.s === 'done') continue;
      const a = availabilityOf(meta, st, config, nowMs);
      const key = blockedKeys ? meta.fifoKey : null;
      const blocked = key !== null && blockedKeys!.has(key);
      if (key !== null) blockedKeys!.add(key);
      if (a.kind === 'deadLetterDue') {
        facts.push(...this.apply([this.deadFact(meta.offset, a.deliveries, 'max-deliveries', nextDeadLetterSeq)]));
      } else if (a.kind === 'expired') {
        expired += 1;
        facts.push(...this.apply([config.deadLetterExpired
          ? this.deadFact(meta.offset, a.deliveries, 'expired', nextDeadLetterSeq)
          : { kind: 'msg', offset: meta.offset, state: { s: 'done', d: a.deliveries, how: 'expired' } }]));
      } else if (a.kind === 'available' && !blocked && delivered.length < max && (bytes + meta.sizeBytes <= limits.maxBytes || (delivered.length === 0 && !limits.nothingOversized))) {
        const d = a.deliveries + 1;
        bytes += meta.sizeBytes;
        facts.push(...this.apply([{ kind: 'msg', offset: meta.offset, state: { s: 'locked', d, until: nowMs + lockMs } }]));
        delivered.push({ offset: meta.offset, deliveries: d });
      }
    }
    facts.push(...this.floorAdvance());
    return { facts, delivered, expired, bytes };
  }

  private deadFact(offset: number, d: number, reason: DeadReason, nextSeq: () => number): QueueFact {
    return { kind: 'msg', offset, state: { s: 'dead', d, reason, seq: nextSeq() } };
  }

  /** Whether `delivery` is the record's current lock (an expired one counts until it is handed out again). */
  checkReceipt(delivery: Delivery, what: string): ReceiptCheck {
    const { offset, deliveries } = delivery;
    const st = offset < this.state.floor ? undefined : this.state.messages.get(offset);
    if (offset < this.state.floor) {
      return { ok: false, code: 'RECEIPT_EXPIRED', message: `record ${offset} is already finished (acked by this or another delivery, expired or dead-lettered); nothing to ${what}` };
    }
    if (st?.s === 'done') return { ok: false, code: 'RECEIPT_EXPIRED', message: `record ${offset} is already done (${st.how} after delivery ${st.d}); nothing to ${what}` };
    if (!st) return { ok: false, code: 'INVALID_REQUEST', message: `record ${offset} has not been delivered; there is no lock to ${what}` };
    if (st.s === 'locked' && st.d === deliveries) return { ok: true };
    if (st.s === 'dead') return { ok: false, code: 'RECEIPT_EXPIRED', message: `record ${offset} is being dead-lettered after ${st.d} deliveries; cannot ${what} it` };
    return {
      ok: false, code: 'RECEIPT_EXPIRED',
      message: `receipt of delivery ${deliveries} of record ${offset} is stale: the lock expired and the record is now at delivery ${st.d} (${st.s}); cannot ${what} it`,
    };
  }

  /**
   * Acks a delivery. Acking again what this delivery already acked is a no-op while the record is
   * above the floor (a retry after a lost answer). A record acked by another delivery, expired or
   * dead-lettered is RECEIPT_EXPIRED: the worker must learn that its work was not what finished
   * the record; below the floor how it finished is no longer known, so that is RECEIPT_EXPIRED too.
   */
  ack(delivery: Delivery): { ok: true; facts: QueueFact[] } | Extract<ReceiptCheck, { ok: false }> {
    const st = this.state.messages.get(delivery.offset);
    if (delivery.offset >= this.state.floor && st?.s === 'done' && st.how === 'acked' && st.d === delivery.deliveries) return { ok: true, facts: [] };
    const check = this.checkReceipt(delivery, 'ack');
    if (!check.ok) return check;
    const facts = this.apply([{ kind: 'msg', offset: delivery.offset, state: { s: 'done', d: delivery.deliveries, how: 'acked' } }]);
    return { ok: true, facts: [...facts, ...this.floorAdvance()] };
  }

  /** Releases a delivery: visible again after `delayMs`, or after the group's backoff when undefined. */
  nack(config: QueueConfig, delivery: Delivery, nowMs: number, delayMs: number | undefined): { ok: true; facts: QueueFact[] } | Extract<ReceiptCheck, { ok: false }> {
    const check = this.checkReceipt(delivery, 'nack');
    if (!check.ok) return check;
    const wait = delayMs ?? backoffMs(config.backoff, delivery.offset, delivery.deliveries);
    return { ok: true, facts: this.apply([{ kind: 'msg', offset: delivery.offset, state: { s: 'released', d: delivery.deliveries, at: nowMs + wait } }]) };
  }

  /** Moves a live lock's deadline to now + lockMs (a lock that already expired cannot be extended). */
  extend(delivery: Delivery, nowMs: number, lockMs: number): { ok: true; facts: QueueFact[] } | Extract<ReceiptCheck, { ok: false }> {
    const check = this.checkReceipt(delivery, 'extend');
    if (!check.ok) return check;
    const st = this.state.messages.get(delivery.offset) as Extract<MessageState, { s: 'locked' }>;
    if (nowMs >= st.until) return { ok: false, code: 'RECEIPT_EXPIRED', message: `the lock of record ${delivery.offset} expired ${nowMs - st.until} ms ago; it may be delivered again, so it cannot be extended` };
    return { ok: true, facts: this.apply([{ kind: 'msg', offset: delivery.offset, state: { s: 'locked', d: st.d, until: nowMs + lockMs } }]) };
  }

  /** Sends a delivery straight to the dead-letter topic. */
  reject(delivery: Delivery, nextDeadLetterSeq: () => number): { ok: true; facts: QueueFact[] } | Extract<ReceiptCheck, { ok: false }> {
    const check = this.checkReceipt(delivery, 'reject');
    if (!check.ok) return check;
    return { ok: true, facts: this.apply([this.deadFact(delivery.offset, delivery.deliveries, 'rejected', nextDeadLetterSeq)]) };
  }

  /** Records decided for the dead-letter topic and not yet appended there. */
  pendingDeadLetters(): Array<{ offset: number; state: Extract<MessageState, { s: 'dead' }> }> {
    const out: Array<{ offset: number; state: Extract<MessageState, { s: 'dead' }> }> = [];
    for (const [offset, state] of this.state.messages) if (state.s === 'dead') out.push({ offset, state });
    return out;
  }

  /** The dead letter of `offset` is in the dead-letter topic: the record is done. */
  deadLettered(offset: number): QueueFact[] {
    const st = this.state.messages.get(offset);
    if (st?.s !== 'dead') throw new Error(`record ${offset} is not waiting for the dead-letter topic (state ${st?.s ?? 'none'})`);
    const facts = this.apply([{ kind: 'msg', offset, state: { s: 'done', d: st.d, how: 'dead-lettered' } }]);
    return [...facts, ...this.floorAdvance()];
  }

  /** Counts of the window at `nowMs` (records past the read position are not included). */
  stats(config: QueueConfig, nowMs: number): { available: number; inFlight: number; delayed: number; deadPending: number; oldestUnackedTimestampMs: number } {
    let available = 0;
    let inFlight = 0;
    let delayed = 0;
    let deadPending = 0;
    let oldest = -1;
    for (const meta of this.window) {
      const a = availabilityOf(meta, this.state.messages.get(meta.offset), config, nowMs);
      if (a.kind === 'done') continue;
      if (oldest < 0 || meta.timestampMs < oldest) oldest = meta.timestampMs;
      if (a.kind === 'available' || a.kind === 'expired' || a.kind === 'deadLetterDue') available += 1;
      else if (a.kind === 'locked') inFlight += 1;
      else if (a.kind === 'delayed') delayed += 1;
      else deadPending += 1;
    }
    return { available, inFlight, delayed, deadPending, oldestUnackedTimestampMs: oldest };
  }
}
