/** A hosted PartitionReplica seen as a coordinator's StatePartition. */
import type { PartitionReplica } from '../partition-replica.js';
import type { RaftHost } from '../raft-host.js';
import { logStartBatch } from '../raft-entry-batch.js';
import type { StatePartition } from './state-partition.js';

export function replicaStatePartition(replica: PartitionReplica, host: RaftHost): StatePartition & { logRecordCount(): number } {
  return {
    get isLeader() {
      return replica.isLeader;
    },
    get term() {
      return replica.term;
    },
    get logStartOffset() {
      return replica.logStartOffset;
    },
    read: (offset, maxBytes) => replica.read(offset, maxBytes),
    produce: (batch, acks, timeoutMs) => replica.produce(batch, acks, timeoutMs),
    // The log-start record is applied by the replica when it commits, on every replica alike
    // (the same path retention takes), so all of them cut at this offset.
    proposeLogStart: (offset) => host.propose(replica.key, logStartBatch(offset))?.ok === true,
    logRecordCount: () => replica.hw - replica.logStartOffset,
  };
}
