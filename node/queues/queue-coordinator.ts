/**
 * The queue groups of one group-state partition, on that partition's leader. It shares the group
 * coordinator's load, writes and checkpoints (one writer per partition): the group coordinator
 * loads the image (queue records included) and hands its queue part here, and every queue
 * decision is written with the group coordinator's write(), applied eagerly (a failed write
 * reloads everything from the log) and answered only once it committed.
 *
 * Around the pure QueueGroup it does the I/O: reading source partitions into the windows, reading
 * the records it hands out, appending dead letters, and housekeeping (due dead letters, expiries
 * and floor moves of groups nobody is receiving from).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { CoordinatorErrorCode, Outcome } from '../consumer-groups/coordinator.js';
import type { GroupStateRecord } from '../consumer-groups/group-records.js';
import { ReplicaError } from '../replica-error.js';
import { queueGroupsPerCoordinatorMax, queuePartitionsMax, receiveBytesMax, windowReadBytes, deadLettersPerPassMax } from './constants.js';
import { deadLetterBatch } from './dead-letters.js';
import { DeliveryRates } from './delivery-rates.js';
import { resolveQueueConfig, type QueueConfig, type QueueConfigInput } from './queue-config.js';
import { QueueGroup, type QueueReceipt, type ReceiptOperation, type ReceiptOutcome } from './queue-group.js';
import type { QueueStateRecord } from './queue-records.js';
import type { QueueStateImage } from './queue-state-image.js';
import { readDelivered, readOne, type ReceivedRecord } from './delivered-records.js';
import { deadLetterDepth } from './queue-stats.js';
import { SingleFlight } from './single-flight.js';
import { recordMetaOf, recordsOfBatches } from './source-records.js';

export type { ReceivedRecord };
import type { TopicAccess } from './topic-access.js';

function failure<T>(code: CoordinatorErrorCode, message: string): Outcome<T> {
  return { ok: false, error: { code, message } };
}

/** What the group coordinator lends: its state, its epoch and its writes. */
export interface QueueHost {
  /** Why nothing can be served now (loading, not leader), or undefined while active. */
  unavailable(): Outcome<never> | undefined;
  /** Bumped by every load and unload: work begun under an older one is void. */
  readonly epoch: number;
  /** Writes records through Raft; `preApplied`: the image already holds them. */
  write(records: readonly GroupStateRecord[], epoch: number, preApplied: boolean): Promise<Outcome<void>>;
}

export interface QueueEnv {
  readonly log: Logger;
  readonly nowMs: () => number;
  readonly topics: TopicAccess;
}

export interface PartitionStats {
  readonly partition: number;
  readonly available: number;
  readonly inFlight: number;
  readonly delayed: number;
  readonly oldestUnackedAgeMs: number;
  readonly ackFloor: number;
  readonly readPosition: number;
  readonly highWatermark: number;
}

export interface QueueStats {
  readonly config: QueueConfig;
  readonly partitions: PartitionStats[];
  readonly deliveriesPerSec: number;
  readonly redeliveriesPerSec: number;
  readonly expired: number;
  readonly deadLetterDepth: number;
  readonly deadLettersPending: number;
}

/** A receive with nothing available looks again this often until its wait is over. */
const receivePollMs = 50;
/** Groups nobody receives from still get their dead letters, expiries and floors this often. */
const housekeepingIntervalMs = 1_000;

export class QueueCoordinator {
  private image: QueueStateImage | undefined;
  private loadedEpoch = -1;
  private readonly groups = new Map<string, QueueGroup>();
  private readonly fills = new Map<string, Promise<void>>();
  private readonly rates = new Map<string, DeliveryRates>();
  private readonly expiredCounts = new Map<string, number>();
  private readonly deadLetterPass: SingleFlight;
  private readonly housekeeping: SingleFlight;
  private lastHousekeepingMs = 0;

  constructor(private readonly host: QueueHost, private readonly env: QueueEnv) {
    this.deadLetterPass = new SingleFlight(env.log, 'dead-letter pass');
    this.housekeeping = new SingleFlight(env.log, 'queue housekeeping');
  }

  /** The group coordinator loaded its image (under `epoch`). */
  load(image: QueueStateImage, epoch: number): void {
    this.image = image;
    this.loadedEpoch = epoch;
    this.groups.clear();
    this.fills.clear();
    image.dropOrphans();
    for (const id of image.groupIds()) this.groups.set(id, new QueueGroup(id, image));
    this.kickDeadLetters();
  }

  unload(): void {
    this.image = undefined;
    this.loadedEpoch = -1;
    this.groups.clear();
    this.fills.clear();
  }

  private ready<T>(): Outcome<T> | undefined {
    const down = this.host.unavailable();
    if (down) return down;
    if (!this.image || this.loadedEpoch !== this.host.epoch) return failure('COORDINATOR_NOT_AVAILABLE', 'the queue state is loading; retry shortly');
    return undefined;
  }

  /** Writes already-applied queue records; a failure has made the host reload. */
  private write(records: readonly QueueStateRecord[], epoch: number): Promise<Outcome<void>> {
    if (records.length === 0) return Promise.resolve({ ok: true, value: undefined });
    return this.host.write(records, epoch, true);
  }

  groupIds(): Array<{ groupId: string; topic: string }> {
    return [...this.groups.values()].map((g) => ({ groupId: g.id, topic: g.config.topic })).sort((a, b) => (a.groupId < b.groupId ? -1 : 1));
  }

  // ---- configuration -------------------------------------------------------------------------

  async configure(groupId: string, input: QueueConfigInput): Promise<Outcome<QueueConfig>> {
    const down = this.ready<QueueConfig>();
    if (down) return down;
    const resolved = resolveQueueConfig(groupId, input);
    if (!resolved.ok) return failure('INVALID_REQUEST', resolved.problem);
    const config = resolved.value;
    if (this.env.topics.partitionCount(config.topic) === undefined) return failure('UNKNOWN_TOPIC_OR_PARTITION', `topic "${config.topic}" does not exist`);
    const existing = this.groups.get(groupId);
    if (existing && existing.config.topic !== config.topic) {
      return failure('INVALID_REQUEST', `queue group ${groupId} consumes topic "${existing.config.topic}"; a queue group consumes one topic (use another group id for "${config.topic}")`);
    }
    if (!existing && this.groups.size >= queueGroupsPerCoordinatorMax) {
      return failure('INVALID_REQUEST', `this coordinator holds ${this.groups.size} queue groups (the limit)`);
    }
    const epoch = this.host.epoch;
    const record: QueueStateRecord = {
      key: { type: 'queue', group: groupId },
      value: {
        incarnation: existing?.value.incarnation ?? randomUUID(), config,
        deadLetters: existing?.value.deadLetters ?? { producerId: -1, producerEpoch: 0, nextSeq: 0 },
      },
    };
    this.image!.apply(record);
    if (!existing) this.groups.set(groupId, new QueueGroup(groupId, this.image!));
    const w = await this.write([record], epoch);
    return w.ok ? { ok: true, value: config } : w;
  }

  /** Deletes a group's settings and state (a tombstone); returns the dead letters abandoned. */
  async deleteGroup(groupId: string): Promise<Outcome<number>> {
    const down = this.ready<number>();
    if (down) return down;
    const found = this.group(groupId);
    if (!found.ok) return found;
    const abandoned = found.value.pendingDeadLetters().length;
    const record: QueueStateRecord = { key: { type: 'queue', group: groupId }, value: null };
    this.image!.apply(record);
    this.groups.delete(groupId);
    this.rates.delete(groupId);
    this.expiredCounts.delete(groupId);
    const w = await this.write([record], this.host.epoch);
    if (!w.ok) return w;
    this.env.log.info({ group: groupId, abandoned }, 'queue group deleted');
    return { ok: true, value: abandoned };
  }

  private group(groupId: string): Outcome<QueueGroup> {
    const g = this.groups.get(groupId);
    return g ? { ok: true, value: g } : failure('QUEUE_GROUP_NOT_FOUND', `queue group ${groupId} does not exist on its coordinator; receive from it (or configure it) first`);
  }

  // ---- windows -------------------------------------------------------------------------------

  /** Reads source records into every window with room (one read per partition at a time). */
  private async fillAll(g: QueueGroup, partitionCount: number, epoch: number): Promise<void> {
    await Promise.all(Array.from({ length: partitionCount }, (_, p) => {
      const key = `${g.id}/${p}`;
      const running = this.fills.get(key);
      if (running) return running;
      const f = this.fill(g, p, epoch).catch((err: unknown) => {
        this.env.log.debug({ err, group: g.id, partition: p }, 'queue window not filled (will retry)');
      }).finally(() => {
        if (this.fills.get(key) === f) this.fills.delete(key);
      });
      this.fills.set(key, f);
      return f;
    }));
  }

  private async fill(g: QueueGroup, p: number, epoch: number): Promise<void> {
    const qp = g.partition(p);
    const config = g.config;
    if (qp.room(config) === 0) return;
    const from = qp.readPosition;
    const read = await this.env.topics.read(config.topic, p, from, windowReadBytes);
    if (epoch !== this.host.epoch || this.groups.get(g.id) !== g || qp.readPosition !== from) return;
    if (read.outOfRange || read.logStartOffset > qp.state.floor) {
      // Retention removed records this group never finished: they cannot be delivered any more.
      this.env.log.warn({ group: g.id, topic: config.topic, partition: p, floor: qp.state.floor, logStart: read.logStartOffset }, 'queue records removed by retention before they were finished; skipping them');
      await this.write(g.skipTo(p, read.logStartOffset), epoch);
      return;
    }
    const { records, nextOffset } = recordsOfBatches(read.records);
    if (nextOffset === undefined) return;
    const room = qp.room(config);
    const metas = records.filter((r) => r.offset >= from).slice(0, room).map((r) => recordMetaOf(r, config));
    const cut = metas.length === room && records.some((r) => r.offset > metas[metas.length - 1]!.offset);
    qp.addRecords(metas, cut ? metas[metas.length - 1]!.offset + 1 : nextOffset);
  }

  // ---- receive and settle --------------------------------------------------------------------

  async receive(groupId: string, topic: string, max: number, lockMs: number, waitMs: number): Promise<Outcome<ReceivedRecord[]>> {
    const down = this.ready<ReceivedRecord[]>();
    if (down) return down;
    if (!this.groups.has(groupId)) {
      const created = await this.configure(groupId, { topic });
      if (!created.ok) return created;
    }
    const deadline = this.env.nowMs() + waitMs;
    const epoch = this.host.epoch;
    for (;;) {
      if (epoch !== this.host.epoch) return failure('NOT_COORDINATOR', 'the queue coordinator moved or reloaded during the receive; find it again and retry');
      const found = this.group(groupId);
      if (!found.ok) return found;
      const g = found.value;
      if (g.config.topic !== topic) return failure('INVALID_REQUEST', `queue group ${groupId} consumes topic "${g.config.topic}", not "${topic}"`);
      const count = this.env.topics.partitionCount(topic);
      if (count === undefined) return failure('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" does not exist`);
      if (count > queuePartitionsMax) return failure('INVALID_REQUEST', `topic "${topic}" has ${count} partitions; a queue group tracks at most ${queuePartitionsMax}`);
      await this.fillAll(g, count, epoch);
      if (epoch !== this.host.epoch || this.groups.get(groupId) !== g) continue;
      const now = this.env.nowMs();
      const r = g.receive(now, count, { max, maxBytes: receiveBytesMax, lockMs });
      this.noteExpired(groupId, r.expired);
      const w = await this.write(r.records, epoch);
      if (!w.ok) return w;
      if (g.pendingDeadLetters().length > 0) this.kickDeadLetters();
      if (r.delivered.length > 0) {
        this.ratesOf(groupId).record(now, r.delivered.length, r.delivered.filter((d) => d.deliveries > 1).length);
        const records = await readDelivered(this.env.topics, topic, r.delivered, now + lockMs, (partition, err) => {
          this.env.log.warn({ err, group: groupId, topic, partition }, 'locked records could not be read back; they are delivered again after their lock');
        });
        return { ok: true, value: records };
      }
      const left = deadline - this.env.nowMs();
      if (left <= 0) return { ok: true, value: [] };
      await new Promise((resolve) => setTimeout(resolve, Math.min(receivePollMs, left)));
    }
  }

  async settle(groupId: string, op: ReceiptOperation, receipts: readonly QueueReceipt[]): Promise<Outcome<ReceiptOutcome[]>> {
    const down = this.ready<ReceiptOutcome[]>();
    if (down) return down;
    const found = this.group(groupId);
    if (!found.ok) return found;
    const g = found.value;
    const count = this.env.topics.partitionCount(g.config.topic) ?? 0;
    const valid = receipts.filter((r) => r.partition < count);
    const r = g.settle(op, valid, this.env.nowMs());
    const w = await this.write(r.records, this.host.epoch);
    if (!w.ok) return w;
    if (op.op === 'reject') this.kickDeadLetters();
    let i = 0;
    return {
      ok: true,
      value: receipts.map((x): ReceiptOutcome => (x.partition < count ? r.outcomes[i++]!
        : { ok: false, code: 'INVALID_REQUEST', message: `topic "${g.config.topic}" has ${count} partitions; no partition ${x.partition}` })),
    };
  }

  private ratesOf(groupId: string): DeliveryRates {
    let r = this.rates.get(groupId);
    if (!r) this.rates.set(groupId, (r = new DeliveryRates()));
    return r;
  }

  private noteExpired(groupId: string, n: number): void {
    if (n > 0) this.expiredCounts.set(groupId, (this.expiredCounts.get(groupId) ?? 0) + n);
  }

  // ---- dead letters --------------------------------------------------------------------------

  private kickDeadLetters(): void {
    this.deadLetterPass.run(() => this.appendDeadLetters());
  }

  /**
   * Appends pending dead letters, one at a time in sequence order per group, each recorded done
   * before the next is sent: so at most the first pending one can already be in the dead-letter
   * topic (sent by a predecessor that failed before recording it), and its retry, being the
   * producer's latest batch, is recognised as a duplicate.
   */
  private async appendDeadLetters(): Promise<void> {
    const epoch = this.host.epoch;
    for (const g of [...this.groups.values()]) {
      let pending = g.pendingDeadLetters();
      if (pending.length === 0) continue;
      if (g.value.deadLetters.producerId < 0) {
        const id = await this.env.topics.initProducerId();
        if (epoch !== this.host.epoch) return;
        const w = await this.write(g.renumberDeadLetters(id.producerId, id.producerEpoch), epoch);
        if (!w.ok) return;
        pending = g.pendingDeadLetters();
      }
      const config = g.config;
      await this.env.topics.ensureTopic(config.deadLetterTopic, 1);
      for (const d of pending.slice(0, deadLettersPerPassMax)) {
        const source = await readOne(this.env.topics, config.topic, d.partition, d.offset);
        const producer = g.value.deadLetters;
        const batch = deadLetterBatch({ group: g.id, topic: config.topic, ...d }, source, producer, this.env.nowMs());
        try {
          await this.env.topics.produce(config.deadLetterTopic, 0, batch);
        } catch (err) {
          if (err instanceof ReplicaError && (err.code === 'UNKNOWN_PRODUCER_ID' || err.code === 'PRODUCER_FENCED' || err.code === 'OUT_OF_ORDER_SEQUENCE') && epoch === this.host.epoch) {
            // The topic lost this producer's state (expiry, a recreated topic): start a new one.
            this.env.log.warn({ group: g.id, err: err.message }, 'dead-letter producer state lost; continuing with a new producer id');
            const id = await this.env.topics.initProducerId();
            if (epoch === this.host.epoch) await this.write(g.renumberDeadLetters(id.producerId, id.producerEpoch), epoch);
          }
          throw err;
        }
        if (epoch !== this.host.epoch || this.groups.get(g.id) !== g) return;
        const w = await this.write(g.deadLettered(d.partition, d.offset), epoch);
        if (!w.ok) return;
        this.env.log.info({ group: g.id, topic: config.topic, partition: d.partition, offset: d.offset, deliveries: d.deliveries, reason: d.reason, dlq: config.deadLetterTopic }, 'record dead-lettered');
      }
    }
  }

  // ---- housekeeping and stats ----------------------------------------------------------------

  /** Called every coordinator tick: settles due dead letters, expiries and floors once a second. */
  tick(): void {
    const now = this.env.nowMs();
    if (this.ready() || this.housekeeping.busy || now - this.lastHousekeepingMs < housekeepingIntervalMs) return;
    this.lastHousekeepingMs = now;
    this.housekeeping.run(() => this.housekeep());
  }

  private async housekeep(): Promise<void> {
    const epoch = this.host.epoch;
    for (const g of [...this.groups.values()]) {
      const count = this.env.topics.partitionCount(g.config.topic);
      if (count === undefined || count > queuePartitionsMax) continue;
      await this.fillAll(g, count, epoch);
      if (epoch !== this.host.epoch || this.groups.get(g.id) !== g) return;
      const r = g.receive(this.env.nowMs(), count, { max: 0, maxBytes: 0, lockMs: 1 });
      this.noteExpired(g.id, r.expired);
      const w = await this.write(r.records, epoch);
      if (!w.ok) return;
    }
    this.kickDeadLetters();
  }

  async stats(groupId: string): Promise<Outcome<QueueStats>> {
    const down = this.ready<QueueStats>();
    if (down) return down;
    const found = this.group(groupId);
    if (!found.ok) return found;
    const g = found.value;
    const config = g.config;
    const now = this.env.nowMs();
    const count = this.env.topics.partitionCount(config.topic) ?? 0;
    const partitions: PartitionStats[] = [];
    for (let p = 0; p < Math.min(count, queuePartitionsMax); p += 1) {
      const qp = g.partition(p);
      const s = qp.stats(config, now);
      const hw = await this.env.topics.read(config.topic, p, qp.readPosition, 1).then((r) => r.highWatermark, () => -1);
      partitions.push({
        partition: p, available: s.available + Math.max(0, hw - qp.readPosition), inFlight: s.inFlight, delayed: s.delayed,
        oldestUnackedAgeMs: s.oldestUnackedTimestampMs < 0 ? -1 : Math.max(0, now - s.oldestUnackedTimestampMs),
        ackFloor: qp.state.floor, readPosition: qp.readPosition, highWatermark: hw,
      });
    }
    const dlqDepth = await deadLetterDepth(this.env.topics, config.deadLetterTopic);
    const rates = this.ratesOf(groupId).perSecond(now);
    return {
      ok: true,
      value: {
        config, partitions, deliveriesPerSec: rates.deliveries, redeliveriesPerSec: rates.redeliveries,
        expired: this.expiredCounts.get(groupId) ?? 0, deadLetterDepth: dlqDepth, deadLettersPending: g.pendingDeadLetters().length,
      },
    };
  }
}
