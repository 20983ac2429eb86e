/**
 * ferry.v1.QueueService: checks every request's fields (a bad one gets INVALID_REQUEST naming the
 * field, and changes nothing), finds the queue group's coordinator on this node (the same
 * placement as consumer groups: GroupService.FindCoordinator), and shapes answers.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { validateTopicName } from '../../controller/topic-config.js';
import { ferryGrpc } from '../../proto/load.js';
import type { Error as WireError } from '../../proto/gen/ferry/v1/Error.js';
import type { QueueReceipt as WireReceipt } from '../../proto/gen/ferry/v1/QueueReceipt.js';
import type { QueueServiceHandlers } from '../../proto/gen/ferry/v1/QueueService.js';
import type { QueueSettings, QueueSettings__Output } from '../../proto/gen/ferry/v1/QueueSettings.js';
import type { Outcome } from '../consumer-groups/coordinator.js';
import type { GroupCoordinators } from '../consumer-groups/coordinators.js';
import { groupWireError, validateGroupId } from '../consumer-groups/group-service.js';
import { noError } from '../proto-errors.js';
import { receiptsPerRequestMax, receiveRecordsMax, receiveWaitMsMax, visibilityTimeoutMsDefault, visibilityTimeoutMsMax, visibilityTimeoutMsMin } from './constants.js';
import { checkDelayMs, type QueueConfig, type QueueConfigInput } from './queue-config.js';
import type { QueueCoordinator, QueueStats, ReceivedRecord } from './queue-coordinator.js';
import type { QueueReceipt, ReceiptOperation, ReceiptOutcome } from './queue-group.js';

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

export function parseSettings(s: QueueSettings__Output | null): Parsed<QueueConfigInput> {
  if (!s) return { ok: false, problem: 'settings are required (at least the topic)' };
  const topicProblem = validateTopicName(s.topic);
  if (topicProblem) return { ok: false, problem: `settings.topic: ${topicProblem}` };
  if (s.deadLetterTopic) {
    const p = validateTopicName(s.deadLetterTopic);
    if (p) return { ok: false, problem: `settings.dead_letter_topic: ${p}` };
  }
  return {
    ok: true,
    value: {
      topic: s.topic,
      maxDeliveries: s.maxDeliveries || undefined,
      maxInFlightPerPartition: s.maxInFlightPerPartition || undefined,
      backoff: {
        baseMs: s._backoffBaseMs ? s.backoffBaseMs : undefined,
        maxMs: s._backoffMaxMs ? s.backoffMaxMs : undefined,
        jitter: s._backoffJitter ? s.backoffJitter : undefined,
      },
      fifo: s.fifo,
      deadLetterTopic: s.deadLetterTopic || undefined,
      messageTtlMs: s.messageTtlMs || undefined,
      deadLetterExpired: s.deadLetterExpired,
    },
  };
}

export function wireSettings(c: QueueConfig): QueueSettings {
  return {
    topic: c.topic, maxDeliveries: c.maxDeliveries, maxInFlightPerPartition: c.maxInFlightPerPartition, backoffBaseMs: c.backoff.baseMs,
    backoffMaxMs: c.backoff.maxMs, backoffJitter: c.backoff.jitter, fifo: c.fifo, deadLetterTopic: c.deadLetterTopic,
    messageTtlMs: c.messageTtlMs, deadLetterExpired: c.deadLetterExpired,
  };
}

export function parseReceipts(receipts: readonly WireReceipt[] | undefined): Parsed<QueueReceipt[]> {
  const list = receipts ?? [];
  if (list.length === 0 || list.length > receiptsPerRequestMax) return { ok: false, problem: `receipts must name 1-${receiptsPerRequestMax} deliveries, got ${list.length}` };
  const seen = new Set<string>();
  const out: QueueReceipt[] = [];
  for (const r of list) {
    const partition = Number(r.partition ?? 0);
    const offset = Number(r.offset ?? -1);
    const deliveries = Number(r.deliveryCount ?? 0);
    const name = `${partition}/${offset}@${deliveries}`;
    if (!Number.isSafeInteger(offset) || offset < 0) return { ok: false, problem: `receipt ${name}: offset must be >= 0` };
    if (deliveries < 1) return { ok: false, problem: `receipt ${name}: delivery_count must be >= 1` };
    const key = `${partition}/${offset}`;
    if (seen.has(key)) return { ok: false, problem: `receipt ${name}: record ${key} appears twice` };
    seen.add(key);
    out.push({ partition, offset, deliveries });
  }
  return { ok: true, value: out };
}

function checkVisibility(ms: number, field: string): string | undefined {
  return ms >= visibilityTimeoutMsMin && ms <= visibilityTimeoutMsMax ? undefined : `${field} must be ${visibilityTimeoutMsMin}-${visibilityTimeoutMsMax} ms, got ${ms}`;
}

function wireRecord(r: ReceivedRecord) {
  return {
    receipt: { partition: r.partition, offset: r.offset, deliveryCount: r.deliveries },
    key: r.record.key ?? undefined, value: r.record.value ?? undefined,
    headers: r.record.headers.map((h) => ({ key: h.key, value: h.value ?? Buffer.alloc(0) })),
    timestampMs: r.record.timestamp, lockedUntilMs: r.lockedUntilMs,
  };
}

function wireStats(s: QueueStats) {
  return {
    settings: wireSettings(s.config), partitions: s.partitions, redeliveriesPerSec: s.redeliveriesPerSec, deliveriesPerSec: s.deliveriesPerSec,
    expired: s.expired, deadLetterDepth: s.deadLetterDepth, deadLettersPending: s.deadLettersPending,
  };
}

export class QueueService {
  constructor(private readonly coordinators: GroupCoordinators, private readonly log: Logger) {}

  /** Runs `fn` on the group's queue coordinator here, or answers why it cannot. */
  private on<T>(groupId: string, fn: (q: QueueCoordinator) => Promise<T>, fail: (e: WireError) => T): Promise<T> {
    const problem = validateGroupId(groupId);
    if (problem) return Promise.resolve(fail(groupWireError('INVALID_REQUEST', problem)));
    const c = this.coordinators.coordinatorOf(groupId);
    if (!c.ok) return Promise.resolve(fail(groupWireError(c.error.code, c.error.message)));
    return fn(c.value.queues);
  }

  private settle(groupId: string, op: ReceiptOperation, receipts: readonly WireReceipt[]): Promise<{ error: WireError; results: WireError[] }> {
    const fail = (error: WireError) => ({ error, results: [] });
    const parsed = parseReceipts(receipts);
    if (!parsed.ok) return Promise.resolve(fail(groupWireError('INVALID_REQUEST', parsed.problem)));
    const result = (o: ReceiptOutcome): WireError => (o.ok ? noError : groupWireError(o.code, o.message));
    return this.on(groupId, (q) => q.settle(groupId, op, parsed.value).then((o: Outcome<ReceiptOutcome[]>) =>
      (o.ok ? { error: noError, results: o.value.map(result) } : fail(groupWireError(o.error.code, o.error.message)))), fail);
  }

  handlers(): QueueServiceHandlers {
    const errOf = <T>(o: Outcome<T>): WireError => (o.ok ? noError : groupWireError(o.error.code, o.error.message));
    // A call that throws (a bug, or an I/O failure not turned into an Outcome) is answered INTERNAL
    // and logged; it must never become an unhandled rejection that stops the node.
    const answer = <T extends { error?: WireError | null }>(p: Promise<T>, done: (e: null, r: T) => void): void => void p.then(
      (r) => done(null, r),
      (err: unknown) => {
        this.log.error({ err }, 'queue call failed unexpectedly');
        done(null, { error: groupWireError('INTERNAL', `internal error: ${err instanceof Error ? err.message : String(err)}`) } as T);
      });
    return {
      ConfigureQueueGroup: (call, done) => {
        const { groupId } = call.request;
        const fail = (error: WireError) => ({ error });
        const parsed = parseSettings(call.request.settings);
        if (!parsed.ok) return done(null, fail(groupWireError('INVALID_REQUEST', parsed.problem)));
        answer(this.on(groupId, (q) => q.configure(groupId, parsed.value).then((o) => (o.ok ? { error: noError, settings: wireSettings(o.value) } : fail(errOf(o)))), fail), done);
      },
      Receive: (call, done) => {
        const { groupId, topic, maxRecords, maxWaitMs } = call.request;
        const lockMs = call.request.visibilityTimeoutMs || visibilityTimeoutMsDefault;
        const fail = (error: WireError) => ({ error, records: [] });
        const problem = validateTopicName(topic) ?? (maxRecords < 1 || maxRecords > receiveRecordsMax ? `max_records must be 1-${receiveRecordsMax}, got ${maxRecords}` : undefined)
          ?? checkVisibility(lockMs, 'visibility_timeout_ms') ?? (maxWaitMs > receiveWaitMsMax ? `max_wait_ms must be 0-${receiveWaitMsMax}, got ${maxWaitMs}` : undefined);
        if (problem) return done(null, fail(groupWireError('INVALID_REQUEST', problem)));
        answer(this.on(groupId, (q) => q.receive(groupId, topic, maxRecords, lockMs, maxWaitMs).then((o) => (o.ok ? { error: noError, records: o.value.map(wireRecord) } : fail(errOf(o)))), fail), done);
      },
      Ack: (call, done) => answer(this.settle(call.request.groupId, { op: 'ack' }, call.request.receipts), done),
      Reject: (call, done) => answer(this.settle(call.request.groupId, { op: 'reject' }, call.request.receipts), done),
      Nack: (call, done) => {
        const delayMs = call.request._delayMs ? call.request.delayMs : undefined;
        const problem = delayMs === undefined ? undefined : checkDelayMs(delayMs);
        if (problem) return done(null, { error: groupWireError('INVALID_REQUEST', problem), results: [] });
        answer(this.settle(call.request.groupId, { op: 'nack', delayMs }, call.request.receipts), done);
      },
      ExtendVisibility: (call, done) => {
        const lockMs = call.request.visibilityTimeoutMs;
        const problem = checkVisibility(lockMs, 'visibility_timeout_ms');
        if (problem) return done(null, { error: groupWireError('INVALID_REQUEST', problem), results: [] });
        answer(this.settle(call.request.groupId, { op: 'extend', lockMs }, call.request.receipts), done);
      },
      QueueStats: (call, done) => {
        const { groupId } = call.request;
        const fail = (error: WireError) => ({ error, partitions: [] });
        answer(this.on(groupId, (q) => q.stats(groupId).then((o) => (o.ok ? { error: noError, ...wireStats(o.value) } : fail(errOf(o)))), fail), done);
      },
      DeleteQueueGroup: (call, done) => {
        const { groupId } = call.request;
        const fail = (error: WireError) => ({ error, deadLettersAbandoned: 0 });
        answer(this.on(groupId, (q) => q.deleteGroup(groupId).then((o) => (o.ok ? { error: noError, deadLettersAbandoned: o.value } : fail(errOf(o)))), fail), done);
      },
      ListQueueGroups: (_call, done) => {
        const groups = this.coordinators.active().flatMap((c) => c.queues.groupIds());
        done(null, { error: noError, groups });
      },
    };
  }

  register(server: grpc.Server): void {
    server.addService(ferryGrpc().ferry.v1.QueueService.service, this.handlers());
  }
}
