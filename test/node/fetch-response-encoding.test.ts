// The node's own Fetch / FetchStream answer encoding must decode, with the contract's protobuf
// decoder, to exactly what the generic serializer's output decodes to.
import type * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withFetchEncoding } from '../../node/fetch-response-encoding.js';
import { ferryGrpc } from '../../proto/load.js';
import type { FetchPartitionResult } from '../../proto/gen/ferry/v1/FetchPartitionResult.js';

const service = ferryGrpc().ferry.v1.FerryService.service;
const custom = withFetchEncoding(service);
type Method = grpc.MethodDefinition<unknown, unknown>;
const method = (svc: grpc.ServiceDefinition, name: string): Method => svc[name] as Method;

const result: fc.Arbitrary<FetchPartitionResult> = fc.record({
  topic: fc.string({ maxLength: 20 }),
  partition: fc.nat({ max: 10_000 }),
  error: fc.oneof(
    fc.constant({ code: 'ERROR_CODE_NONE', message: '', retriable: false, leaderHintNodeId: -1, leaderHintAddress: '' }),
    fc.record({ code: fc.constant('NOT_LEADER'), message: fc.string(), retriable: fc.boolean(), leaderHintNodeId: fc.integer({ min: -1, max: 9 }), leaderHintAddress: fc.string() }),
  ),
  highWatermark: fc.integer({ min: -1, max: 2 ** 40 }),
  logStartOffset: fc.integer({ min: -1, max: 2 ** 40 }),
  records: fc.oneof(fc.constant(Buffer.alloc(0)), fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), fc.integer({ min: 128, max: 20_000 }).map((n) => Buffer.alloc(n, 7))),
}) as fc.Arbitrary<FetchPartitionResult>;

describe('Fetch answer encoding (one reused scratch buffer)', () => {
  it('FetchResponse decodes exactly as the generic encoding does', () => {
    fc.assert(
      fc.property(fc.array(result, { maxLength: 5 }), (results) => {
        const ours = Buffer.from(method(custom, 'Fetch').responseSerialize({ results })); // copy: the scratch is reused
        const generic = method(service, 'Fetch').responseSerialize({ results });
        expect(method(service, 'Fetch').responseDeserialize(ours)).toEqual(method(service, 'Fetch').responseDeserialize(generic));
      }),
      { numRuns: 60 },
    );
  });

  it('FetchStreamResponse decodes exactly as the generic encoding does, with or without a result', () => {
    fc.assert(
      fc.property(fc.option(result, { nil: null }), (r) => {
        const msg = { result: r };
        const ours = Buffer.from(method(custom, 'FetchStream').responseSerialize(msg));
        const generic = method(service, 'FetchStream').responseSerialize(msg);
        expect(method(service, 'FetchStream').responseDeserialize(ours)).toEqual(method(service, 'FetchStream').responseDeserialize(generic));
      }),
      { numRuns: 60 },
    );
  });

  it('reuses one buffer from answer to answer (no fresh multi-MiB buffer per fetch)', () => {
    const big = (n: number): FetchPartitionResult => ({ topic: 't', partition: 0, highWatermark: 1, logStartOffset: 0, records: Buffer.alloc(n, 1) });
    const a = method(custom, 'Fetch').responseSerialize({ results: [big(1 << 20)] });
    const b = method(custom, 'Fetch').responseSerialize({ results: [big(1 << 19)] });
    expect(a.buffer).toBe(b.buffer);
  });
});
