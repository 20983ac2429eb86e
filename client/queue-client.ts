/**
 * Queue groups from the SDK (ferry.v1.QueueService): configure, receive, ack / nack / extend /
 * reject, stats and list. Calls go to the group's coordinator (found like a consumer group's);
 * Receive long-polls on the coordinator up to `maxWaitMs`.
 */
import type { AckResponse__Output } from '../proto/gen/ferry/v1/AckResponse.js';
import type { ConfigureQueueGroupResponse__Output } from '../proto/gen/ferry/v1/ConfigureQueueGroupResponse.js';
import type { DeleteQueueGroupResponse__Output } from '../proto/gen/ferry/v1/DeleteQueueGroupResponse.js';
import type { Error__Output as WireError } from '../proto/gen/ferry/v1/Error.js';
import type { ListQueueGroupsResponse__Output } from '../proto/gen/ferry/v1/ListQueueGroupsResponse.js';
import type { QueuePartitionStats__Output } from '../proto/gen/ferry/v1/QueuePartitionStats.js';
import type { QueueSettings, QueueSettings__Output } from '../proto/gen/ferry/v1/QueueSettings.js';
import type { QueueStatsResponse__Output } from '../proto/gen/ferry/v1/QueueStatsResponse.js';
import type { ReceiveResponse__Output } from '../proto/gen/ferry/v1/ReceiveResponse.js';
import { FerryError } from './errors.js';
import type { GroupRpc, QueueMethod } from './group-rpc.js';
import type { MetadataCache } from './metadata-cache.js';

/** One delivery of one record: what ack / nack / extend / reject name. */
export interface QueueReceipt {
  readonly partition: number;
  readonly offset: number;
  /** 1 for the first delivery. */
  readonly deliveryCount: number;
}

export interface QueueMessage extends QueueReceipt {
  readonly topic: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer>>;
  readonly timestamp: number;
  /** The lock lasts until then (ms since the epoch, the coordinator's clock). */
  readonly lockedUntilMs: number;
}

export interface QueueGroupSettings {
  readonly topic: string;
  readonly maxDeliveries?: number;
  readonly maxInFlightPerPartition?: number;
  readonly backoff?: { readonly baseMs?: number; readonly maxMs?: number; readonly jitter?: number };
  readonly fifo?: boolean;
  readonly deadLetterTopic?: string;
  readonly messageTtlMs?: number;
  readonly deadLetterExpired?: boolean;
}

export type ResolvedQueueSettings = QueueSettings__Output;

export interface QueueGroupStats {
  readonly settings: ResolvedQueueSettings;
  readonly partitions: QueuePartitionStats__Output[];
  readonly deliveriesPerSec: number;
  readonly redeliveriesPerSec: number;
  readonly expired: number;
  readonly deadLetterDepth: number;
  readonly deadLettersPending: number;
}

export interface ReceiveOptions {
  /** Most records (1-1,000; default 10). */
  readonly max?: number;
  /** Lock length in ms (default 30 s). */
  readonly visibilityTimeoutMs?: number;
  /** How long to wait for a record, in ms (0-20,000; default 1,000). */
  readonly maxWaitMs?: number;
}

/** Per receipt: undefined when settled, or why not (e.g. RECEIPT_EXPIRED). */
export type SettleResults = Array<FerryError | undefined>;

function wireReceipts(receipts: readonly QueueReceipt[]) {
  return receipts.map((r) => ({ partition: r.partition, offset: r.offset, deliveryCount: r.deliveryCount }));
}

export class QueueClient {
  constructor(private readonly rpc: GroupRpc, private readonly metadata: MetadataCache) {}

  async configure(group: string, settings: QueueGroupSettings): Promise<ResolvedQueueSettings> {
    const wire: QueueSettings = {
      topic: settings.topic, maxDeliveries: settings.maxDeliveries ?? 0, maxInFlightPerPartition: settings.maxInFlightPerPartition ?? 0,
      backoffBaseMs: settings.backoff?.baseMs, backoffMaxMs: settings.backoff?.maxMs, backoffJitter: settings.backoff?.jitter,
      fifo: settings.fifo ?? false, deadLetterTopic: settings.deadLetterTopic ?? '', messageTtlMs: settings.messageTtlMs ?? 0,
      deadLetterExpired: settings.deadLetterExpired ?? false,
    };
    const r = await this.rpc.onCoordinator<ConfigureQueueGroupResponse__Output>(group, 'ConfigureQueueGroup', { groupId: group, settings: wire });
    return r.settings!;
  }

  async receive(group: string, topic: string, o: ReceiveOptions = {}): Promise<QueueMessage[]> {
    const maxWaitMs = o.maxWaitMs ?? 1_000;
    const r = await this.rpc.onCoordinator<ReceiveResponse__Output>(group, 'Receive', {
      groupId: group, topic, maxRecords: o.max ?? 10, visibilityTimeoutMs: o.visibilityTimeoutMs ?? 30_000, maxWaitMs,
    }, this.rpc.requestTimeoutMs + maxWaitMs);
    return r.records.map((x) => ({
      topic, partition: x.receipt!.partition, offset: Number(x.receipt!.offset), deliveryCount: x.receipt!.deliveryCount,
      key: x._key ? x.key ?? null : null, value: x._value ? x.value ?? null : null,
      headers: Object.fromEntries(x.headers.map((h) => [h.key, h.value])), timestamp: Number(x.timestampMs), lockedUntilMs: Number(x.lockedUntilMs),
    }));
  }

  private async settle(group: string, method: QueueMethod, receipts: readonly QueueReceipt[], extra: object = {}): Promise<SettleResults> {
    if (receipts.length === 0) return [];
    const r = await this.rpc.onCoordinator<AckResponse__Output>(group, method, { groupId: group, receipts: wireReceipts(receipts), ...extra });
    return r.results.map((e: WireError, i) => FerryError.fromWire(e, `${method} ${group} ${receipts[i]!.partition}/${receipts[i]!.offset}`));
  }

  /** Finishes deliveries: never delivered to this group again. */
  ack(group: string, receipts: readonly QueueReceipt[]): Promise<SettleResults> {
    return this.settle(group, 'Ack', receipts);
  }

  /** Releases deliveries: visible again after `delayMs`, or after the group's backoff. */
  nack(group: string, receipts: readonly QueueReceipt[], delayMs?: number): Promise<SettleResults> {
    return this.settle(group, 'Nack', receipts, delayMs === undefined ? {} : { delayMs });
  }

  /** Extends locks to `visibilityTimeoutMs` from now. */
  extend(group: string, receipts: readonly QueueReceipt[], visibilityTimeoutMs: number): Promise<SettleResults> {
    return this.settle(group, 'ExtendVisibility', receipts, { visibilityTimeoutMs });
  }

  /** Sends deliveries straight to the dead-letter topic. */
  reject(group: string, receipts: readonly QueueReceipt[]): Promise<SettleResults> {
    return this.settle(group, 'Reject', receipts);
  }

  async stats(group: string): Promise<QueueGroupStats> {
    const r = await this.rpc.onCoordinator<QueueStatsResponse__Output>(group, 'QueueStats', { groupId: group });
    return {
      settings: r.settings!, partitions: r.partitions, deliveriesPerSec: r.deliveriesPerSec, redeliveriesPerSec: r.redeliveriesPerSec,
      expired: Number(r.expired), deadLetterDepth: Number(r.deadLetterDepth), deadLettersPending: Number(r.deadLettersPending),
    };
  }

  /** Deletes a queue group's settings and state (its dead-letter topic stays); returns the dead letters abandoned. */
  async delete(group: string): Promise<number> {
    const r = await this.rpc.onCoordinator<DeleteQueueGroupResponse__Output>(group, 'DeleteQueueGroup', { groupId: group });
    return r.deadLettersAbandoned;
  }

  /** Every queue group of the cluster (each node lists those it coordinates). */
  async list(): Promise<Array<{ group: string; topic: string }>> {
    const md = await this.metadata.refresh();
    const answers = await Promise.all(md.brokers.filter((b) => b.alive).map((b) =>
      this.rpc.ok<ListQueueGroupsResponse__Output>(b.address, 'ListQueueGroups', {}, `list queue groups on ${b.address}`).catch(() => undefined)));
    const all = new Map<string, string>();
    for (const a of answers) for (const g of a?.groups ?? []) all.set(g.groupId, g.topic);
    return [...all].sort().map(([group, topic]) => ({ group, topic }));
  }
}
