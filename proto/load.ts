/**
 * Loads the ferry.v1 contracts for grpc-js with the options the generated types in proto/gen
 * assume (longs as numbers, enums as strings, defaults filled, oneof names set). Every process
 * (node, SDK, CLI, tests) loads them through here so the runtime shape matches those types.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as ClientProto } from './gen/client.js';
import type { ProtoGrpcType as RaftProto } from './gen/raft.js';
import type { ProtoGrpcType as ControllerProto } from './gen/controller.js';
import type { ProtoGrpcType as GroupsProto } from './gen/groups.js';
import type { ProtoGrpcType as QueuesProto } from './gen/queues.js';

export const protoRoot = path.dirname(fileURLToPath(import.meta.url));

export const protoLoadOptions: protoLoader.Options = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoRoot],
};

let cached: { definition: protoLoader.PackageDefinition; grpcObject: ClientProto & RaftProto & ControllerProto & GroupsProto & QueuesProto } | undefined;

function load() {
  if (!cached) {
    const definition = protoLoader.loadSync(['ferry/v1/client.proto', 'ferry/v1/raft.proto', 'ferry/v1/controller.proto', 'ferry/v1/groups.proto', 'ferry/v1/queues.proto'], protoLoadOptions);
    cached = { definition, grpcObject: grpc.loadPackageDefinition(definition) as unknown as ClientProto & RaftProto & ControllerProto & GroupsProto & QueuesProto };
  }
  return cached;
}

/** The package definition (method descriptors with serializers), loaded once per process. */
export function ferryPackageDefinition(): protoLoader.PackageDefinition {
  return load().definition;
}

/** The grpc-js object tree: `ferryGrpc().ferry.v1.FerryService` etc. */
export function ferryGrpc(): ClientProto & RaftProto & ControllerProto & GroupsProto & QueuesProto {
  return load().grpcObject;
}
