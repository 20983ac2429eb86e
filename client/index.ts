/**
 * Ferry's TypeScript SDK:
 *   const ferry = createClient({ bootstrap: ['127.0.0.1:9091'] });
 *   await ferry.admin.createTopic('orders', { partitions: 3 });
 *   const { offset } = await ferry.producer().send('orders', { key: 'o-1', value: 'hello' });
 *   for await (const r of ferry.consumer({ topic: 'orders', from: 'earliest' })) { ... }
 *   ferry.close();
 */
import { Admin } from './admin.js';
import { ConnectionPool } from './connection-pool.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import { GroupAdmin } from './group-admin.js';
import { GroupConsumer, type GroupConsumerOptions } from './group-consumer.js';
import { GroupRpc } from './group-rpc.js';
import { MetadataCache } from './metadata-cache.js';
import { Producer, type ProducerOptions } from './producer.js';
import { DeadLetters } from './dead-letters.js';
import { QueueClient } from './queue-client.js';
import { QueueConsumer, type QueueConsumerOptions } from './queue-consumer.js';

export { FerryError, ferryErrorCodes, type FerryErrorCode } from './errors.js';
export type { ConsumedRecord, ConsumerOptions, StartPosition } from './consumer.js';
export type { ProducerOptions, ProducerRecord, ProducerStats, RecordMetadata } from './producer.js';
export type { CreateTopicOptions } from './admin.js';
export type { GroupConsumerOptions, TopicPartitionRef } from './group-consumer.js';
export type { GroupDescription, GroupListing, OffsetResetSpec, PartitionLag } from './group-admin.js';
export type { QueueGroupSettings, QueueGroupStats, QueueMessage, QueueReceipt, ReceiveOptions, ResolvedQueueSettings, SettleResults } from './queue-client.js';
export { deadLetterHeaders, type DeadLetterRecord, type RedriveOptions } from './dead-letters.js';
export type { QueueConsumerCounts, QueueConsumerOptions } from './queue-consumer.js';
export { Consumer, GroupConsumer, GroupAdmin, Producer, Admin, QueueClient, QueueConsumer };

export interface ClientOptions {
  /** Any nodes of the cluster ("host:port"); the rest are discovered. */
  readonly bootstrap: readonly string[];
  /** Deadline of one request (default 30 s). */
  readonly requestTimeoutMs?: number;
}

export interface FerryClient {
  readonly admin: Admin;
  readonly metadata: MetadataCache;
  /** Consumer groups: list, describe with lag, reset offsets, delete. */
  readonly groups: GroupAdmin;
  /** Queue groups: configure, receive, ack / nack / extend / reject, stats. */
  readonly queues: QueueClient;
  /** Dead-letter topics of queue groups: list, redrive. */
  readonly deadLetters: DeadLetters;
  /** A pool of queue workers running `handler` (ack on success, nack on throw, locks extended meanwhile). */
  queueConsumer(options: QueueConsumerOptions): QueueConsumer;
  producer(options?: ProducerOptions): Producer;
  /** A member of a consumer group (offsets committed, partitions assigned by the coordinator). */
  consumer(options: GroupConsumerOptions): GroupConsumer;
  /** A reader of chosen partitions from a chosen position (no group). */
  consumer(options: ConsumerOptions): Consumer;
  close(): void;
}

export function createClient(options: ClientOptions): FerryClient {
  const pool = new ConnectionPool();
  const metadata = new MetadataCache(pool, options.bootstrap, options.requestTimeoutMs ?? 30_000);
  const rpc = new GroupRpc(metadata, options.requestTimeoutMs ?? 30_000);
  const consumers = new Set<Consumer | GroupConsumer>();
  function consumer(o: GroupConsumerOptions): GroupConsumer;
  function consumer(o: ConsumerOptions): Consumer;
  function consumer(o: ConsumerOptions | GroupConsumerOptions): Consumer | GroupConsumer {
    const c = 'group' in o ? new GroupConsumer(pool, metadata, rpc, o) : new Consumer(pool, metadata, o);
    consumers.add(c);
    return c;
  }
  const queues = new QueueClient(rpc, metadata);
  const groups = new GroupAdmin(pool, metadata, rpc);
  return {
    deadLetters: new DeadLetters(pool, metadata, queues, groups),
    admin: new Admin(pool, metadata),
    queues,
    queueConsumer: (o) => new QueueConsumer(queues, o),
    metadata,
    groups,
    producer: (o) => new Producer(pool, metadata, o),
    consumer,
    close: () => {
      // Group members are not told to leave here: close() them first for a clean leave and a
      // final commit; a client closed under them is a member that went away.
      for (const c of consumers) if (c instanceof Consumer) c.close();
      rpc.close();
      pool.close();
    },
  };
}
export { decodeBatch, encodeBatch, offsetAfterBatches, readBatchHeader } from './record-batch.js';
