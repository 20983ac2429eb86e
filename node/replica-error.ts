/**
 * Errors the data path answers with. Codes mirror proto ErrorCode names (without the prefix), so
 * the gRPC layer maps them one to one; the message says what was wrong and what to do.
 */
export type ReplicaErrorCode =
  | 'NOT_LEADER'
  | 'LEADER_NOT_AVAILABLE'
  | 'UNKNOWN_TOPIC_OR_PARTITION'
  | 'MESSAGE_TOO_LARGE'
  | 'CORRUPT_MESSAGE'
  | 'UNSUPPORTED_COMPRESSION'
  | 'INVALID_REQUEST'
  | 'THROTTLED'
  | 'TIMEOUT'
  | 'OFFSET_OUT_OF_RANGE'
  | 'NOT_ENOUGH_REPLICAS'
  | 'INTERNAL';

const retriable: ReadonlySet<ReplicaErrorCode> = new Set([
  'NOT_LEADER', 'LEADER_NOT_AVAILABLE', 'THROTTLED', 'TIMEOUT', 'NOT_ENOUGH_REPLICAS',
]);

export class ReplicaError extends Error {
  override readonly name = 'ReplicaError';

  constructor(
    readonly code: ReplicaErrorCode,
    message: string,
    /** With NOT_LEADER: the node believed to lead. */
    readonly leaderHint?: number,
  ) {
    super(message);
  }

  get retriable(): boolean {
    return retriable.has(this.code);
  }
}
