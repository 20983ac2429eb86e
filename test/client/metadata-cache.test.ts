import { describe, expect, it } from 'vitest';
import type { ConnectionPool } from '../../client/connection-pool.js';
import { FerryError } from '../../client/errors.js';
import { MetadataCache } from '../../client/metadata-cache.js';
import { okError } from './fakes.js';

/** A pool whose every node answers Metadata with one topic of one partition led by node 1. */
function fakePool(): ConnectionPool {
  const client = {
    Metadata: (_req: unknown, _opts: unknown, cb: (e: null, r: unknown) => void) => cb(null, {
      brokers: [1, 2, 3].map((nodeId) => ({ nodeId, address: `n${nodeId}:1` })),
      topics: [{ name: 't', error: okError, partitions: [{ partition: 0, leaderId: 1, replicas: [1, 2, 3] }] }],
    }),
    getChannel: () => ({ getTarget: () => 'fake' }),
  };
  return { get: () => client } as unknown as ConnectionPool;
}

describe('MetadataCache.learn', () => {
  it('stays with the leader after an answer about the request itself, moves on after one that puts the leader in doubt', async () => {
    const md = new MetadataCache(fakePool(), ['n1:1'], 1_000);
    expect(await md.leaderAddress('t', 0)).toBe('n1:1');
    for (const code of ['OUT_OF_ORDER_SEQUENCE', 'UNKNOWN_PRODUCER_ID', 'PRODUCER_FENCED', 'THROTTLED', 'MESSAGE_TOO_LARGE', 'OFFSET_OUT_OF_RANGE'] as const) {
      md.learn('t', 0, new FerryError(code, code, true));
      expect(await md.leaderAddress('t', 0)).toBe('n1:1');
    }
    md.learn('t', 0, new FerryError('UNAVAILABLE', 'connection refused', true));
    expect(await md.leaderAddress('t', 0)).toBe('n2:1');
    md.learn('t', 0, new FerryError('NOT_LEADER', 'node 3 leads', true, { nodeId: 3, address: 'n3:1' }));
    expect(await md.leaderAddress('t', 0)).toBe('n3:1');
  });
});
