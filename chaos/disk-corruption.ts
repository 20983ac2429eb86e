/**
 * The disk-corruption fault: while a node is down, damage one of its partition segment files —
 * flip a few bits somewhere in it, or cut it short — as bit rot or a lost write-back would. The
 * node must notice on restart or on read, never serve the damaged bytes, and get them back from
 * a healthy replica (promise 4); the checker then proves no acknowledged write was lost.
 */
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SeededRandom } from './prng.js';

function segmentFiles(dataDir: string): string[] {
  const root = path.join(dataDir, 'partitions');
  let dirs: string[];
  try {
    dirs = readdirSync(root);
  } catch {
    return [];
  }
  return dirs.sort().flatMap((d) => {
    const dir = path.join(root, d);
    try {
      return readdirSync(dir).filter((f) => f.endsWith('.log')).sort().map((f) => path.join(dir, f));
    } catch {
      return [];
    }
  }).filter((f) => statSync(f).size > 0);
}

/** Damages one segment file of the (stopped) node; returns what was done, for the progress line. */
export function damageSegments(dataDir: string, random: SeededRandom): string {
  const files = segmentFiles(dataDir);
  if (files.length === 0) return 'no segment file to damage';
  const file = random.pick(files);
  const size = statSync(file).size;
  const rel = path.relative(dataDir, file);
  if (random.int(0, 1) === 0) {
    const bytes = readFileSync(file);
    const flips = random.int(1, 4);
    const at: number[] = [];
    for (let i = 0; i < flips; i += 1) {
      const pos = random.int(0, size - 1);
      bytes[pos] = bytes[pos]! ^ (1 << random.int(0, 7));
      at.push(pos);
    }
    writeFileSync(file, bytes);
    return `flipped ${flips} bit(s) in ${rel} at byte ${at.join(', ')}`;
  }
  const keep = random.int(0, size - 1);
  truncateSync(file, keep);
  return `truncated ${rel} from ${size} to ${keep} bytes`;
}
