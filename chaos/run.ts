/**
 * `npm run chaos -- --time 30 --nemesis kill,pause,kill-leader --seed 7`: a local cluster, a
 * produce workload with unique values, replica readers, tailing consumers and a consumer group,
 * a seeded fault schedule, then heal, read every partition from every replica and the group's
 * committed offsets, and check the history. Prints a progress line per fault, the verdict, and a
 * last line of JSON; exits 1 when a promise was broken. The history is written as JSON lines.
 * Stops every node it started, by pid, even on failure.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { createClient, offsetAfterBatches, type FerryClient } from '../client/index.js';
import { ferryGrpc } from '../proto/load.js';
import type { TransferLeadershipResponse__Output } from '../proto/gen/ferry/v1/TransferLeadershipResponse.js';
import { dataRecordsOf } from './fetched-records.js';
import { ConnectionPool, unary } from '../client/connection-pool.js';
import type { FetchResponse__Output } from '../proto/gen/ferry/v1/FetchResponse.js';
import { checkHistory } from './checker.js';
import { ChaosGroupMembers } from './group-members.js';
import type { HistoryEvent, PartitionOffset, ReadEvent } from './history.js';
import { LocalCluster } from './local-cluster.js';
import { faultKinds, networkFaultKinds, nftFaultKinds, runNemesis, type FaultKind } from './nemesis.js';
import { NetnsNetwork } from './netns.js';
import { requireNft } from './nft-cuts.js';
import { SeededRandom } from './prng.js';
import { ChaosPollers } from './pollers.js';
import { ChaosReaders } from './readers.js';
import { ProduceWorkload, producerModes, type ProducerMode } from './workload.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ChaosOptions {
  readonly seconds: number;
  readonly nemesis: readonly FaultKind[];
  readonly seed: number;
  readonly nodes: number;
  readonly partitions: number;
  readonly producers: number;
  /** Members of the chaos consumer group (default 3; 0 for none). */
  readonly groupMembers?: number;
  readonly historyFile?: string;
  /** How producers retry (default "idempotent"); duplicates are an anomaly only when idempotent. */
  readonly producerMode?: ProducerMode;
  /** Small segments and retention.bytes, so log starts move and log-start resets happen under faults. */
  readonly retention?: boolean;
  /** Extra FERRY_* settings for the nodes (e.g. FERRY_FSYNC=never, to see the checker catch loss). */
  readonly nodeEnv?: Readonly<Record<string, string>>;
  readonly progress: (line: string) => void;
}

/** The chaos consumer group, and how often one of its members is replaced (a rebalance under faults). */
const groupId = 'chaos-group';
const groupChurnMs = 5_000;

/**
 * The group's committed offsets of `topic` after healing. The SDK already retries a coordinator
 * that is moving (about 18 s); this only goes on asking, for 30 s in all, after it gave up.
 */
async function committedOffsets(ferry: FerryClient, topic: string): Promise<PartitionOffset[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const committed = await ferry.groups.committed(groupId);
      return [...committed].filter(([k]) => k.startsWith(`${topic}/`))
        .map(([k, offset]) => ({ partition: Number(k.slice(topic.length + 1)), offset })).sort((a, b) => a.partition - b.partition);
    } catch (err) {
      if (Date.now() >= deadline) throw new Error(`could not read group ${groupId}'s committed offsets after healing: ${err instanceof Error ? err.message : String(err)}`);
      await sleep(500);
    }
  }
}

/** Asks the leader of a random partition to hand over to another of its replicas. */
async function transferSomeLeadership(ferry: FerryClient, cluster: LocalCluster, topic: string, random: SeededRandom): Promise<boolean> {
  const md = await ferry.admin.metadata$([topic]).catch(() => undefined);
  const t = md?.topics[0];
  if (!t || t.partitions.length === 0) return false;
  const p = random.pick(t.partitions);
  const leader = (await ferry.admin.describeTopic(topic).catch(() => [])).find((d) => d.partition === p.partition)?.leaderId;
  const others = p.replicas.filter((r) => r !== leader);
  const address = leader === undefined ? undefined : cluster.addresses.get(leader);
  if (!address || others.length === 0) return false;
  const client = new (ferryGrpc().ferry.v1.ControllerService)(address, grpc.credentials.createInsecure());
  try {
    const res = await new Promise<TransferLeadershipResponse__Output | undefined>((resolve) => {
      client.TransferLeadership({ group: `${t.topicId}/${p.partition}`, targetNodeId: random.pick(others) }, { deadline: Date.now() + 1_000 },
        (err, r) => resolve(err ? undefined : r));
    });
    return res?.error?.code === 'ERROR_CODE_NONE';
  } finally {
    client.close();
  }
}

/** Every record of one partition as one node serves it, up to `upTo` (waits for it to catch up). */
async function readReplica(pool: ConnectionPool, address: string, topic: string, partition: number, upTo: number, from: number): Promise<Array<{ offset: number; value: string }>> {
  const deadline = Date.now() + 30_000;
  const out: Array<{ offset: number; value: string }> = [];
  let offset = from;
  while (offset < upTo) {
    if (Date.now() > deadline) throw new Error(`replica ${address} did not serve ${topic}/${partition} up to ${upTo} within 30 s (stuck at ${offset})`);
    const res = await unary<object, FetchResponse__Output>(pool.get(address), 'Fetch', {
      maxWaitMs: 200, partitions: [{ topic, partition, fetchOffset: offset, maxBytes: 1 << 20 }],
    }, 5_000).catch(() => undefined);
    const r = res?.results[0];
    if (!r || r.error?.code !== 'ERROR_CODE_NONE' || r.records.length === 0) {
      await sleep(100);
      continue;
    }
    out.push(...dataRecordsOf(r.records, offset));
    offset = offsetAfterBatches(r.records, offset);
  }
  return out;
}

export async function runChaos(o: ChaosOptions): Promise<{ valid: boolean; summary: Record<string, unknown> }> {
  // Before anything is created: a missing nft must not leave a data directory behind.
  const nftKinds = [...new Set(o.nemesis.filter((k) => nftFaultKinds.includes(k)))];
  if (nftKinds.length > 0) requireNft(nftKinds);
  const dataRoot = mkdtempSync(path.join(os.tmpdir(), 'ferry-chaos-'));
  const history: HistoryEvent[] = [];
  const random = new SeededRandom(o.seed);
  const ids = Array.from({ length: o.nodes }, (_, i) => i + 1);
  // A node that exits by itself (a fail-fast invariant, a crash) breaks the run whatever the
  // history says: the nemesis only ever SIGKILLs, and the final stop comes after the check.
  const crashes: string[] = [];
  let checking = true;
  const network = o.nemesis.some((k) => networkFaultKinds.includes(k)) ? NetnsNetwork.create(ids) : undefined;
  let cluster: LocalCluster;
  try {
    cluster = await LocalCluster.start({
      nodes: o.nodes, dataRoot, network,
      env: { FERRY_LOG_LEVEL: 'warn', FERRY_BROKER_SESSION_MS: '3000', ...(o.retention ? { FERRY_RETENTION_CHECK_MS: '500' } : {}), ...o.nodeEnv },
      onExit: (id, code, signal) => {
        if (checking && signal !== 'SIGKILL') crashes.push(`node ${id} exited by itself (${signal ?? `code ${code}`}); see ${path.join(dataRoot, `node-${id}.log`)}`);
      },
    });
  } catch (err) {
    network?.teardown();
    throw err;
  }
  const ferry = createClient({ bootstrap: cluster.bootstrap(), requestTimeoutMs: 3_000 });
  const pool = new ConnectionPool();
  const topic = 'chaos';
  let keepData = false;
  abortRun = async () => {
    await cluster.stop();
    network?.teardown();
  };
  try {
    await cluster.waitReady();
    await ferry.admin.createTopic(topic, {
      partitions: o.partitions, replicationFactor: Math.min(3, o.nodes),
      configs: o.retention ? { 'segment.bytes': '65536', 'retention.bytes': '65536' } : {},
    });
    o.progress(`cluster of ${o.nodes} up; topic ${topic} with ${o.partitions} partitions; ${o.producers} producers (${o.producerMode ?? 'idempotent'}); seed ${o.seed}`);
    const mode = o.producerMode ?? 'idempotent';
    const workload = new ProduceWorkload({ bootstrap: cluster.bootstrap(), topic, partitions: o.partitions, producers: o.producers, requestTimeoutMs: 2_000,
      mode, record: (e) => history.push(e) });
    workload.start();
    const readers = new ChaosReaders({ addresses: cluster.addresses, topic, partitions: o.partitions, random: new SeededRandom(o.seed + 1),
      record: (e) => history.push(e) });
    readers.start();
    const pollers = new ChaosPollers({ bootstrap: cluster.bootstrap(), topic, partitions: o.partitions, record: (e) => history.push(e) });
    pollers.start();
    const groupMembers = o.groupMembers ?? 3;
    const group = groupMembers > 0
      ? new ChaosGroupMembers({ bootstrap: cluster.bootstrap(), topic, group: groupId, members: groupMembers, churnMs: groupChurnMs, record: (e) => history.push(e) })
      : undefined;
    group?.start();
    const faults = await runNemesis({
      cluster, network, kinds: o.nemesis, random, untilMs: Date.now() + o.seconds * 1000, record: (e) => history.push(e), progress: o.progress,
      leaderOf: async () => (await ferry.admin.describeTopic(topic).catch(() => []))[random.int(0, o.partitions - 1)]?.leaderId,
      transferLeadership: () => transferSomeLeadership(ferry, cluster, topic, random),
      controllerLeader: async () => {
        const id = (await ferry.admin.metadata$([]).catch(() => undefined))?.controllerId;
        return id !== undefined && id > 0 ? id : undefined;
      },
      reassign: async () => {
        const partition = random.int(0, o.partitions - 1);
        const target = random.shuffle(ids).slice(0, Math.min(3, o.nodes));
        const asked = `move ${topic}/${partition} to replicas ${target.join(',')}`;
        return ferry.admin.reassignPartitions(topic, [{ partition, replicas: target }]).then(() => `${asked}: accepted`, (err: Error) => `${asked}: refused (${err.message})`);
      },
    });
    await workload.stop();
    await readers.stop();
    await pollers.stop();
    await group?.stop();
    o.progress(`healing: every node running, reading ${o.partitions} partitions from every replica`);
    for (const id of cluster.ids) if (!cluster.isRunning(id)) cluster.startNode(id);
    for (const id of cluster.ids) cluster.resume(id);
    if (network) {
      for (const id of cluster.ids) network.heal(id);
      network.healCuts();
    }
    await cluster.waitReady();
    // Moves still under way would have the final read ask a replica that is still catching up.
    let md = await ferry.admin.metadata$([topic]);
    for (let i = 0; i < 120 && md.topics[0]!.partitions.some((p) => p.targetReplicas.length > 0); i += 1) {
      await sleep(500);
      md = await ferry.admin.metadata$([topic]);
    }
    const moving = md.topics[0]!.partitions.filter((p) => p.targetReplicas.length > 0).map((p) => p.partition);
    if (moving.length > 0) throw new Error(`partitions ${moving.join(', ')} still moving 60 s after healing`);
    // A new leader's high watermark trails until its first commit: read up to one that holds
    // still across two looks half a second apart.
    let settled = await ferry.admin.describeTopic(topic);
    for (let i = 0; i < 40; i += 1) {
      await sleep(500);
      const again = await ferry.admin.describeTopic(topic);
      const same = again.every((d, k) => d.leaderId > 0 && d.highWatermark === settled[k]?.highWatermark);
      settled = again;
      if (same) break;
    }
    const logStarts = new Map<number, number>();
    for (const p of md.topics[0]!.partitions) {
      const d = settled.find((x) => x.partition === p.partition);
      const hw = d?.highWatermark ?? 0;
      // Every replica serves from the same logical log start (the replicated retention decision).
      const start = d?.logStartOffset ?? 0;
      logStarts.set(p.partition, start);
      for (const nodeId of p.replicas) {
        const records = await readReplica(pool, cluster.addresses.get(nodeId)!, topic, p.partition, hw, start);
        const e: ReadEvent = { kind: 'read', reader: `node${nodeId}`, partition: p.partition, timeMs: Date.now(), records, final: true };
        history.push(e);
      }
    }
    if (group) history.push({ kind: 'group-offsets', group: groupId, timeMs: Date.now(), offsets: await committedOffsets(ferry, topic) });
    if (o.historyFile) writeFileSync(o.historyFile, history.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const result = checkHistory(history, { logStarts, duplicatesAreFatal: mode === 'idempotent' });
    checking = false;
    for (const a of result.anomalies.slice(0, 20)) o.progress(`ANOMALY ${a.kind} (partition ${a.partition}): ${a.detail}`);
    for (const c of crashes) o.progress(`ANOMALY node-exit: ${c}`);
    const av = result.availability;
    // Poll events (one per partition of a poll that returned records) of the group's members.
    const groupPolls = history.filter((e) => e.kind === 'poll' && e.group !== undefined).length;
    o.progress(`history: ${result.stats.attempts} produces (${result.stats.acked} acked, ${result.stats.failed} failed, ${result.stats.unknown} unknown), ` +
      `${readers.reads} replica reads, ${result.stats.polls} consumer polls; anomalies: ` +
      (result.anomalies.length === 0 ? 'none' : Object.entries(result.counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')));
    if (group) {
      o.progress(`group ${groupId}: ${groupMembers} members (one replaced every ${groupChurnMs / 1000} s), ${groupPolls} polls, ` +
        `${result.stats.commits} acknowledged commits, ${result.stats.rebalances} rebalance markers`);
    }
    o.progress(`availability: longest time without an acknowledged produce per partition ${JSON.stringify(av.longestNoAckMs)} ms; ` +
      `after ${av.leaderKills} leader kill(s), every partition acknowledged again in median ${av.leaderKillToAckMedianMs ?? '-'} ms, max ${av.leaderKillToAckMaxMs ?? '-'} ms`);
    const valid = result.valid && crashes.length === 0;
    keepData = !valid;
    return {
      valid,
      summary: {
        valid, seed: o.seed, seconds: o.seconds, producerMode: mode, faults, readsDuringRun: readers.reads, retries: workload.retries, nodeExits: crashes.length,
        groupPolls,
        logStarts: Object.fromEntries(logStarts), ...result.stats, ...result.counts,
        longestNoAckMs: Math.max(0, ...Object.values(result.availability.longestNoAckMs)),
        leaderKills: result.availability.leaderKills, leaderKillToAckMedianMs: result.availability.leaderKillToAckMedianMs,
        leaderKillToAckMaxMs: result.availability.leaderKillToAckMaxMs,
      },
    };
  } catch (err) {
    keepData = true;
    throw err;
  } finally {
    checking = false;
    pool.close();
    ferry.close();
    await cluster.stop();
    network?.teardown();
    if (keepData) o.progress(`kept data and node logs for a post-mortem: ${dataRoot}`);
    else rmSync(dataRoot, { recursive: true, force: true });
  }
}

function parseKinds(text: string): FaultKind[] {
  if (text.trim() === 'all') return [...faultKinds];
  const kinds = text.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = kinds.filter((k) => !(faultKinds as readonly string[]).includes(k));
  if (kinds.length === 0 || bad.length > 0) throw new Error(`--nemesis takes "all" or some of ${faultKinds.join(',')}; got "${text}"`);
  return kinds as FaultKind[];
}

function parseMode(text: string): ProducerMode {
  if (!(producerModes as readonly string[]).includes(text)) throw new Error(`--producer takes ${producerModes.join(', ')}; got "${text}"`);
  return text as ProducerMode;
}

/** Set while a run is under way: Ctrl-C stops its nodes and tears its network down first. */
let abortRun: (() => Promise<void>) | undefined;

async function main(): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping the chaos run's nodes and network...\n`);
      void (abortRun?.() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  const { values } = parseArgs({
    options: {
      time: { type: 'string', default: '30' }, nemesis: { type: 'string', default: 'kill,pause,kill-leader' },
      seed: { type: 'string', default: String(Date.now() % 100_000) }, nodes: { type: 'string', default: '3' },
      partitions: { type: 'string', default: '3' }, producers: { type: 'string', default: '4' }, history: { type: 'string' },
      'group-members': { type: 'string', default: '3' },
      fsync: { type: 'string' }, retention: { type: 'boolean', default: false }, producer: { type: 'string', default: 'idempotent' },
      'lose-replies': { type: 'string', default: '0' },
    },
  });
  const int = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}-${max}, got "${v}"`);
    return n;
  };
  const options: ChaosOptions = {
    seconds: int('time', values.time, 5, 3_600), nemesis: parseKinds(values.nemesis!), seed: int('seed', values.seed, 0, 2 ** 31),
    nodes: int('nodes', values.nodes, 3, 5), partitions: int('partitions', values.partitions, 1, 64), producers: int('producers', values.producers, 1, 64),
    groupMembers: int('group-members', values['group-members'], 0, 16),
    historyFile: values.history, progress: (line) => process.stderr.write(`${line}\n`),
    nodeEnv: { ...(values.fsync ? { FERRY_FSYNC: values.fsync } : {}), FERRY_FAULT_LOSE_PRODUCE_REPLIES: String(int('lose-replies', values['lose-replies'], 0, 100)) },
    retention: values.retention, producerMode: parseMode(values.producer!),
  };
  const { valid, summary } = await runChaos(options);
  process.stdout.write(`verdict: ${valid ? 'OK — no promise broken' : 'FAILED — see the anomalies above'}\n${JSON.stringify(summary)}\n`);
  process.exit(valid ? 0 : 1);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  main().catch((err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
