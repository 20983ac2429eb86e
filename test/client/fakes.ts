/** A one-node, one-partition fake cluster for SDK unit tests: the methods given, plus plumbing. */
import type { ConnectionPool } from '../../client/connection-pool.js';
import type { MetadataCache } from '../../client/metadata-cache.js';

export const okError = { code: 'ERROR_CODE_NONE', message: '', retriable: false, leaderHintNodeId: -1, leaderHintAddress: '' };

/**
 * A metadata cache's topic lookups: unknown (knownTopic undefined) until the first topic() call,
 * as in the real cache, so a producer's first send takes the slow path and the rest the fast one.
 */
export function topicLearnedOnFirstLookup<T>(view: T): { topic: () => Promise<T>; knownTopic: () => T | undefined } {
  let learned = false;
  return {
    topic: async () => {
      learned = true;
      return view;
    },
    knownTopic: () => (learned ? view : undefined),
  };
}

/** `methods` stand in for the node's gRPC methods (Produce, Fetch, ...), callback style. */
export function fakeNode(methods: Record<string, (req: never, opts: unknown, cb: (e: null, r: unknown) => void) => void>): {
  pool: ConnectionPool;
  metadata: MetadataCache;
} {
  const client = { ...methods, getChannel: () => ({ getTarget: () => 'fake' }) };
  const pool = { get: () => client } as unknown as ConnectionPool;
  const metadata = {
    ...topicLearnedOnFirstLookup({ name: 't', partitions: [{ partition: 0, replicas: [1] }] }),
    leaderAddress: async () => 'fake:1',
    anyAddress: () => 'fake:1',
    learn: () => undefined,
  } as unknown as MetadataCache;
  return { pool, metadata };
}
