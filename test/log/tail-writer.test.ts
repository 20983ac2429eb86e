// The write-behind of a segment file against a model: a Buffer holding what the file must read as.
// Random appends, truncations, reads and waits interleave with writes running on the threadpool;
// every read must match the model at once, and once drained the file itself must equal it.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TailWriter } from '../../log/tail-writer.js';
import { withTempDir } from './helpers.js';

type Op =
  | { kind: 'append'; bytes: number; fill: number }
  | { kind: 'truncate'; pick: number }
  | { kind: 'read'; from: number; length: number }
  | { kind: 'yield' }
  | { kind: 'drain' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), bytes: fc.integer({ min: 1, max: 3000 }), fill: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), from: fc.nat(), length: fc.integer({ min: 1, max: 5000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('yield' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drain' as const) }) },
);

/** Lets the threadpool complete whatever it can (a few event-loop turns). */
const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('TailWriter (segment write-behind)', () => {
  it('reads always match the model, and the drained file equals it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), fc.integer({ min: 2000, max: 20_000 }), fc.integer({ min: 0, max: 3000 }), async (ops, queuedMax, syncBelow) => {
        await withTempDir(async (dir) => {
          const file = path.join(dir, 'seg.log');
          const fd = fs.openSync(file, 'w+');
          // Small bounds: the synchronous fallback runs too, and small appends on an idle writer
          // are written at once (below `syncBelow` bytes).
          const w = new TailWriter(fd, { queuedBytesMax: queuedMax, writeBehindMinBytes: syncBelow });
          let model = Buffer.alloc(0);
          const boundaries: number[] = [];
          for (const o of ops) {
            if (o.kind === 'append') {
              const b = Buffer.alloc(o.bytes, o.fill);
              boundaries.push(model.length);
              w.append(b, model.length);
              model = Buffer.concat([model, b]);
            } else if (o.kind === 'truncate' && boundaries.length > 0) {
              const size = boundaries[o.pick % boundaries.length] as number;
              boundaries.splice(boundaries.findIndex((x) => x >= size));
              w.truncate(size);
              model = model.subarray(0, size);
            } else if (o.kind === 'read' && model.length > 0) {
              const from = o.from % model.length;
              const length = Math.min(o.length, model.length - from);
              const out = Buffer.alloc(length);
              w.readInto(out, 0, length, from);
              expect(out.equals(model.subarray(from, from + length))).toBe(true);
            } else if (o.kind === 'yield') {
              await turns(3);
            } else if (o.kind === 'drain') {
              await w.drain();
              expect(w.idle).toBe(true);
            }
          }
          await w.drain();
          expect(w.idle).toBe(true);
          expect(fs.readFileSync(file).equals(model)).toBe(true);
          w.close();
        });
      }),
      { numRuns: 150 },
    );
  });

  it('keeps the fd open until queued writes finish, then closes it', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'seg.log');
      const fd = fs.openSync(file, 'w+');
      const w = new TailWriter(fd);
      const a = Buffer.alloc(256 * 1024, 7);
      w.append(a, 0);
      w.append(a, a.length);
      w.close();
      expect(() => fs.fstatSync(fd)).not.toThrow(); // still open: a write is queued on it
      await w.drain();
      await turns(2);
      expect(() => fs.fstatSync(fd)).toThrow(/EBADF/);
      expect(fs.readFileSync(file).length).toBe(2 * a.length);
    });
  });

  it('a failed write rejects drain() and refuses further appends', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'seg.log');
      fs.writeFileSync(file, '');
      const fd = fs.openSync(file, 'r'); // writes fail with EBADF
      const w = new TailWriter(fd, { writeBehindMinBytes: 0 }); // every append behind
      w.append(Buffer.alloc(100, 1), 0);
      expect(w.readInto.bind(w, Buffer.alloc(100), 0, 100, 0)).not.toThrow(); // served from memory
      await expect(w.drain()).rejects.toThrow(/EBADF/);
      expect(() => w.append(Buffer.alloc(10), 100)).toThrow(/EBADF/);
      expect(() => w.truncate(0)).toThrow(/EBADF/);
      w.close();
    });
  });
});

describe('TailWriter small appends', () => {
  it('writes an append below the write-behind size at once when nothing is queued', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'seg.log');
      const w = new TailWriter(fs.openSync(file, 'w+'), { writeBehindMinBytes: 1024 });
      w.append(Buffer.alloc(100, 1), 0);
      expect(w.idle).toBe(true);
      expect(fs.readFileSync(file).length).toBe(100);
      w.append(Buffer.alloc(4096, 2), 100); // large: behind
      w.append(Buffer.alloc(100, 3), 4196); // small, but a write is queued: behind it, in order
      expect(w.idle).toBe(false);
      await w.drain();
      expect(fs.readFileSync(file).length).toBe(4296);
      w.close();
    });
  });
});
