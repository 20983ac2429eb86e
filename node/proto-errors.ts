/** Maps the node's errors to the wire's closed ErrorCode vocabulary (proto/ferry/v1/common.proto). */
import type { Error as WireError } from '../proto/gen/ferry/v1/Error.js';
import type { ErrorCode } from '../proto/gen/ferry/v1/ErrorCode.js';
import { ReplicaError, type ReplicaErrorCode } from './replica-error.js';

export const noError: WireError = { code: 'ERROR_CODE_NONE', message: '', retriable: false, leaderHintNodeId: -1, leaderHintAddress: '' };

export function wireError(code: ReplicaErrorCode | 'TOPIC_ALREADY_EXISTS' | 'INVALID_CONFIG' | 'INVALID_REPLICATION_FACTOR',
  message: string, leader?: { id: number; address: string }): WireError {
  const retriable = new ReplicaError(code as ReplicaErrorCode, message).retriable;
  return {
    code: `ERROR_CODE_${code}` as ErrorCode, message, retriable,
    leaderHintNodeId: leader?.id ?? -1, leaderHintAddress: leader?.address ?? '',
  };
}

/** Any thrown value as a wire error; unknown errors are INTERNAL (and the caller logs them). */
export function toWireError(err: unknown, addressOf: (nodeId: number) => string | undefined): WireError {
  if (err instanceof ReplicaError) {
    const hint = err.leaderHint;
    return wireError(err.code, err.message, hint ? { id: hint, address: addressOf(hint) ?? '' } : undefined);
  }
  return wireError('INTERNAL', `internal error: ${err instanceof Error ? err.message : String(err)}`);
}
