/**
 * A queue group's settings: what its coordinator needs to decide delivery, retries and dead
 * letters. Stored with the group in the group-state log; checked field by field on the way in.
 */
import type { BackoffConfig } from './backoff.js';
import {
  backoffBaseMsDefault, backoffJitterDefault, backoffMaxMsDefault, backoffMsMax, delayMsMax, maxDeliveriesDefault, maxDeliveriesMax,
  maxInFlightPerPartitionDefault, maxInFlightPerPartitionMax,
} from './constants.js';

export interface QueueConfig {
  /** The topic the group consumes. */
  readonly topic: string;
  /** Deliveries after which a message that is still not acked goes to the dead-letter topic. */
  readonly maxDeliveries: number;
  /** Records tracked per partition between the ack floor and the read position. */
  readonly maxInFlightPerPartition: number;
  readonly backoff: BackoffConfig;
  /** One message in flight per message-group key, in offset order (SQS FIFO). */
  readonly fifo: boolean;
  /** Where dead letters go (an ordinary topic, created with one partition when missing). */
  readonly deadLetterTopic: string;
  /** Time to live of every message from its timestamp, in ms; 0 = none (a header may set one). */
  readonly messageTtlMs: number;
  /** Expired messages are dead-lettered (true) or only skipped and counted (false). */
  readonly deadLetterExpired: boolean;
}

export type QueueConfigInput = Partial<Omit<QueueConfig, 'backoff' | 'topic'>> & { readonly topic: string; readonly backoff?: Partial<BackoffConfig> };

export function defaultDeadLetterTopic(group: string, topic: string): string {
  return `${topic}.${group}.dlq`.slice(0, 249);
}

/** The settings with defaults filled in, or the first problem found (naming the field). */
export function resolveQueueConfig(group: string, input: QueueConfigInput): { ok: true; value: QueueConfig } | { ok: false; problem: string } {
  const bad = (problem: string) => ({ ok: false as const, problem });
  const intIn = (name: string, v: number, min: number, max: number): string | undefined =>
    Number.isSafeInteger(v) && v >= min && v <= max ? undefined : `${name} must be an integer ${min}-${max}, got ${v}`;
  const c: QueueConfig = {
    topic: input.topic,
    maxDeliveries: input.maxDeliveries ?? maxDeliveriesDefault,
    maxInFlightPerPartition: input.maxInFlightPerPartition ?? maxInFlightPerPartitionDefault,
    backoff: {
      baseMs: input.backoff?.baseMs ?? backoffBaseMsDefault,
      maxMs: input.backoff?.maxMs ?? backoffMaxMsDefault,
      jitter: input.backoff?.jitter ?? backoffJitterDefault,
    },
    fifo: input.fifo ?? false,
    deadLetterTopic: input.deadLetterTopic || defaultDeadLetterTopic(group, input.topic),
    messageTtlMs: input.messageTtlMs ?? 0,
    deadLetterExpired: input.deadLetterExpired ?? false,
  };
  const problem = intIn('max_deliveries', c.maxDeliveries, 1, maxDeliveriesMax)
    ?? intIn('max_in_flight_per_partition', c.maxInFlightPerPartition, 1, maxInFlightPerPartitionMax)
    ?? intIn('backoff_base_ms', c.backoff.baseMs, 0, backoffMsMax)
    ?? intIn('backoff_max_ms', c.backoff.maxMs, c.backoff.baseMs, backoffMsMax)
    ?? intIn('message_ttl_ms', c.messageTtlMs, 0, 366 * 24 * 3_600_000)
    ?? (c.backoff.jitter >= 0 && c.backoff.jitter <= 1 ? undefined : `backoff_jitter must be in [0, 1], got ${c.backoff.jitter}`)
    ?? (c.deadLetterTopic === c.topic ? `dead_letter_topic must differ from the consumed topic "${c.topic}"` : undefined);
  if (problem) return bad(problem);
  return { ok: true, value: c };
}

/** A nack's delay: 0 up to delayMsMax. */
export function checkDelayMs(delayMs: number): string | undefined {
  return Number.isSafeInteger(delayMs) && delayMs >= 0 && delayMs <= delayMsMax ? undefined : `delay_ms must be an integer 0-${delayMsMax}, got ${delayMs}`;
}
