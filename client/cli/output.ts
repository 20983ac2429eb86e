/**
 * Writing to stdout from the CLI. When stdout is a pipe, Node buffers what the reader has not
 * taken yet: `ferry consume big-topic | less` must wait for the reader (not buffer the topic in
 * memory), and the process must not exit (main.ts ends with process.exit) before the buffer is
 * written, or the tail of the output is lost. A reader that goes away (`| head`) ends the command
 * quietly, as it ends `cat`.
 */
import { once } from 'node:events';

/** The reader of stdout went away (EPIPE): the command stops; nothing is reported. */
export class OutputClosedError extends Error {
  override readonly name = 'OutputClosedError';
}

let readerGone = false;
const isEpipe = (err: unknown): boolean => (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';

// Without a listener an EPIPE on stdout would be thrown from the event loop.
process.stdout.on('error', (err) => {
  if (isEpipe(err)) readerGone = true;
});

/**
 * Writes `text`. Returns a promise only when the reader is behind (await it before writing more),
 * so a fast reader costs no promise per record. Throws OutputClosedError once the reader is gone.
 */
export function printOut(text: string): Promise<void> | undefined {
  if (readerGone) throw new OutputClosedError('stdout was closed by its reader');
  if (process.stdout.write(text)) return undefined;
  return once(process.stdout, 'drain').then(() => undefined, (err: unknown) => {
    if (!isEpipe(err)) throw err;
    readerGone = true;
    throw new OutputClosedError('stdout was closed by its reader');
  });
}

/** Resolves once everything written so far to stdout and stderr has left the process. */
export function flushOutput(): Promise<void> {
  const flushed = (stream: NodeJS.WriteStream): Promise<void> =>
    new Promise<void>((resolve) => {
      // A write's callback runs after the writes before it; an empty write adds nothing.
      if (stream.destroyed || !stream.writable || (stream === process.stdout && readerGone)) resolve();
      else stream.write('', () => resolve());
    });
  return Promise.all([flushed(process.stdout), flushed(process.stderr)]).then(() => undefined);
}
