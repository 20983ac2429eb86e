/**
 * Docker cannot run here, so this test keeps docker-compose.yml honest by doing what it
 * describes: each service's command and environment become a local process, service hostnames
 * resolve to 127.0.0.1 and published ports are remapped to free loopback ports (as Docker's DNS
 * and port publishing would), volumes become temp directories. Then a client on the "host"
 * bootstraps from the published ports, produces and consumes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, openSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../chaos/local-cluster.js';
import { createClient } from '../../client/index.js';
import { tail, until } from './cluster-fixture.js';

const root = path.resolve(import.meta.dirname, '../..');

interface Service {
  command: string[];
  environment: Record<string, string>;
  ports: string[];
  volumes: string[];
  hostname: string;
}

const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const children: ChildProcess[] = [];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-compose-'));

afterAll(async () => {
  await Promise.all(children.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
    setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
  })));
  rmSync(tmp, { recursive: true, force: true });
});

describe('docker-compose.yml, run as local processes', () => {
  const services = Object.entries(compose.services);

  it('describes a 3-node cluster whose image holds everything the command needs', () => {
    expect(services).toHaveLength(3);
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    for (const folder of ['proto', 'log', 'raft', 'controller', 'node']) expect(dockerfile).toMatch(new RegExp(`^COPY ${folder} `, 'm'));
    for (const [, s] of services) {
      expect(s.command.slice(0, 4)).toEqual(['node', '--import', 'tsx', 'node/main.ts']);
      expect(s.environment.FERRY_DATA_DIR).toBe('/data');
      expect(s.volumes[0]).toMatch(/:\/data$/);
    }
  });

  it('starts, elects, tells clients the advertised addresses, and serves produce and consume', async () => {
    // Published host port → free loopback port; container port (same number here) likewise.
    const portMap = new Map<string, number>();
    for (const [, s] of services) {
      for (const mapping of s.ports) {
        const [host, container] = mapping.split(':');
        const local = await freePort();
        portMap.set(host!, local);
        portMap.set(container!, local);
      }
    }
    const hostnames = services.map(([name, s]) => s.hostname ?? name);
    const localize = (value: string): string => value.replace(/([A-Za-z0-9.-]+):(\d+)/g, (all, host: string, port: string) => {
      if (!portMap.has(port)) return all;
      // localhost stays localhost: advertised addresses then differ (as strings) from the peer
      // addresses nodes dial, so seeing them in Metadata proves clients get the registered ones.
      if (host === 'localhost') return `localhost:${portMap.get(port)}`;
      if (host === '0.0.0.0' || hostnames.includes(host)) return `127.0.0.1:${portMap.get(port)}`;
      return all;
    });
    for (const [name, s] of services) {
      const dataDir = path.join(tmp, name);
      const env = Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, v === '/data' ? dataDir : localize(String(v))]));
      const [cmd, ...args] = s.command;
      const out = openSync(path.join(tmp, `${name}.log`), 'a');
      children.push(spawn(cmd === 'node' ? process.execPath : cmd!, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', out, out] }));
      closeSync(out);
    }
    const published = services.map(([, s]) => `localhost:${portMap.get(s.ports[0]!.split(':')[0]!)}`);
    const client = createClient({ bootstrap: published, requestTimeoutMs: 3_000 });
    try {
      const md = await until('the compose cluster to register its brokers', async () => {
        const m = await client.metadata.refresh();
        return m.controllerId > 0 && m.brokers.every((b) => published.includes(b.address)) ? m : undefined;
      }, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${services.map(([n]) => `--- ${n}\n${tail(path.join(tmp, `${n}.log`))}`).join('\n')}`);
      });
      expect(md.brokers.map((b) => b.address).sort()).toEqual([...published].sort());

      await client.admin.createTopic('compose', { partitions: 3 });
      const producer = client.producer();
      const sent = await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send('compose', { key: `k${i % 5}`, value: `v${i}` })));
      expect(new Set(sent.map((m) => m.partition)).size).toBeGreaterThan(1);
      const got: string[] = [];
      const consumer = client.consumer({ topic: 'compose', from: 'earliest' });
      await until('all records back', async () => {
        for (const r of await consumer.poll(200)) got.push(r.value!.toString());
        return got.length >= 30 ? got : undefined;
      });
      expect(got.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `v${i}`).sort());
    } finally {
      client.close();
    }
  });
});
