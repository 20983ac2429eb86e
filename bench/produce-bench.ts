/**
 * `npm run bench:produce`: a fresh local 3-node cluster (RF 3, acks=all, fsync on), one producer
 * process pushing 1 KiB and 100 B records as fast as it can, one-at-a-time produce latency, and
 * the consume rate. Bounded in record count and time; prints progress, a table and a last line of
 * JSON. A figure, not a test: these machines are shared and noisy.
 *   npm run bench:produce -- [--records-1k 200000] [--records-100b 300000] [--latency-samples 2000] [--seconds 60]
 *                            [--partitions 3] [--profile DIR]   (DIR: a .cpuprofile per node, written at stop)
 *                            [--no-idempotence]   (one batch in flight per partition instead of 5)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster } from '../chaos/local-cluster.js';
import { createClient, type FerryClient, type RecordMetadata } from '../client/index.js';
import { percentile, printFigures } from './report.js';

const { values } = parseArgs({
  options: {
    'records-1k': { type: 'string', default: '200000' },
    'records-100b': { type: 'string', default: '300000' },
    'latency-samples': { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '60' },
    partitions: { type: 'string', default: '3' },
    profile: { type: 'string' },
    'no-idempotence': { type: 'boolean', default: false },
  },
});
/** The SDK default (idempotent, 5 batches in flight per partition), or one batch in flight. */
const idempotent = !values['no-idempotence'];
const count = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${String(values[name])}`);
  return n;
};
const phaseSecondsMax = count('seconds');
const progress = (msg: string): void => void process.stderr.write(`${msg}\n`);

async function throughput(ferry: FerryClient, topic: string, records: number, size: number): Promise<{ msgPerSec: number; mbPerSec: number; sent: number }> {
  const producer = ferry.producer({ lingerMs: 2, maxBatchBytes: 1024 * 1024, idempotent });
  const value = Buffer.alloc(size, 0x61);
  const started = Date.now();
  const deadline = started + phaseSecondsMax * 1000;
  let acked = 0;
  let sent = 0;
  let lastReport = started;
  const window: Array<Promise<RecordMetadata>> = [];
  while (sent < records && Date.now() < deadline) {
    window.push(producer.send(topic, { value }));
    sent += 1;
    if (window.length >= 20_000) acked += (await Promise.all(window.splice(0, 10_000))).length;
    if (Date.now() - lastReport > 2_000) {
      lastReport = Date.now();
      progress(`  ${size} B: ${acked}/${records} acked (${Math.round(acked / ((lastReport - started) / 1000))} msg/s)`);
    }
  }
  acked += (await Promise.all(window)).length;
  await producer.flush();
  const seconds = (Date.now() - started) / 1000;
  const st = producer.stats;
  progress(`  ${size} B: ${st.batchesSent} batches, ${Math.round(st.recordsSent / Math.max(1, st.batchesSent))} records / ${Math.round(st.bytesSent / Math.max(1, st.batchesSent) / 1024)} KiB per batch, ${st.retries} retries ${JSON.stringify(st.retriesByCode)}`);
  return { msgPerSec: Math.round(acked / seconds), mbPerSec: +((acked * size) / seconds / 1e6).toFixed(1), sent: acked };
}

/**
 * CPU seconds (user + system) the node processes have used so far, from /proc (Linux; 0
 * elsewhere). Per-record CPU is a steadier figure than a rate on a shared, noisy machine.
 */
function nodesCpuSeconds(cluster: LocalCluster): number {
  let ticks = 0;
  for (const id of cluster.ids) {
    const pid = cluster.pid(id);
    if (pid === undefined) continue;
    try {
      // Fields after the command (which may hold spaces) start after its closing parenthesis.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    } catch {
      return 0;
    }
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

async function latency(ferry: FerryClient, topic: string, samples: number): Promise<{ p50Ms: number; p99Ms: number; maxMs: number }> {
  const producer = ferry.producer({ lingerMs: 0 });
  const value = Buffer.alloc(1024, 0x62);
  const times: number[] = [];
  const deadline = Date.now() + phaseSecondsMax * 1000;
  for (let i = 0; i < samples && Date.now() < deadline; i += 1) {
    const t0 = process.hrtime.bigint();
    await producer.send(topic, { value, partition: 0 });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (i % 500 === 499) progress(`  latency: ${i + 1}/${samples}`);
  }
  times.sort((a, b) => a - b);
  const at = (q: number): number => +percentile(times, q).toFixed(3);
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

async function consume(ferry: FerryClient, topic: string, expected: number): Promise<number> {
  const consumer = ferry.consumer({ topic, from: 'earliest', maxBytes: 4 * 1024 * 1024, bufferRecords: 50_000 });
  const started = Date.now();
  const deadline = started + phaseSecondsMax * 1000;
  let n = 0;
  while (n < expected && Date.now() < deadline) n += (await consumer.poll(500, 10_000)).length;
  consumer.close();
  return Math.round(n / ((Date.now() - started) / 1000));
}

async function main(): Promise<void> {
  const dataRoot = mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-'));
  progress(`starting a 3-node cluster under ${dataRoot} (fsync always)`);
  const nodeArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : [];
  const cluster = await LocalCluster.start({ nodes: 3, dataRoot, env: { FERRY_LOG_LEVEL: 'warn' }, nodeArgs });
  const ferry = createClient({ bootstrap: cluster.bootstrap() });
  try {
    await cluster.waitReady();
    const partitions = count('partitions');
    await ferry.admin.createTopic('bench-1k', { partitions, replicationFactor: 3 });
    await ferry.admin.createTopic('bench-100b', { partitions, replicationFactor: 3 });
    await ferry.admin.createTopic('bench-latency', { partitions: 1, replicationFactor: 3 });
    progress(`phase 1/4: 1 KiB records to ${partitions} partitions`);
    let cpu = nodesCpuSeconds(cluster);
    let clientCpu = process.cpuUsage();
    const k1 = await throughput(ferry, 'bench-1k', count('records-1k'), 1024);
    const nodeCpuUsPerRecord1k = Math.round(((nodesCpuSeconds(cluster) - cpu) * 1e6) / k1.sent);
    const clientUs = (since: NodeJS.CpuUsage, n: number): number => {
      const used = process.cpuUsage(since);
      return Math.round((used.user + used.system) / n);
    };
    const clientCpuUsPerRecord1k = clientUs(clientCpu, k1.sent);
    progress(`  CPU per 1 KiB record: nodes ${nodeCpuUsPerRecord1k} µs (all three together), producer ${clientCpuUsPerRecord1k} µs`);
    progress('phase 2/4: 100 B records');
    cpu = nodesCpuSeconds(cluster);
    clientCpu = process.cpuUsage();
    const b100 = await throughput(ferry, 'bench-100b', count('records-100b'), 100);
    const nodeCpuUsPerRecord100B = Math.round(((nodesCpuSeconds(cluster) - cpu) * 1e6) / b100.sent);
    const clientCpuUsPerRecord100B = clientUs(clientCpu, b100.sent);
    progress('phase 3/4: one-at-a-time produce latency (1 KiB, acks=all)');
    const lat = await latency(ferry, 'bench-latency', count('latency-samples'));
    progress('phase 4/4: consume both topics from the start');
    const consumeMsgPerSec = await consume(ferry, 'bench-1k', k1.sent);
    const consumeMsgPerSec100B = await consume(ferry, 'bench-100b', b100.sent);
    const rows: Array<[string, string, string]> = [
      ['produce 1 KiB (msg/s)', String(k1.msgPerSec), '>= 95000'],
      ['produce 1 KiB (MB/s)', String(k1.mbPerSec), ''],
      ['produce 100 B (msg/s)', String(b100.msgPerSec), ''],
      ['single produce p50 (ms)', String(lat.p50Ms), ''],
      ['single produce p99 (ms)', String(lat.p99Ms), '<= 1.5'],
      ['consume 1 KiB (msg/s)', String(consumeMsgPerSec), '>= 400000'],
      ['consume 100 B (msg/s)', String(consumeMsgPerSec100B), '>= 400000'],
      ['node CPU / 1 KiB rec (µs)', String(nodeCpuUsPerRecord1k), ''],
      ['node CPU / 100 B rec (µs)', String(nodeCpuUsPerRecord100B), ''],
      ['producer CPU / 1 KiB (µs)', String(clientCpuUsPerRecord1k), ''],
      ['producer CPU / 100 B (µs)', String(clientCpuUsPerRecord100B), ''],
    ];
    printFigures(rows);
    process.stdout.write(`${JSON.stringify({
      msgPerSec: k1.msgPerSec, mbPerSec: k1.mbPerSec, msgPerSec100B: b100.msgPerSec, p50Ms: lat.p50Ms, p99Ms: lat.p99Ms,
      maxMs: lat.maxMs, consumeMsgPerSec, consumeMsgPerSec100B, records1k: k1.sent, records100B: b100.sent,
      nodeCpuUsPerRecord1k, nodeCpuUsPerRecord100B, clientCpuUsPerRecord1k, clientCpuUsPerRecord100B,
    })}\n`);
  } finally {
    ferry.close();
    await cluster.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
