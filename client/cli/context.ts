/** Shared pieces of the `ferry` CLI: the client from --bootstrap, and error reporting. */
import { createClient, FerryError, type FerryClient } from '../index.js';
import { OutputClosedError } from './output.js';

export const defaultBootstrap = '127.0.0.1:9091,127.0.0.1:9092,127.0.0.1:9093';

export interface GlobalOptions {
  readonly bootstrap: string;
}

export function clientFrom(opts: GlobalOptions): FerryClient {
  const bootstrap = opts.bootstrap.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = bootstrap.filter((a) => !/^[^:\s]+:\d{1,5}$/.test(a));
  if (bootstrap.length === 0 || bad.length > 0) {
    throw new UsageError(`--bootstrap must be host:port[,host:port...]${bad.length ? `; bad: ${bad.join(', ')}` : ''}`);
  }
  return createClient({ bootstrap, requestTimeoutMs: 10_000 });
}

/** Runs `fn` with a client from the global options, closing it afterwards. */
export async function withClient<T>(opts: GlobalOptions, fn: (ferry: FerryClient) => Promise<T>): Promise<T> {
  const ferry = clientFrom(opts);
  try {
    return await fn(ferry);
  } finally {
    ferry.close();
  }
}

/** A mistake in how the command was called: printed without a stack, exit code 2. */
export class UsageError extends Error {}

export function parseIntegerOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`${name} must be an integer in ${min}-${max}, got "${value}"`);
    }
    return n;
  };
}

/** Prints an error the way a user needs it and sets the exit code. */
export function reportError(err: unknown): void {
  if (err instanceof OutputClosedError) {
    // `ferry consume t | head`: the reader had enough; like cat, stop without a word.
    return;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`ferry: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof FerryError) {
    const hint = err.code === 'UNAVAILABLE' ? '\n(is the cluster running? start one with `npm run cluster`, or pass --bootstrap)' : '';
    process.stderr.write(`ferry: ${err.code}: ${err.message}${hint}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`ferry: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
