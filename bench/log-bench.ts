// Storage-engine benchmark (a figure, not a test): PartitionLog append+flush throughput against a
// raw fs.writeSync + fdatasync loop of the same sizes on the same disk in the same run, then
// sequential read throughput from the page cache. Prints progress, a table, and a JSON last line.
//
// The two writers run interleaved in 8 MiB slices (raw, log, log, raw, ...) so that background
// load on a shared machine hits both alike; each keeps appending to its own file(s). Half the
// slices wait for every sync (serial); half keep writing while one sync is in flight (pipelined,
// how the node's Raft loop uses group commit). BENCH_MIB is the total per writer.
//
//   npm run bench:log                         (256 MiB each, capped at ~60 s)
//   BENCH_MIB=64 npm run bench:log
//   node --import tsx --cpu-prof bench/log-bench.ts   (to profile)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeBatch, logLimits, PartitionLog, type RecordInput } from '../log/index.js';

const mib = 1024 * 1024;
const totalBytes = Number(process.env.BENCH_MIB ?? 256) * mib;
const deadlineMs = Date.now() + Number(process.env.BENCH_SECONDS ?? 60) * 1000;
const sliceBytes = 8 * mib;
const recordBytes = 1024;
const recordsPerBatch = 63; // ~64 KiB batches
const flushEveryBytes = mib;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const workDir = path.join(repoRoot, '.bench-tmp', `log-bench-${process.pid}`);

function makeBatches(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let b = 0; b < n; b++) {
    const records: RecordInput[] = [];
    for (let i = 0; i < recordsPerBatch; i++) {
      records.push({ key: Buffer.from(`key-${b}-${i}`), value: Buffer.alloc(recordBytes, (b * 31 + i) & 0xff), timestamp: Date.now() });
    }
    out.push(encodeBatch({ records }));
  }
  return out;
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err === null ? resolve() : reject(err))));
}

interface Timing {
  bytes: number;
  ms: number;
}

/** One writer: `write` puts a batch in the page cache, `sync` makes it durable. */
interface Writer {
  write(batch: Buffer): void;
  sync(): Promise<unknown>;
}

function rawWriter(file: string): Writer & { fd: number } {
  const fd = fs.openSync(file, 'w');
  let pos = 0;
  return {
    fd,
    write(b) {
      let off = 0;
      while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off, pos + off);
      pos += b.length;
    },
    sync: () => fdatasync(fd),
  };
}

function logWriter(log: PartitionLog): Writer {
  return {
    // Stamps the base offset in place. An appended buffer must not change until it is written:
    // the pool of batches is 4x the most write-behind queues (tailQueuedBytesMax), and the final
    // read-back checks every batch (CRC and base offset), so most violations would fail the run.
    write: (b) => log.append(b),
    sync: () => log.flush(),
  };
}

/**
 * Writes one slice, syncing every flushEveryBytes. Serial: wait for each sync before writing on
 * (the strict reading of the target). Pipelined: keep writing while one sync is in flight, as the
 * Raft ready loop does with group commit; the next sync waits for the previous one.
 */
async function runSlice(w: Writer, timing: Timing, batches: Buffer[], next: { i: number }, pipelined: boolean): Promise<void> {
  const start = performance.now();
  let written = 0;
  let sinceFlush = 0;
  let inFlight: Promise<unknown> = Promise.resolve();
  while (written < sliceBytes) {
    const b = batches[next.i++ % batches.length] as Buffer;
    w.write(b);
    written += b.length;
    sinceFlush += b.length;
    if (sinceFlush >= flushEveryBytes) {
      await inFlight;
      inFlight = w.sync();
      if (!pipelined) await inFlight;
      sinceFlush = 0;
    }
  }
  await inFlight;
  await w.sync();
  timing.ms += performance.now() - start;
  timing.bytes += written;
}

function readAll(log: PartitionLog): Timing {
  const start = performance.now();
  let bytes = 0;
  let next = log.logStartOffset;
  while (next < log.logEndOffset) {
    const r = log.read(next, mib);
    bytes += r.records.length;
    next = r.nextOffset;
  }
  return { bytes, ms: performance.now() - start };
}

const mbps = (t: Timing): number => t.bytes / 1e6 / (t.ms / 1000);

async function main(): Promise<void> {
  fs.mkdirSync(workDir, { recursive: true });
  try {
    const batches = makeBatches(Math.ceil((4 * logLimits.tailQueuedBytesMax) / (recordsPerBatch * recordBytes)));
    console.log(
      `log-bench: ${batches[0]?.length} B batches (${recordsPerBatch} x ${recordBytes} B records), flush every ` +
        `${flushEveryBytes / mib} MiB, ${totalBytes / mib} MiB per writer in ${sliceBytes / mib} MiB interleaved slices`,
    );
    const log = await PartitionLog.open(path.join(workDir, 'log'));
    const raw = rawWriter(path.join(workDir, 'raw.bin'));
    const lw = logWriter(log);
    const next = { i: 0 };
    const t = () => ({ bytes: 0, ms: 0 });
    const timings = { raw: t(), log: t(), rawPipelined: t(), logPipelined: t() };
    // Warm-up (JIT, file creation), not timed.
    await runSlice(lw, t(), batches, next, false);
    await runSlice(raw, t(), batches, next, false);
    for (let slice = 0; timings.raw.bytes + timings.rawPipelined.bytes < totalBytes && Date.now() < deadlineMs; slice++) {
      const pipelined = slice % 4 >= 2;
      const pair: [Writer, Timing][] = pipelined
        ? [[raw, timings.rawPipelined], [lw, timings.logPipelined]]
        : [[raw, timings.raw], [lw, timings.log]];
      if (slice % 2 === 1) pair.reverse();
      for (const [w, timing] of pair) await runSlice(w, timing, batches, next, pipelined);
      if (slice % 8 === 7) {
        console.log(
          `  ${((timings.raw.bytes + timings.rawPipelined.bytes) / mib).toFixed(0)} MiB each: serial raw ${mbps(timings.raw).toFixed(0)} / ` +
            `log ${mbps(timings.log).toFixed(0)} MB/s, pipelined raw ${mbps(timings.rawPipelined).toFixed(0)} / log ${mbps(timings.logPipelined).toFixed(0)} MB/s`,
        );
      }
    }
    readAll(log); // warm
    const read = readAll(log);
    console.log(`  sequential read of ${(read.bytes / mib).toFixed(0)} MiB: ${mbps(read).toFixed(0)} MB/s (page cache)`);
    await log.close();
    fs.closeSync(raw.fd);
    const ratio = (a: Timing, b: Timing): number => Number((mbps(a) / mbps(b)).toFixed(3));
    const result = {
      appendMBps: Math.round(mbps(timings.log)),
      rawMBps: Math.round(mbps(timings.raw)),
      ratio: ratio(timings.log, timings.raw),
      readMBps: Math.round(mbps(read)),
      pipelinedAppendMBps: Math.round(mbps(timings.logPipelined)),
      pipelinedRawMBps: Math.round(mbps(timings.rawPipelined)),
      pipelinedRatio: ratio(timings.logPipelined, timings.rawPipelined),
    };
    console.table({
      'raw write+fdatasync (serial)': { 'MB/s': result.rawMBps, target: '-' },
      'log append+flush (serial)': { 'MB/s': result.appendMBps, target: `>= 0.8 x raw (ratio ${result.ratio})` },
      'raw write+fdatasync (pipelined)': { 'MB/s': result.pipelinedRawMBps, target: '-' },
      'log append+flush (pipelined)': { 'MB/s': result.pipelinedAppendMBps, target: `>= 0.8 x raw (ratio ${result.pipelinedRatio})` },
      'log sequential read': { 'MB/s': result.readMBps, target: '>= 500' },
    });
    console.log(JSON.stringify(result));
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
    try {
      fs.rmdirSync(path.dirname(workDir)); // only if empty: another run may be using it
    } catch {
      // not empty or already gone
    }
  }
}

await main();
