// Log cleaner benchmark (a figure, not a test): one compaction pass over BENCH_MIB of sealed
// segments (1 KiB values over BENCH_KEYS keys, so most records are superseded), with the node's
// I/O limit off and on, while a produce-like writer appends 16 KiB batches and flushes each one.
// Reports the cleaner's throughput (sealed MiB cleaned per second, and MiB/s of I/O it paid to the
// throttle: read twice, cleaned copy written once) and the writer's flush latency
// (p50/p99) during the pass, against the same writer with no cleaner running.
// Prints a table and a JSON last line.
//
//   npm run bench:cleaner                       (64 MiB, 20,000 keys, limit 32 MiB/s)
//   BENCH_MIB=256 BENCH_LIMIT_MIB=16 npm run bench:cleaner
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanLog, encodeBatch, IoThrottle, PartitionLog, type CleanerResult, type RecordInput } from '../log/index.js';
import { percentile } from './report.js';

const mib = 1024 * 1024;
const totalBytes = Number(process.env.BENCH_MIB ?? 64) * mib;
const keyCount = Number(process.env.BENCH_KEYS ?? 20_000);
const limitBytesPerSec = Number(process.env.BENCH_LIMIT_MIB ?? 32) * mib;
const recordBytes = 1024;
const recordsPerBatch = 16;
const segmentBytes = 8 * mib;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const workDir = path.join(repoRoot, '.bench-tmp', `cleaner-bench-${process.pid}`);

function batch(seq: number): Buffer {
  const records: RecordInput[] = [];
  for (let i = 0; i < recordsPerBatch; i++) {
    const key = Buffer.from(`key-${(seq * recordsPerBatch + i) % keyCount}`);
    records.push({ key, value: Buffer.alloc(recordBytes, (seq + i) & 0xff), timestamp: Date.now() });
  }
  return encodeBatch({ records });
}

/** A log of `totalBytes` sealed data plus an active segment, flushed. */
async function buildLog(dir: string): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, { segmentBytes });
  for (let seq = 0; log.sizeBytes < totalBytes; seq++) log.append(batch(seq));
  await log.flush();
  log.append(batch(0));
  log.append(batch(1)); // roll if needed so that everything above is sealed
  await log.flush();
  return log;
}

interface WriterFigures {
  flushes: number;
  p50Ms: number;
  p99Ms: number;
}

/** Appends and flushes one batch at a time until `done()`; returns flush latency percentiles. */
async function writer(log: PartitionLog, done: () => boolean, minFlushes: number): Promise<WriterFigures> {
  const latencies: number[] = [];
  for (let seq = 0; !done() || latencies.length < minFlushes; seq++) {
    const t = performance.now();
    log.append(batch(seq));
    await log.flush();
    latencies.push(performance.now() - t);
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => Number(percentile(latencies, q).toFixed(2));
  return { flushes: latencies.length, p50Ms: at(0.5), p99Ms: at(0.99) };
}

interface Run {
  mode: string;
  cleanerMs: number;
  cleanerMBps: number;
  /** Bytes read and written by the cleaner per second (what the limit applies to). */
  ioMBps: number;
  bytesBefore: number;
  bytesAfter: number;
  writer: WriterFigures;
}

async function run(mode: string, limit: number | null): Promise<Run> {
  const dir = path.join(workDir, mode);
  const log = await buildLog(dir);
  const sealed = log.cleanableSegments(log.logEndOffset).reduce((n, s) => n + s.sizeBytes, 0);
  let result: CleanerResult | undefined;
  const throttle = new IoThrottle(limit);
  const t = performance.now();
  const cleaning = cleanLog(log, { cleanableEndOffset: log.logEndOffset, tombstoneHorizonOffset: log.logEndOffset, deleteRetentionMs: 0, nowMs: Date.now(), throttle })
    .then((r) => {
      result = r;
      return performance.now() - t;
    });
  const [cleanerMs, w] = await Promise.all([cleaning, writer(log, () => result !== undefined, 50)]);
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  if (result?.outcome !== 'cleaned') throw new Error(`pass ${result?.outcome}: ${result?.reason ?? ''}`);
  return {
    mode, cleanerMs: Math.round(cleanerMs), cleanerMBps: Number((sealed / mib / (cleanerMs / 1000)).toFixed(1)),
    ioMBps: Number((throttle.bytesTotal / mib / (cleanerMs / 1000)).toFixed(1)),
    bytesBefore: result.bytesBefore, bytesAfter: result.bytesAfter, writer: w,
  };
}

async function baseline(): Promise<WriterFigures> {
  const dir = path.join(workDir, 'baseline');
  const log = await PartitionLog.open(dir, { segmentBytes });
  const w = await writer(log, () => true, 300);
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return w;
}

async function main(): Promise<void> {
  fs.mkdirSync(workDir, { recursive: true });
  try {
    console.log(`cleaner bench: ${totalBytes / mib} MiB sealed, ${keyCount} keys, 1 KiB values; limit ${limitBytesPerSec / mib} MiB/s`);
    const idle = await baseline();
    const off = await run('limit-off', null);
    const on = await run(`limit-${limitBytesPerSec / mib}MiBps`, limitBytesPerSec);
    console.table(Object.fromEntries([
      ['no cleaner', { cleanerMBps: '-', ioMBps: '-', cleanerMs: '-', flushP50Ms: idle.p50Ms, flushP99Ms: idle.p99Ms, flushes: idle.flushes }],
      ...[off, on].map((r) => [r.mode, { cleanerMBps: r.cleanerMBps, ioMBps: r.ioMBps, cleanerMs: r.cleanerMs, flushP50Ms: r.writer.p50Ms, flushP99Ms: r.writer.p99Ms, flushes: r.writer.flushes }]),
    ]));
    console.log(JSON.stringify({ totalMiB: totalBytes / mib, keys: keyCount, limitMiBps: limitBytesPerSec / mib, baseline: idle, runs: [off, on] }));
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
