// Invariant checks for the core. An impossible state is a bug: throw at once, never limp on.

export class RaftInvariantError extends Error {
  override name = 'RaftInvariantError';
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new RaftInvariantError(message);
}

/** Exhaustiveness check for switches over closed unions: a new message type fails to compile. */
export function assertNever(value: never, what: string): never {
  throw new RaftInvariantError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
