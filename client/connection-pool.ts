/** One gRPC client per node address, shared by the producer, consumers and admin of a client. */
import * as grpc from '@grpc/grpc-js';
import { ferryGrpc } from '../proto/load.js';
import type { FerryServiceClient } from '../proto/gen/ferry/v1/FerryService.js';
import { FerryError } from './errors.js';

/** Largest message the SDK sends or accepts: one max-size batch plus framing. */
const grpcMessageBytesMax = 80 * 1024 * 1024;
/**
 * HTTP/2 receive window: Node's default 64 KiB makes a 1 MiB fetch response cross in sixteen
 * window round trips; nodes widen theirs the same way (node/http2-windows.ts).
 */
const flowControlWindowBytes = 16 * 1024 * 1024;

export class ConnectionPool {
  private readonly clients = new Map<string, FerryServiceClient>();
  private closed = false;

  get(address: string): FerryServiceClient {
    if (this.closed) throw new FerryError('CLIENT_CLOSED', 'the client is closed', false);
    let c = this.clients.get(address);
    if (!c) {
      c = new (ferryGrpc().ferry.v1.FerryService)(address, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': grpcMessageBytesMax,
        'grpc.max_send_message_length': grpcMessageBytesMax,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1_000,
        'grpc-node.flow_control_window': flowControlWindowBytes,
      });
      this.clients.set(address, c);
    }
    return c;
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** Calls a unary method with a deadline; transport failures become UNAVAILABLE (retriable). */
export function unary<Req, Res>(
  client: FerryServiceClient,
  method: 'Metadata' | 'CreateTopic' | 'DeleteTopic' | 'DescribeTopic' | 'AlterTopicConfig' | 'Produce' | 'Fetch' | 'ListOffsets' | 'InitProducerId' | 'CreatePartitions' | 'ReassignPartitions',
  request: Req,
  timeoutMs: number,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const fn = client[method] as unknown as (r: Req, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Res) => void) => void;
    fn.call(client, request, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
      if (err || res === undefined) {
        const timedOut = err?.code === grpc.status.DEADLINE_EXCEEDED;
        reject(new FerryError(timedOut ? 'TIMEOUT' : 'UNAVAILABLE', `${method} to ${client.getChannel().getTarget()}: ${err?.details || err?.message || 'no response'}`,
          true, undefined, { cause: err }));
      } else {
        resolve(res);
      }
    });
  });
}
