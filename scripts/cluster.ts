/**
 * `npm run cluster`: a 3-node Ferry cluster on this machine, the same thing docker-compose.yml
 * runs: one process per node on loopback ports 9091-9093, data under ./data/node-N, logs in
 * ./data/node-N.log. Waits until the controller has a leader, prints how to produce and consume,
 * and on Ctrl-C (or SIGTERM) stops every node it started, by pid, and waits for them to exit.
 *   npm run cluster -- [--nodes 3] [--base-port 9091] [--data ./data] [--fresh]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster } from '../chaos/local-cluster.js';

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

let stopping = false;
const cluster = await LocalCluster.start({
  nodes: nodeCount, basePort, dataRoot, fresh: values.fresh,
  onExit: (id, code, signal) => {
    if (!stopping) process.stderr.write(`node ${id} exited (${signal ?? `code ${code}`}); see ${dataRoot}/node-${id}.log\n`);
  },
});
const addresses = cluster.bootstrap();

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write('\nstopping the cluster...\n');
  await cluster.stop();
  process.stderr.write('cluster stopped\n');
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

process.stderr.write(`starting ${nodeCount} Ferry node(s) on ${addresses.join(', ')} (data: ${dataRoot})...\n`);
cluster.waitReady().then(() => {
  process.stdout.write(`
Ferry is running: ${nodeCount} node(s) on ${addresses.join(', ')}
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
