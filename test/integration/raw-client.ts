/** Direct gRPC calls to one node, bypassing the SDK's routing and retries (to test a node as is). */
import * as grpc from '@grpc/grpc-js';
import { unary } from '../../client/connection-pool.js';
import { ferryGrpc } from '../../proto/load.js';
import type { FerryServiceClient } from '../../proto/gen/ferry/v1/FerryService.js';

export function rawClient(address: string): FerryServiceClient {
  // A private subchannel with a short back-off: a node restarted by the test is reachable again
  // within a second, not after grpc's default back-off (up to 120 s) from earlier refusals.
  return new (ferryGrpc().ferry.v1.FerryService)(address, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1, 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 500,
  });
}

export function call<Res>(client: FerryServiceClient, method: Parameters<typeof unary>[1], req: object, timeoutMs = 10_000): Promise<Res> {
  return unary<object, Res>(client, method, req, timeoutMs);
}
