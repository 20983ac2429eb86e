/**
 * Node configuration: flags > environment variables > config file (YAML or JSON) > defaults.
 * Every setting is declared once in `settings` so the three sources cannot drift apart, and
 * validation reports every problem at once, naming the source each bad value came from.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { groupStatePartitionsDefault, groupStatePartitionsMax } from '../controller/group-state-topic.js';
import { connectionInflightBytesMax } from './constants.js';

export type FsyncPolicy = 'always' | 'never';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface NodeConfig {
  /** This node's id, unique in the cluster. */
  readonly nodeId: number;
  /** Address the gRPC server binds ("host:port"); serves clients and peers. */
  readonly listenAddress: string;
  /** Address other nodes and clients dial to reach this node. */
  readonly advertisedAddress: string;
  /** Directory for segments, Raft hard state and metadata. */
  readonly dataDir: string;
  /** Rack or zone label used to spread replicas; empty when unknown. */
  readonly rack: string;
  /** Names the cluster; nodes refuse Raft traffic from another cluster id. */
  readonly clusterId: string;
  /** Every node of the cluster, this one included: node id → advertised address. */
  readonly peers: ReadonlyMap<number, string>;
  /** Nodes that vote in the controller quorum (default: the three lowest ids). */
  readonly controllerNodeIds: readonly number[];
  /** `always`: fsync before acknowledging (the default); `never`: rely on replication only. */
  readonly fsync: FsyncPolicy;
  /**
   * Whether partition logs hand large appends to the libuv threadpool (write-behind). Off by
   * default: measured on 2 shared cores it cost node CPU (see docs/log.md); worth trying where
   * cores are spare.
   */
  readonly writeBehind: boolean;
  /** Address of the Prometheus metrics HTTP endpoint, or null for none. */
  readonly metricsAddress: string | null;
  /** Raft tick interval in milliseconds. */
  readonly tickMs: number;
  /** A broker that does not heartbeat the controller for this long is fenced. */
  readonly brokerSessionTimeoutMs: number;
  /** How often the controller moves leadership back to preferred replicas; 0 = never. */
  readonly leaderBalanceIntervalMs: number;
  /** How often partition leaders check retention (retention.ms / retention.bytes); also the compaction check. */
  readonly retentionCheckIntervalMs: number;
  /** An idempotent producer id silent this long is forgotten by partitions (Kafka's producer.id.expiration.ms). */
  readonly producerIdExpirationMs: number;
  /** Produce bytes one client connection may have in flight; past it requests get THROTTLED. */
  readonly maxInflightProduceBytes: number;
  /**
   * Fault injection for tests: this percentage of produce answers is dropped *after* the append
   * (the client sees a broken call), as a lost network reply would. 0 in production.
   */
  readonly faultLoseProduceRepliesPercent: number;
  /** I/O budget of the log cleaner (compaction), bytes per second for the whole node; null = unlimited. */
  readonly cleanerBytesPerSec: number | null;
  /** Partitions of the internal group-state topic (fixed once the topic exists). */
  readonly groupStatePartitions: number;
  /** The controller snapshots its state and compacts its log every this many applied entries. */
  readonly controllerSnapshotEntries: number;
  /** A broker fenced this long has its replicas moved to other brokers; 0 = never. */
  readonly reassignAfterMs: number;
  readonly logLevel: LogLevel;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Source = { kind: 'flag' | 'env' | 'file' | 'default'; name: string };
type Parsed<T> = { ok: true; value: T } | { ok: false; why: string };

interface Setting<K extends keyof RawConfig> {
  key: K;
  flag: string;
  env: string;
  help: string;
  parse: (raw: unknown) => Parsed<RawConfig[K]>;
}

interface RawConfig {
  nodeId: number;
  clusterId: string;
  rack: string;
  listenAddress: string;
  advertisedAddress: string | undefined;
  dataDir: string;
  peers: Map<number, string>;
  controllerNodeIds: number[] | undefined;
  fsync: FsyncPolicy;
  writeBehind: boolean;
  metricsAddress: string | null;
  tickMs: number;
  brokerSessionTimeoutMs: number;
  leaderBalanceIntervalMs: number;
  retentionCheckIntervalMs: number;
  producerIdExpirationMs: number;
  maxInflightProduceBytes: number;
  faultLoseProduceRepliesPercent: number;
  cleanerBytesPerSec: number;
  groupStatePartitions: number;
  controllerSnapshotEntries: number;
  reassignAfterMs: number;
  logLevel: LogLevel;
}

const addressPattern = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function parseAddress(raw: unknown): Parsed<string> {
  const text = String(raw).trim();
  const m = addressPattern.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) return { ok: false, why: `must be host:port with a port in 1-65535, got "${text}"` };
  return { ok: true, value: text };
}

function parseInteger(min: number, max: number) {
  return (raw: unknown): Parsed<number> => {
    const text = String(raw).trim();
    const n = Number(text);
    if (text === '' || !Number.isInteger(n) || n < min || n > max) {
      return { ok: false, why: `must be an integer in ${min}-${max}, got "${text}"` };
    }
    return { ok: true, value: n };
  };
}

function parseOneOf<T extends string>(choices: readonly T[]) {
  return (raw: unknown): Parsed<T> => {
    const text = String(raw).trim();
    return (choices as readonly string[]).includes(text)
      ? { ok: true, value: text as T }
      : { ok: false, why: `must be one of ${choices.join(', ')}, got "${text}"` };
  };
}

/** "1=127.0.0.1:9091,2=127.0.0.1:9092" (or an object/array from a config file). */
function parsePeers(raw: unknown): Parsed<Map<number, string>> {
  const entries: Array<[string, string]> = typeof raw === 'string'
    ? raw.split(',').filter((s) => s.trim() !== '').map((part) => {
      const eq = part.indexOf('=');
      return eq < 0 ? [part.trim(), ''] : [part.slice(0, eq).trim(), part.slice(eq + 1).trim()];
    })
    : raw !== null && typeof raw === 'object'
      ? Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, String(v)])
      : [];
  if (entries.length === 0) return { ok: false, why: 'must list the cluster as id=host:port,id=host:port,...' };
  const peers = new Map<number, string>();
  for (const [idText, address] of entries) {
    const id = parseInteger(1, 1_000_000)(idText);
    if (!id.ok) return { ok: false, why: `peer id ${id.why}` };
    const addr = parseAddress(address);
    if (!addr.ok) return { ok: false, why: `peer ${id.value} address ${addr.why}` };
    if (peers.has(id.value)) return { ok: false, why: `peer id ${id.value} appears twice` };
    peers.set(id.value, addr.value);
  }
  return { ok: true, value: peers };
}

function parseIdList(raw: unknown): Parsed<number[]> {
  const parts = Array.isArray(raw) ? raw.map(String) : String(raw).split(',').filter((s) => s.trim() !== '');
  const ids: number[] = [];
  for (const part of parts) {
    const id = parseInteger(1, 1_000_000)(part);
    if (!id.ok) return { ok: false, why: `node id ${id.why}` };
    ids.push(id.value);
  }
  return ids.length > 0 ? { ok: true, value: ids } : { ok: false, why: 'must name at least one node id' };
}

const settings: { [K in keyof RawConfig]: Setting<K> } = {
  nodeId: { key: 'nodeId', flag: 'node-id', env: 'FERRY_NODE_ID', help: 'this node\'s id (>= 1)', parse: parseInteger(1, 1_000_000) },
  clusterId: {
    key: 'clusterId', flag: 'cluster-id', env: 'FERRY_CLUSTER_ID', help: 'cluster name (default ferry)',
    parse: (raw) => (/^[A-Za-z0-9._-]{1,64}$/.test(String(raw).trim())
      ? { ok: true, value: String(raw).trim() }
      : { ok: false, why: `must be 1-64 of [A-Za-z0-9._-], got "${String(raw)}"` }),
  },
  rack: {
    key: 'rack', flag: 'rack', env: 'FERRY_RACK', help: 'rack/zone label for replica placement',
    parse: (raw) => (/^[A-Za-z0-9._-]{0,64}$/.test(String(raw).trim())
      ? { ok: true, value: String(raw).trim() }
      : { ok: false, why: `must be 0-64 of [A-Za-z0-9._-], got "${String(raw)}"` }),
  },
  listenAddress: { key: 'listenAddress', flag: 'listen', env: 'FERRY_LISTEN', help: 'gRPC bind address host:port', parse: parseAddress },
  advertisedAddress: {
    key: 'advertisedAddress', flag: 'advertised', env: 'FERRY_ADVERTISED', help: 'address others dial (default: listen)', parse: parseAddress,
  },
  dataDir: {
    key: 'dataDir', flag: 'data-dir', env: 'FERRY_DATA_DIR', help: 'data directory',
    parse: (raw) => (String(raw).trim() === '' ? { ok: false, why: 'must be a directory path' } : { ok: true, value: String(raw).trim() }),
  },
  peers: { key: 'peers', flag: 'peers', env: 'FERRY_PEERS', help: 'cluster: id=host:port,...', parse: parsePeers },
  controllerNodeIds: {
    key: 'controllerNodeIds', flag: 'controller-nodes', env: 'FERRY_CONTROLLER_NODES', help: 'controller voter ids (default: 3 lowest)', parse: parseIdList,
  },
  fsync: { key: 'fsync', flag: 'fsync', env: 'FERRY_FSYNC', help: 'always | never', parse: parseOneOf(['always', 'never'] as const) },
  writeBehind: {
    key: 'writeBehind', flag: 'write-behind', env: 'FERRY_WRITE_BEHIND', help: 'on | off: large log appends on the threadpool',
    parse: (raw) => {
      const r = parseOneOf(['on', 'off'] as const)(raw);
      return r.ok ? { ok: true, value: r.value === 'on' } : r;
    },
  },
  metricsAddress: {
    key: 'metricsAddress', flag: 'metrics', env: 'FERRY_METRICS', help: 'Prometheus host:port, or "off"',
    parse: (raw) => (String(raw).trim() === 'off' ? { ok: true, value: null } : parseAddress(raw)),
  },
  tickMs: { key: 'tickMs', flag: 'tick-ms', env: 'FERRY_TICK_MS', help: 'Raft tick in ms', parse: parseInteger(1, 10_000) },
  brokerSessionTimeoutMs: {
    key: 'brokerSessionTimeoutMs', flag: 'broker-session-ms', env: 'FERRY_BROKER_SESSION_MS', help: 'fence a broker silent this long (ms)',
    parse: parseInteger(500, 600_000),
  },
  retentionCheckIntervalMs: {
    key: 'retentionCheckIntervalMs', flag: 'retention-check-ms', env: 'FERRY_RETENTION_CHECK_MS', help: 'retention check period (ms)',
    parse: parseInteger(100, 3_600_000),
  },
  producerIdExpirationMs: {
    key: 'producerIdExpirationMs', flag: 'producer-id-expiration-ms', env: 'FERRY_PRODUCER_ID_EXPIRATION_MS',
    help: 'forget idempotent producers silent this long (ms)', parse: parseInteger(1_000, 365 * 86_400_000),
  },
  maxInflightProduceBytes: {
    key: 'maxInflightProduceBytes', flag: 'max-inflight-produce-bytes', env: 'FERRY_MAX_INFLIGHT_PRODUCE_BYTES',
    help: 'produce bytes one client connection may have in flight before THROTTLED', parse: parseInteger(1024 * 1024, 1024 * 1024 * 1024),
  },
  faultLoseProduceRepliesPercent: {
    key: 'faultLoseProduceRepliesPercent', flag: 'fault-lose-produce-replies', env: 'FERRY_FAULT_LOSE_PRODUCE_REPLIES',
    help: 'tests only: % of produce answers dropped after the append', parse: parseInteger(0, 100),
  },
  cleanerBytesPerSec: {
    key: 'cleanerBytesPerSec', flag: 'cleaner-bytes-per-sec', env: 'FERRY_CLEANER_BYTES_PER_SEC',
    help: 'log cleaner I/O limit for the node (bytes/s, 0 = unlimited)', parse: parseInteger(0, 2 ** 40),
  },
  leaderBalanceIntervalMs: {
    key: 'leaderBalanceIntervalMs', flag: 'leader-balance-ms', env: 'FERRY_LEADER_BALANCE_MS', help: 'preferred-leader balancing period (ms, 0 = off)',
    parse: parseInteger(0, 3_600_000),
  },
  groupStatePartitions: {
    key: 'groupStatePartitions', flag: 'group-state-partitions', env: 'FERRY_GROUP_STATE_PARTITIONS',
    help: 'partitions of the internal consumer-group state topic (used when the controller creates it)', parse: parseInteger(1, groupStatePartitionsMax),
  },
  controllerSnapshotEntries: {
    key: 'controllerSnapshotEntries', flag: 'controller-snapshot-entries', env: 'FERRY_CONTROLLER_SNAPSHOT_ENTRIES',
    help: 'controller snapshot (and log compaction) every N metadata entries', parse: parseInteger(10, 10_000_000),
  },
  reassignAfterMs: {
    key: 'reassignAfterMs', flag: 'reassign-after-ms', env: 'FERRY_REASSIGN_AFTER_MS',
    help: 'move the replicas of a broker fenced this long to others (ms, 0 = never)',
    parse: (raw) => {
      const n = parseInteger(0, 30 * 86_400_000)(raw);
      // Below a second a short pause would already move replicas (each move copies a whole log).
      return n.ok && n.value > 0 && n.value < 1_000 ? { ok: false, why: `must be 0 (never) or at least 1000, got ${n.value}` } : n;
    },
  },
  logLevel: {
    key: 'logLevel', flag: 'log-level', env: 'FERRY_LOG_LEVEL', help: 'fatal|error|warn|info|debug|trace',
    parse: parseOneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const),
  },
};

const defaults: Partial<Record<keyof RawConfig, unknown>> = {
  clusterId: 'ferry', rack: '', fsync: 'always', writeBehind: 'off', metricsAddress: 'off', tickMs: 20, logLevel: 'info',
  brokerSessionTimeoutMs: 6_000, leaderBalanceIntervalMs: 10_000, retentionCheckIntervalMs: 30_000,
  producerIdExpirationMs: 86_400_000, faultLoseProduceRepliesPercent: 0,
  maxInflightProduceBytes: connectionInflightBytesMax,
  // Compaction rewrites whole segments in the background; capped so it cannot take the disk from
  // produce. 16 MiB/s cleans 1 GiB of sealed log in about three minutes (read twice, written once).
  cleanerBytesPerSec: 16 * 1024 * 1024,
  groupStatePartitions: groupStatePartitionsDefault,
  // The image is the whole metadata: 10,000 entries between snapshots keeps the replay at start
  // short (entries are small) without re-encoding the image often.
  controllerSnapshotEntries: 10_000,
  // Long enough that a restart or a short outage never starts copying whole logs (Kafka's
  // operators wait similarly before moving replicas off a failed broker).
  reassignAfterMs: 300_000,
};

/** The flag table for `--help`. */
export function configHelp(): string {
  return Object.values(settings)
    .map((s) => `  --${s.flag.padEnd(18)} ${s.env.padEnd(24)} ${s.help}`)
    .concat(`  --${'config'.padEnd(18)} ${'FERRY_CONFIG'.padEnd(24)} YAML or JSON file with the same keys (camelCase)`)
    .join('\n');
}

function readConfigFile(path: string, problems: string[]): Record<string, unknown> {
  try {
    const parsed: unknown = parseYaml(readFileSync(path, 'utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      problems.push(`config file ${path}: must hold a mapping of settings`);
      return {};
    }
    const known = new Set<string>(Object.keys(settings));
    for (const key of Object.keys(parsed)) {
      if (!known.has(key)) problems.push(`config file ${path}: unknown setting "${key}" (known: ${[...known].join(', ')})`);
    }
    return parsed as Record<string, unknown>;
  } catch (err) {
    problems.push(`config file ${path}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    return {};
  }
}

function describeSource(s: Source): string {
  return s.kind === 'default' ? 'default' : s.kind === 'flag' ? `--${s.name}` : s.kind === 'env' ? `env ${s.name}` : `config file key ${s.name}`;
}

/** Resolves the configuration or throws ConfigError listing every problem. */
export function loadNodeConfig(argv: readonly string[], env: NodeJS.ProcessEnv): NodeConfig {
  const options = Object.fromEntries([
    ...Object.values(settings).map((s) => [s.flag, { type: 'string' as const }]),
    ['config', { type: 'string' as const }],
  ]);
  const problems: string[] = [];
  let flags: Record<string, string | boolean | undefined> = {};
  try {
    flags = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as typeof flags;
  } catch (err) {
    throw new ConfigError([err instanceof Error ? err.message : String(err)]);
  }
  const configPath = (flags.config as string | undefined) ?? env.FERRY_CONFIG;
  const file = configPath ? readConfigFile(configPath, problems) : {};

  const raw: Partial<RawConfig> = {};
  for (const s of Object.values(settings) as Array<Setting<keyof RawConfig>>) {
    const picked: [unknown, Source] | undefined =
      flags[s.flag] !== undefined ? [flags[s.flag], { kind: 'flag', name: s.flag }]
        : env[s.env] !== undefined && env[s.env] !== '' ? [env[s.env], { kind: 'env', name: s.env }]
          : file[s.key] !== undefined ? [file[s.key], { kind: 'file', name: s.key }]
            : defaults[s.key] !== undefined ? [defaults[s.key], { kind: 'default', name: s.key }]
              : undefined;
    if (picked === undefined) continue;
    const parsed = s.parse(picked[0]);
    if (parsed.ok) (raw as Record<string, unknown>)[s.key] = parsed.value;
    else problems.push(`${s.key} (${describeSource(picked[1])}): ${parsed.why}`);
  }
  return finish(raw, problems);
}

function finish(raw: Partial<RawConfig>, problems: string[]): NodeConfig {
  for (const key of ['nodeId', 'listenAddress', 'dataDir', 'peers'] as const) {
    if (raw[key] === undefined && !problems.some((p) => p.startsWith(`${key} `))) {
      problems.push(`${key} is required: set --${settings[key].flag} or ${settings[key].env}`);
    }
  }
  if (raw.peers && raw.nodeId !== undefined && !raw.peers.has(raw.nodeId)) {
    problems.push(`peers must include this node (id ${raw.nodeId}); got ids ${[...raw.peers.keys()].join(', ')}`);
  }
  const sortedIds = raw.peers ? [...raw.peers.keys()].sort((a, b) => a - b) : [];
  const controllerNodeIds = raw.controllerNodeIds ?? sortedIds.slice(0, 3);
  for (const id of controllerNodeIds) {
    if (raw.peers && !raw.peers.has(id)) problems.push(`controllerNodeIds: node ${id} is not in peers`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const listenAddress = raw.listenAddress!;
  const advertisedAddress = raw.advertisedAddress ?? listenAddress;
  if (/^(0\.0\.0\.0|\[::\]):/.test(advertisedAddress)) {
    throw new ConfigError([`advertisedAddress: ${advertisedAddress} is a wildcard; set --advertised to an address others can dial`]);
  }
  return {
    nodeId: raw.nodeId!, clusterId: raw.clusterId!, rack: raw.rack ?? '', listenAddress, advertisedAddress, dataDir: raw.dataDir!, peers: raw.peers!,
    controllerNodeIds, fsync: raw.fsync!, writeBehind: raw.writeBehind!, metricsAddress: raw.metricsAddress ?? null, tickMs: raw.tickMs!, logLevel: raw.logLevel!,
    brokerSessionTimeoutMs: raw.brokerSessionTimeoutMs!, leaderBalanceIntervalMs: raw.leaderBalanceIntervalMs!,
    retentionCheckIntervalMs: raw.retentionCheckIntervalMs!, producerIdExpirationMs: raw.producerIdExpirationMs!,
    faultLoseProduceRepliesPercent: raw.faultLoseProduceRepliesPercent!, maxInflightProduceBytes: raw.maxInflightProduceBytes!,
    cleanerBytesPerSec: raw.cleanerBytesPerSec === 0 ? null : raw.cleanerBytesPerSec!,
    groupStatePartitions: raw.groupStatePartitions!, controllerSnapshotEntries: raw.controllerSnapshotEntries!,
    reassignAfterMs: raw.reassignAfterMs!,
  };
}
