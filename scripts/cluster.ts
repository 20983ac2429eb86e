/**
 * `npm run cluster`: a 3-node Ferry cluster on this machine, the same thing docker-compose.yml
 * runs: one process per node on loopback ports 9091-9093, data under ./data/node-N, logs in
 * ./data/node-N.log. Waits until the controller has a leader, prints how to produce and consume,
 * and on Ctrl-C (or SIGTERM) stops every node it started, by pid, and waits for them to exit.
 *   npm run cluster -- [--nodes 3] [--base-port 9091] [--data ./data] [--fresh]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '../client/index.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    'base-port': { type: 'string', default: '9091' },
    data: { type: 'string', default: './data' },
    fresh: { type: 'boolean', default: false },
  },
});
const nodeCount = Number(values.nodes);
const basePort = Number(values['base-port']);
if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 9) throw new Error(`--nodes must be 1-9, got ${values.nodes}`);
if (!Number.isInteger(basePort) || basePort < 1024 || basePort + nodeCount > 65535) throw new Error(`--base-port must leave room for ${nodeCount} ports`);
const dataRoot = path.resolve(values.data!);
if (values.fresh) rmSync(dataRoot, { recursive: true, force: true });
mkdirSync(dataRoot, { recursive: true });

const ids = Array.from({ length: nodeCount }, (_, i) => i + 1);
const addressOf = (id: number): string => `127.0.0.1:${basePort + id - 1}`;
const peers = ids.map((id) => `${id}=${addressOf(id)}`).join(',');
const repoRoot = path.resolve(import.meta.dirname, '..');

const children = new Map<number, ChildProcess>();
for (const id of ids) {
  const logFile = path.join(dataRoot, `node-${id}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'node/main.ts')], {
    cwd: repoRoot,
    env: { ...process.env, FERRY_NODE_ID: String(id), FERRY_LISTEN: addressOf(id), FERRY_DATA_DIR: path.join(dataRoot, `node-${id}`), FERRY_PEERS: peers },
    stdio: ['ignore', out, out],
  });
  children.set(id, child);
  child.on('exit', (code, signal) => {
    children.delete(id);
    if (!stopping) process.stderr.write(`node ${id} exited (${signal ?? `code ${code}`}); see ${logFile}\n`);
  });
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write('\nstopping the cluster...\n');
  for (const c of children.values()) c.kill('SIGTERM');
  const deadline = Date.now() + 10_000;
  while (children.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const c of children.values()) c.kill('SIGKILL');
  process.stderr.write('cluster stopped\n');
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

async function waitReady(): Promise<void> {
  const ferry = createClient({ bootstrap: ids.map(addressOf), requestTimeoutMs: 2_000 });
  const deadline = Date.now() + 60_000;
  try {
    while (Date.now() < deadline && !stopping) {
      const md = await ferry.metadata.refresh().catch(() => undefined);
      if (md && md.controllerId > 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the cluster did not elect a controller within 60 s; see the node logs under ' + dataRoot);
  } finally {
    ferry.close();
  }
}

process.stderr.write(`starting ${nodeCount} Ferry node(s) on ${ids.map(addressOf).join(', ')} (data: ${dataRoot})...\n`);
waitReady().then(() => {
  process.stdout.write(`
Ferry is running: ${nodeCount} node(s) on ${ids.map(addressOf).join(', ')}
Logs: ${dataRoot}/node-N.log   Stop: Ctrl-C

In another terminal:
  npx ferry topic create orders --partitions 3
  echo "hello ferry" | npx ferry produce orders
  npx ferry produce orders --count 100000 --size 1024
  npx ferry consume orders --from earliest
  npx ferry cluster status
`);
}, (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  void stop();
});
