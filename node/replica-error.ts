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
  | 'OUT_OF_ORDER_SEQUENCE'
  | 'PRODUCER_FENCED'
  | 'UNKNOWN_PRODUCER_ID'
  | 'INTERNAL';

const retriable: ReadonlySet<ReplicaErrorCode> = new Set([
  'NOT_LEADER', 'LEADER_NOT_AVAILABLE', 'THROTTLED', 'TIMEOUT', 'NOT_ENOUGH_REPLICAS',
  // An earlier batch of the same producer is missing: the same batch succeeds once that one is in.
  'OUT_OF_ORDER_SEQUENCE',
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
