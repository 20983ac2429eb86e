/**
 * Server-side encoding of FetchResponse and FetchStreamResponse that copies each partition's record
 * bytes once, into a scratch buffer reused from one response to the next, instead of into a fresh
 * buffer per response.
 *
 * Why: a fetch moves megabytes of records, and every fresh Buffer of that size counts as V8
 * "external memory"; past ~64 MiB of it since the last collection V8 runs a full mark-compact.
 * Measured on the consume path (`--trace-gc`): a Mark-Compact every 50-100 ms, "external memory
 * pressure", 10-45 ms each, the largest single cost of a node serving fetches.
 *
 * Safe because grpc-js (server-interceptors.js serializeMessage, 1.14) copies what `serialize`
 * returns into its own framed buffer before it returns, so the scratch is free again when the
 * next response is encoded. The small fields go through the loaded protobuf serializer; only the
 * `records` field (FetchPartitionResult field 6, bytes) is written here. Protobuf parsers accept
 * fields in any order, so appending it to each result's encoding is a valid message.
 */
import type * as grpc from '@grpc/grpc-js';
import { readUnsignedVarint, sizeOfUnsignedVarint, writeUnsignedVarint } from '../log/index.js';
import type { FetchPartitionResult } from '../proto/gen/ferry/v1/FetchPartitionResult.js';
import type { FetchResponse } from '../proto/gen/ferry/v1/FetchResponse.js';
import type { FetchStreamResponse } from '../proto/gen/ferry/v1/FetchStreamResponse.js';
import type { FetchBufferPool } from './fetch-buffer-pool.js';

/** Responses above this are encoded into a buffer of their own (the scratch never grows past it). */
export const fetchScratchBytesMax = 64 * 1024 * 1024;

/** Tag of a length-delimited field: (number << 3) | 2. */
const resultsTag = (1 << 3) | 2; // FetchResponse.results = 1, FetchStreamResponse.result = 1
const recordsTag = (6 << 3) | 2; // FetchPartitionResult.records = 6

/** Encodes the field-1 list of a response with its records left out (the loaded serializer). */
export type FieldsEncoder = (results: FetchPartitionResult[]) => Buffer;

function recordsOf(r: FetchPartitionResult): Buffer {
  const x = r.records;
  if (x === undefined || x === null || typeof x === 'string') return Buffer.alloc(0);
  return Buffer.isBuffer(x) ? x : Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

export class FetchResponseEncoder {
  private scratch = Buffer.alloc(0);

  /** `pool` gets back each result's records once they are copied (see fetch-buffer-pool.ts). */
  constructor(private readonly pool?: FetchBufferPool) {}

  /** The encoding of `results` as field 1 of a message; valid until the next call. */
  encode(results: readonly FetchPartitionResult[], encodeFields: FieldsEncoder): Buffer {
    const records = results.map(recordsOf);
    const small = encodeFields(results.map(({ records: _omit, ...rest }) => rest));
    // Framing of each result in `small`: where its fields start and how long they are.
    const spans: Array<{ start: number; length: number }> = [];
    const at = { pos: 0 };
    while (at.pos < small.length) {
      if (small[at.pos++] !== resultsTag) throw new Error('fetch response encoding: unexpected top-level field');
      const length = readUnsignedVarint(small, at);
      spans.push({ start: at.pos, length });
      at.pos += length;
    }
    if (spans.length !== results.length) throw new Error(`fetch response encoding: ${spans.length} results encoded for ${results.length}`);
    let total = 0;
    const inner = spans.map((s, i) => {
      const n = (records[i] as Buffer).length;
      const size = s.length + (n > 0 ? 1 + sizeOfUnsignedVarint(n) + n : 0);
      total += 1 + sizeOfUnsignedVarint(size) + size;
      return size;
    });
    const out = this.bufferFor(total);
    let pos = 0;
    spans.forEach((s, i) => {
      const rec = records[i] as Buffer;
      out[pos++] = resultsTag;
      pos = writeUnsignedVarint(out, pos, inner[i] as number);
      pos += small.copy(out, pos, s.start, s.start + s.length);
      if (rec.length > 0) {
        out[pos++] = recordsTag;
        pos = writeUnsignedVarint(out, pos, rec.length);
        pos += rec.copy(out, pos);
      }
    });
    if (pos !== total) throw new Error(`fetch response encoding: wrote ${pos} of ${total} bytes`);
    for (const rec of records) this.pool?.give(rec);
    return out.subarray(0, total);
  }

  private bufferFor(bytes: number): Buffer {
    if (bytes > fetchScratchBytesMax) return Buffer.allocUnsafe(bytes);
    if (this.scratch.length < bytes) this.scratch = Buffer.allocUnsafe(Math.min(fetchScratchBytesMax, Math.max(bytes, 2 * this.scratch.length, 64 * 1024)));
    return this.scratch;
  }
}

/**
 * The FerryService definition with Fetch and FetchStream answers encoded by one shared
 * FetchResponseEncoder (one thread, and grpc-js copies each encoding out before the next).
 */
export function withFetchEncoding(service: grpc.ServiceDefinition, pool?: FetchBufferPool): grpc.ServiceDefinition {
  const fetch = service.Fetch as grpc.MethodDefinition<unknown, FetchResponse>;
  const stream = service.FetchStream as grpc.MethodDefinition<unknown, FetchStreamResponse>;
  const encoder = new FetchResponseEncoder(pool);
  const fetchFields: FieldsEncoder = (results) => fetch.responseSerialize({ results });
  const streamFields: FieldsEncoder = (results) => stream.responseSerialize({ result: results[0] as FetchPartitionResult });
  return {
    ...service,
    Fetch: { ...fetch, responseSerialize: (r: FetchResponse) => encoder.encode(r.results ?? [], fetchFields) },
    FetchStream: {
      ...stream,
      responseSerialize: (r: FetchStreamResponse) => encoder.encode(r.result === undefined || r.result === null ? [] : [r.result], streamFields),
    },
  };
}
