/**
 * Writing to stdout from the CLI. When stdout is a pipe, Node buffers what the reader has not
 * taken yet: `ferry consume big-topic | head` must wait for the reader (not buffer the topic in
 * memory), and the process must not exit (main.ts ends with process.exit) before the buffer is
 * written, or the tail of the output is lost.
 */
import { once } from 'node:events';

/** Writes `text`, waiting while the reader is behind. */
export async function printOut(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

/** Resolves once everything written so far to stdout and stderr has left the process. */
export function flushOutput(): Promise<void> {
  const flushed = (stream: NodeJS.WriteStream): Promise<void> =>
    new Promise<void>((resolve) => {
      // A write's callback runs after the writes before it; an empty write adds nothing.
      if (stream.destroyed || !stream.writable) resolve();
      else stream.write('', () => resolve());
    });
  return Promise.all([flushed(process.stdout), flushed(process.stderr)]).then(() => undefined);
}
