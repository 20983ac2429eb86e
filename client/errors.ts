/**
 * The SDK's error vocabulary: the wire's closed ErrorCode set (without the ERROR_CODE_ prefix)
 * plus a few client-side conditions. Every error says whether a retry may help.
 */
import type { Error__Output as WireError } from '../proto/gen/ferry/v1/Error.js';

export const ferryErrorCodes = [
  'NOT_LEADER', 'UNKNOWN_TOPIC_OR_PARTITION', 'MESSAGE_TOO_LARGE', 'INVALID_REQUEST', 'THROTTLED', 'CORRUPT_MESSAGE',
  'OFFSET_OUT_OF_RANGE', 'TIMEOUT', 'NOT_ENOUGH_REPLICAS', 'TOPIC_ALREADY_EXISTS', 'INVALID_CONFIG', 'FENCED_LEADER_EPOCH',
  'LEADER_NOT_AVAILABLE', 'INTERNAL', 'UNSUPPORTED_COMPRESSION', 'INVALID_REPLICATION_FACTOR', 'NOT_COORDINATOR',
  'COORDINATOR_NOT_AVAILABLE', 'UNKNOWN_MEMBER', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'GROUP_NOT_EMPTY',
  'GROUP_ID_NOT_FOUND', 'INCONSISTENT_GROUP_PROTOCOL', 'GROUP_MAX_SIZE_REACHED', 'PARTITION_NOT_OWNED',
  'RECEIPT_EXPIRED', 'QUEUE_GROUP_NOT_FOUND',
  'OUT_OF_ORDER_SEQUENCE', 'PRODUCER_FENCED', 'UNKNOWN_PRODUCER_ID',
  // Client side: no node answered, or the client was closed.
  'UNAVAILABLE', 'CLIENT_CLOSED',
] as const;

export type FerryErrorCode = (typeof ferryErrorCodes)[number];

export class FerryError extends Error {
  override readonly name = 'FerryError';

  constructor(
    readonly code: FerryErrorCode,
    message: string,
    readonly retriable: boolean,
    readonly leaderHint?: { nodeId: number; address: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** `err` itself if it is a FerryError, else an INTERNAL (not retriable) one that names it. */
  static from(err: unknown): FerryError {
    return err instanceof FerryError ? err : new FerryError('INTERNAL', String(err), false);
  }

  static fromWire(e: WireError | null | undefined, context: string): FerryError | undefined {
    if (!e || e.code === 'ERROR_CODE_NONE') return undefined;
    const code = String(e.code).replace(/^ERROR_CODE_/, '') as FerryErrorCode;
    const hint = e.leaderHintNodeId > 0 && e.leaderHintAddress ? { nodeId: e.leaderHintNodeId, address: e.leaderHintAddress } : undefined;
    return new FerryError(ferryErrorCodes.includes(code) ? code : 'INTERNAL', `${context}: ${e.message || code}`, e.retriable, hint);
  }
}
