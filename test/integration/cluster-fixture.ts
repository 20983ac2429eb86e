/** A real local cluster per test file: temp data, free ports, stopped by pid afterwards. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalCluster } from '../../chaos/local-cluster.js';
import { createClient, type FerryClient } from '../../client/index.js';

export interface Fixture {
  cluster: LocalCluster;
  client: FerryClient;
  dataRoot: string;
  stop(): Promise<void>;
}

export async function startCluster(nodes = 3, env: Record<string, string> = {}): Promise<Fixture> {
  const dataRoot = mkdtempSync(path.join(os.tmpdir(), 'ferry-it-'));
  const cluster = await LocalCluster.start({ nodes, dataRoot, env });
  try {
    await cluster.waitReady(60_000);
  } catch (err) {
    const logs = cluster.ids.map((id) => `--- node ${id}\n${tail(cluster.logFile(id))}`).join('\n');
    await cluster.stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  const client = createClient({ bootstrap: cluster.bootstrap(), requestTimeoutMs: 5_000 });
  return {
    cluster, client, dataRoot,
    async stop() {
      client.close();
      await cluster.stop();
      // FERRY_KEEP_TEST_DATA=1 keeps data and node logs for a post-mortem.
      if (process.env.FERRY_KEEP_TEST_DATA) process.stderr.write(`kept test data in ${dataRoot}\n`);
      else rmSync(dataRoot, { recursive: true, force: true });
    },
  };
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
      last = undefined; // an answer that is not yet what we wait for: older errors are stale
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const ferryBin = path.resolve(import.meta.dirname, '../../bin/ferry.mjs');

/** Runs the `ferry` CLI against the cluster and collects its exit code and output. */
/**
 * Runs the `ferry` CLI against the cluster. `closeStdoutAfterBytes`: stop reading and close the
 * pipe once that much has arrived, as `| head` does.
 */
export function runCli(
  cluster: LocalCluster, args: readonly string[], stdin = '', options: { closeStdoutAfterBytes?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ferryBin, '--bootstrap', cluster.bootstrap().join(','), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (options.closeStdoutAfterBytes !== undefined && stdout.length >= options.closeStdoutAfterBytes) child.stdout.destroy();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
