/**
 * Ferry nodes as real processes on this machine: start, kill -9, pause (SIGSTOP/SIGCONT), stop
 * gracefully, restart. Used by `npm run cluster`, the integration tests and the chaos harness.
 * Every process it starts is tracked by pid and stopped by stop(), which callers run even on
 * failure (tests in afterEach/afterAll); nothing is ever left behind by name-matching.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '../client/index.js';
import type { NetnsNetwork } from './netns.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface LocalClusterOptions {
  /** Number of nodes (ids 1..n). */
  readonly nodes: number;
  /** First port (node i listens on basePort + i - 1); 0 picks free ports. */
  readonly basePort?: number;
  /** Data directory root: node i uses <dataRoot>/node-i and logs to <dataRoot>/node-i.log. */
  readonly dataRoot: string;
  /** Remove dataRoot first. */
  readonly fresh?: boolean;
  /** Extra FERRY_* settings for every node (e.g. FERRY_FSYNC). */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra flags for every node's `node` process (e.g. --cpu-prof --cpu-prof-dir=DIR). */
  readonly nodeArgs?: readonly string[];
  /** Run each node in its own network namespace of this network (for partitions); default loopback. */
  readonly network?: NetnsNetwork;
  /** Told when a node process exits, whatever the reason. */
  readonly onExit?: (id: number, code: number | null, signal: NodeJS.Signals | null) => void;
}

/** A free loopback TCP port (the kernel's choice; released before the node binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export class LocalCluster {
  private readonly children = new Map<number, ChildProcess>();
  private readonly exits = new Map<number, Promise<void>>();

  private constructor(readonly options: LocalClusterOptions, readonly addresses: ReadonlyMap<number, string>) {}

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 9) throw new Error(`nodes must be 1-9, got ${options.nodes}`);
    if (options.fresh) rmSync(options.dataRoot, { recursive: true, force: true });
    mkdirSync(options.dataRoot, { recursive: true });
    const addresses = new Map<number, string>();
    for (let id = 1; id <= options.nodes; id += 1) {
      if (options.network) {
        addresses.set(id, `${options.network.hostOf(id)}:9091`);
        continue;
      }
      const port = options.basePort ? options.basePort + id - 1 : await freePort();
      addresses.set(id, `127.0.0.1:${port}`);
    }
    const cluster = new LocalCluster(options, addresses);
    for (const id of addresses.keys()) cluster.startNode(id);
    return cluster;
  }

  get ids(): number[] {
    return [...this.addresses.keys()];
  }

  bootstrap(except: readonly number[] = []): string[] {
    return this.ids.filter((id) => !except.includes(id)).map((id) => this.addresses.get(id)!);
  }

  logFile(id: number): string {
    return path.join(this.options.dataRoot, `node-${id}.log`);
  }

  dataDir(id: number): string {
    return path.join(this.options.dataRoot, `node-${id}`);
  }

  pid(id: number): number | undefined {
    return this.children.get(id)?.pid;
  }

  isRunning(id: number): boolean {
    return this.children.has(id);
  }

  /** Starts (or restarts) node `id` with the cluster's settings. */
  startNode(id: number): void {
    if (this.children.has(id)) throw new Error(`node ${id} is already running (pid ${this.pid(id)})`);
    const peers = [...this.addresses].map(([i, a]) => `${i}=${a}`).join(',');
    const out = openSync(this.logFile(id), 'a');
    const nodeArgv = [...(this.options.nodeArgs ?? []), '--import', 'tsx', path.join(repoRoot, 'node/main.ts')];
    // `ip netns exec` execs the program in place, so the pid is the node's own.
    const [cmd, args] = this.options.network
      ? ['ip', ['netns', 'exec', this.options.network.namespaceOf(id), process.execPath, ...nodeArgv]]
      : [process.execPath, nodeArgv];
    const child = spawn(cmd, args, {
      cwd: repoRoot,
      env: {
        ...process.env, ...this.options.env,
        FERRY_NODE_ID: String(id), FERRY_LISTEN: this.addresses.get(id)!, FERRY_DATA_DIR: this.dataDir(id), FERRY_PEERS: peers,
      },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    // A spawn failure (missing binary, no permission for ip netns) arrives as 'error', then exit.
    child.on('error', (err) => process.stderr.write(`node ${id} could not start: ${err.message}\n`));
    this.children.set(id, child);
    this.exits.set(id, new Promise<void>((resolve) => child.once('exit', (code, signal) => {
      if (this.children.get(id) === child) this.children.delete(id);
      this.options.onExit?.(id, code, signal);
      resolve();
    })));
  }

  /** kill -9: no shutdown, no flush. */
  async kill(id: number): Promise<void> {
    const child = this.children.get(id);
    if (!child) return;
    child.kill('SIGKILL');
    await this.exits.get(id);
  }

  pause(id: number): void {
    this.children.get(id)?.kill('SIGSTOP');
  }

  resume(id: number): void {
    this.children.get(id)?.kill('SIGCONT');
  }

  /** SIGTERM (leadership handed away, logs flushed), then SIGKILL after `timeoutMs`. */
  async stopNode(id: number, timeoutMs = 10_000): Promise<void> {
    const child = this.children.get(id);
    if (!child) return;
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.exits.get(id);
    clearTimeout(timer);
  }

  /** Waits until every running node answers and the controller has a leader. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const ferry = createClient({ bootstrap: this.bootstrap(), requestTimeoutMs: 2_000 });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const running = this.ids.filter((id) => this.isRunning(id));
        const answers = await Promise.all(running.map((id) => ferry.admin.ping(this.addresses.get(id)!)));
        const md = answers.every((a) => a !== undefined) ? await ferry.metadata.refresh().catch(() => undefined) : undefined;
        if (md && md.controllerId > 0) return;
        if (Date.now() > deadline) {
          throw new Error(`cluster not ready within ${timeoutMs} ms (nodes answering: ${answers.map((a, i) => `${running[i]}:${a === undefined ? 'no' : 'yes'}`).join(' ')}); logs: ${this.options.dataRoot}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      ferry.close();
    }
  }

  /** Stops every node it started (gracefully, then by force). Safe to call more than once. */
  async stop(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.stopNode(id, 5_000)));
  }
}
