/** Binds the ferry.v1.FerryService methods to the admin and data services. */
import type * as grpc from '@grpc/grpc-js';
import { status as grpcStatus } from '@grpc/grpc-js';
import { ferryGrpc } from '../proto/load.js';
import type { FerryServiceHandlers } from '../proto/gen/ferry/v1/FerryService.js';
import type { AdminService } from './admin-service.js';
import type { DataService } from './data-service.js';
import { withFetchEncoding } from './fetch-response-encoding.js';
import type { ProducerIdAllocator } from './producer-id-allocator.js';

/**
 * `loseProduceRepliesPercent` is fault injection for tests: that share of produce answers is
 * replaced by a broken call after the append happened, as a lost reply on the network would be.
 */
export function serveClientApi(server: grpc.Server, admin: AdminService, data: DataService, producerIds: ProducerIdAllocator,
  loseProduceRepliesPercent = 0): void {
  const lost = { code: grpcStatus.UNAVAILABLE, details: 'injected fault: the produce answer was dropped after the append' };
  const handlers: FerryServiceHandlers = {
    Metadata: (call, done) => done(null, admin.metadata(call.request)),
    CreateTopic: (call, done) => void admin.createTopic(call.request).then((r) => done(null, r), (e: Error) => done(e)),
    DeleteTopic: (call, done) => void admin.deleteTopic(call.request).then((r) => done(null, r), (e: Error) => done(e)),
    DescribeTopic: (call, done) => done(null, admin.describeTopic(call.request)),
    AlterTopicConfig: (call, done) => void admin.alterTopicConfig(call.request).then((r) => done(null, r), (e: Error) => done(e)),
    CreatePartitions: (call, done) => void admin.createPartitions(call.request).then((r) => done(null, r), (e: Error) => done(e)),
    ReassignPartitions: (call, done) => void admin.reassignPartitions(call.request).then((r) => done(null, r), (e: Error) => done(e)),
    Produce: (call, done) => void data.produce(call.request, call.getPeer()).then(
      (r) => (Math.random() * 100 < loseProduceRepliesPercent ? done(lost) : done(null, r)), (e: Error) => done(e)),
    Fetch: (call, done) => {
      let cancelled = false;
      call.on('cancelled', () => {
        cancelled = true;
      });
      void data.fetch(call.request, () => cancelled).then((r) => done(null, r), (e: Error) => done(e));
    },
    FetchStream: (call) => void data.fetchStream(call).catch(() => call.end()),
    ListOffsets: (call, done) => done(null, data.listOffsets(call.request)),
    InitProducerId: (call, done) => void producerIds.initProducerId(call.request).then((r) => done(null, r), (e: Error) => done(e)),
  };
  server.addService(withFetchEncoding(ferryGrpc().ferry.v1.FerryService.service, data.fetchBuffers), handlers);
}
