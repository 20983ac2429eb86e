// npm run sim -- --seeds 10000     many seeds: progress, a summary, a last line of JSON
// npm run sim -- --seed 1234       replay one seed exactly and print its event trace
import { runSeed, type SeedResult } from './runner.js';

interface Args {
  readonly seeds: number | undefined;
  readonly seed: number | undefined;
  readonly first: number;
}

const usage = `usage: npm run sim -- [--seeds N] [--first S] | --seed N
  --seeds N   run seeds S..S+N-1 (default 100), print progress, a summary and a JSON line
  --first S   first seed of a --seeds run (default 1)
  --seed N    replay seed N and print its event trace`;

class UsageError extends Error {}

function parseCount(flag: string, value: string | undefined, min: number): number {
  if (value === undefined || !/^\d+$/.test(value)) throw new UsageError(`${flag} needs a non-negative integer, got ${value ?? 'nothing'}`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > 0xffff_ffff) throw new UsageError(`${flag} must be between ${min} and 4294967295, got ${value}`);
  return n;
}

export function parseArgs(argv: readonly string[]): Args {
  let seeds: number | undefined;
  let seed: number | undefined;
  let first = 1;
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    switch (flag) {
      case '--seeds': seeds = parseCount(flag, value, 1); i += 1; break;
      case '--seed': seed = parseCount(flag, value, 0); i += 1; break;
      case '--first': first = parseCount(flag, value, 0); i += 1; break;
      case '--help': case '-h': throw new UsageError('');
      default: throw new UsageError(`unknown argument ${flag}`);
    }
  }
  if (seeds !== undefined && seed !== undefined) throw new UsageError('give either --seeds or --seed, not both');
  return { seeds: seed === undefined ? (seeds ?? 100) : undefined, seed, first };
}

function printViolation(r: SeedResult): void {
  console.log(`VIOLATION seed=${r.seed}: ${r.violation!.message}`);
  console.log(`replay: npm run sim -- --seed ${r.seed}`);
  console.log('last events:');
  for (const line of r.trace.slice(-40)) console.log(`  ${line}`);
}

function replay(seed: number): number {
  const r = runSeed(seed);
  console.log(`seed ${seed}: ${r.scenario.size} nodes, faults ${JSON.stringify(r.scenario.faults)}`);
  for (const line of r.trace) console.log(line);
  if (r.violation !== undefined) {
    printViolation(r);
    return 1;
  }
  console.log(`ok: ${r.ticks} ticks, ${r.committed} values committed, new leader ${r.electTicks} ticks after a leader crash`);
  return 0;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function sweep(first: number, count: number): number {
  const startMs = performance.now();
  const elect: number[] = [];
  const failed: number[] = [];
  let ticks = 0;
  let committed = 0;
  const every = Math.max(1, Math.floor(count / 20));
  for (let i = 0; i < count; i += 1) {
    const r = runSeed(first + i);
    ticks += r.ticks;
    committed += r.committed;
    if (r.electTicks !== undefined) elect.push(r.electTicks);
    if (r.violation !== undefined) {
      failed.push(r.seed);
      if (failed.length <= 3) printViolation(r);
    }
    if ((i + 1) % every === 0 || i + 1 === count) {
      const secs = (performance.now() - startMs) / 1000;
      console.log(`${i + 1}/${count} seeds, ${failed.length} violations, ${((i + 1) / secs).toFixed(1)} seeds/s`);
    }
  }
  const secs = (performance.now() - startMs) / 1000;
  elect.sort((a, b) => a - b);
  const summary = {
    seeds: count, violations: failed.length, failedSeeds: failed.slice(0, 20),
    seconds: Number(secs.toFixed(1)), seedsPerSecond: Number((count / secs).toFixed(1)),
    ticks, committedValues: committed,
    electTicksMedian: percentile(elect, 0.5), electTicksP99: percentile(elect, 0.99), electTicksMax: elect[elect.length - 1] ?? 0,
  };
  console.log(`summary: ${count} seeds in ${summary.seconds}s (${summary.seedsPerSecond}/s), ${failed.length} violations; ` +
    `election after a leader crash: median ${summary.electTicksMedian}, max ${summary.electTicksMax} ticks`);
  console.log(JSON.stringify(summary));
  return failed.length === 0 ? 0 : 1;
}

function main(argv: readonly string[]): number {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message !== '') console.error(`error: ${err.message}`);
    console.error(usage);
    return err.message === '' ? 0 : 2;
  }
  return args.seed !== undefined ? replay(args.seed) : sweep(args.first, args.seeds!);
}

process.exitCode = main(process.argv.slice(2));
