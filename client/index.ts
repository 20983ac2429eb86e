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
import { MetadataCache } from './metadata-cache.js';
import { Producer, type ProducerOptions } from './producer.js';

export { FerryError, ferryErrorCodes, type FerryErrorCode } from './errors.js';
export type { ConsumedRecord, ConsumerOptions, StartPosition } from './consumer.js';
export type { ProducerOptions, ProducerRecord, ProducerStats, RecordMetadata } from './producer.js';
export type { CreateTopicOptions } from './admin.js';
export { Consumer, Producer, Admin };

export interface ClientOptions {
  /** Any nodes of the cluster ("host:port"); the rest are discovered. */
  readonly bootstrap: readonly string[];
  /** Deadline of one request (default 30 s). */
  readonly requestTimeoutMs?: number;
}

export interface FerryClient {
  readonly admin: Admin;
  readonly metadata: MetadataCache;
  producer(options?: ProducerOptions): Producer;
  consumer(options: ConsumerOptions): Consumer;
  close(): void;
}

export function createClient(options: ClientOptions): FerryClient {
  const pool = new ConnectionPool();
  const metadata = new MetadataCache(pool, options.bootstrap, options.requestTimeoutMs ?? 30_000);
  const consumers = new Set<Consumer>();
  return {
    admin: new Admin(pool, metadata),
    metadata,
    producer: (o) => new Producer(pool, metadata, o),
    consumer: (o) => {
      const c = new Consumer(pool, metadata, o);
      consumers.add(c);
      return c;
    },
    close: () => {
      for (const c of consumers) c.close();
      pool.close();
    },
  };
}
export { decodeBatch, encodeBatch, offsetAfterBatches, readBatchHeader } from './record-batch.js';
