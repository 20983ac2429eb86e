/**
 * `npm run bench:queue`: a fresh local 3-node cluster; records produced to a topic, then drained
 * by a queue group (workers with a no-op handler: receive, lock, ack through the group-state Raft
 * log), and one-at-a-time receive + ack latency. Bounded in records and time; prints progress, a
 * table and a last line of JSON. A figure, not a test: these machines are shared and noisy.
 *   npm run bench:queue -- [--records 5000] [--workers 10] [--concurrency 10] [--latency-samples 300] [--seconds 60] [--partitions 3]
 *                          [--profile DIR]   (DIR: a .cpuprofile per node, written at stop)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster } from '../chaos/local-cluster.js';
import { createClient, type FerryClient } from '../client/index.js';
import { percentile, printFigures } from './report.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '5000' },
    workers: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '10' },
    'latency-samples': { type: 'string', default: '300' },
    seconds: { type: 'string', default: '60' },
    partitions: { type: 'string', default: '3' },
    profile: { type: 'string' },
  },
});
const count = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${String(values[name])}`);
  return n;
};
const phaseMsMax = count('seconds') * 1_000;
const progress = (msg: string): void => void process.stderr.write(`${msg}\n`);

async function produce(ferry: FerryClient, topic: string, records: number): Promise<void> {
  const producer = ferry.producer({ lingerMs: 2 });
  const value = Buffer.alloc(256, 0x61);
  const window: Array<Promise<unknown>> = [];
  for (let i = 0; i < records; i += 1) {
    window.push(producer.send(topic, { key: `k${i}`, value }));
    if (window.length >= 5_000) await Promise.all(window.splice(0));
  }
  await Promise.all(window);
  await producer.close();
}

async function drain(ferry: FerryClient, topic: string, records: number): Promise<{ recordsPerSec: number; handled: number }> {
  let handled = 0;
  const workers = Array.from({ length: count('workers') }, () => ferry.queueConsumer({
    group: 'bench', topic, concurrency: count('concurrency'), visibilityTimeoutMs: 30_000, maxWaitMs: 200,
    handler: () => void (handled += 1),
  }).start());
  const started = Date.now();
  let lastReport = started;
  while (handled < records && Date.now() - started < phaseMsMax) {
    await new Promise((r) => setTimeout(r, 100));
    if (Date.now() - lastReport > 2_000) {
      lastReport = Date.now();
      progress(`  ${handled}/${records} handled (${Math.round(handled / ((lastReport - started) / 1_000))} records/s)`);
    }
  }
  const ms = Date.now() - started;
  await Promise.all(workers.map((w) => w.close()));
  return { recordsPerSec: Math.round(handled / (ms / 1_000)), handled };
}

async function latency(ferry: FerryClient, topic: string, samples: number): Promise<{ p50Ms: number; p99Ms: number }> {
  await produce(ferry, topic, samples);
  const ms: number[] = [];
  const started = Date.now();
  while (ms.length < samples && Date.now() - started < phaseMsMax) {
    const t0 = performance.now();
    const got = await ferry.queues.receive('bench-latency', topic, { max: 1, maxWaitMs: 1_000 });
    if (got.length === 0) continue;
    await ferry.queues.ack('bench-latency', got);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number): number => Math.round(percentile(ms, q) * 10) / 10;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

async function main(): Promise<void> {
  const dataRoot = mkdtempSync(path.join(os.tmpdir(), 'ferry-queue-bench-'));
  progress(`starting a 3-node cluster under ${dataRoot} (fsync always)`);
  const nodeArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : [];
  const cluster = await LocalCluster.start({ nodes: 3, dataRoot, env: { FERRY_LOG_LEVEL: 'warn', FERRY_GROUP_STATE_PARTITIONS: '4' }, nodeArgs });
  const ferry = createClient({ bootstrap: cluster.bootstrap() });
  try {
    await cluster.waitReady();
    const records = count('records');
    await ferry.admin.createTopic('bench-queue', { partitions: count('partitions') });
    await ferry.admin.createTopic('bench-queue-latency', { partitions: 1 });
    progress(`phase 1/3: producing ${records} records of 256 B`);
    await produce(ferry, 'bench-queue', records);
    progress(`phase 2/3: draining with ${count('workers')} workers x ${count('concurrency')} (no-op handler)`);
    const d = await drain(ferry, 'bench-queue', records);
    progress('phase 3/3: one-at-a-time receive + ack latency');
    const lat = await latency(ferry, 'bench-queue-latency', count('latency-samples'));
    const rows: Array<[string, string]> = [
      ['queue drain (records/s)', String(d.recordsPerSec)],
      ['receive + ack p50 (ms)', String(lat.p50Ms)],
      ['receive + ack p99 (ms)', String(lat.p99Ms)],
    ];
    printFigures(rows);
    process.stdout.write(`${JSON.stringify({ drainRecordsPerSec: d.recordsPerSec, handled: d.handled, records, ...lat })}\n`);
  } finally {
    ferry.close();
    await cluster.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

await main();
