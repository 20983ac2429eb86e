import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, configHelp, loadNodeConfig } from '../../node/config.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const minimal = ['--node-id', '1', '--listen', '127.0.0.1:9091', '--data-dir', '/tmp/d1',
  '--peers', '1=127.0.0.1:9091,2=127.0.0.1:9092,3=127.0.0.1:9093'];

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('node config', () => {
  it('resolves flags with defaults', () => {
    const c = loadNodeConfig(minimal, {});
    expect(c).toMatchObject({
      nodeId: 1, listenAddress: '127.0.0.1:9091', advertisedAddress: '127.0.0.1:9091', dataDir: '/tmp/d1',
      controllerNodeIds: [1, 2, 3], fsync: 'always', writeBehind: false, metricsAddress: null, tickMs: 20, logLevel: 'info',
    });
    expect(loadNodeConfig([...minimal, '--write-behind', 'on'], {}).writeBehind).toBe(true);
    expect(problemsOf(() => loadNodeConfig(minimal, { FERRY_WRITE_BEHIND: 'yes' }))).toEqual([
      'writeBehind (env FERRY_WRITE_BEHIND): must be one of on, off, got "yes"',
    ]);
    expect([...c.peers.entries()]).toEqual([[1, '127.0.0.1:9091'], [2, '127.0.0.1:9092'], [3, '127.0.0.1:9093']]);
  });

  it('takes flags over env over file', () => {
    const file = path.join(tmp, 'ferry.yaml');
    writeFileSync(file, 'nodeId: 2\nlistenAddress: 127.0.0.1:9092\ndataDir: /from/file\ntickMs: 50\nfsync: never\n' +
      'peers:\n  "1": 127.0.0.1:9091\n  "2": 127.0.0.1:9092\n');
    const c = loadNodeConfig(['--config', file, '--tick-ms', '10'], { FERRY_TICK_MS: '30', FERRY_DATA_DIR: '/from/env' });
    expect(c.tickMs).toBe(10);
    expect(c.dataDir).toBe('/from/env');
    expect(c.fsync).toBe('never');
    expect(c.nodeId).toBe(2);
    expect([...c.peers.keys()]).toEqual([1, 2]);
  });

  it('reads a JSON config file through FERRY_CONFIG', () => {
    const file = path.join(tmp, 'ferry.json');
    writeFileSync(file, JSON.stringify({ nodeId: 3, listenAddress: '127.0.0.1:9093', dataDir: '/d', peers: '3=127.0.0.1:9093' }));
    expect(loadNodeConfig([], { FERRY_CONFIG: file }).nodeId).toBe(3);
  });

  it('reports every problem at once, naming its source', () => {
    const problems = problemsOf(() => loadNodeConfig(
      ['--node-id', 'abc', '--listen', 'localhost:99999', '--fsync', 'sometimes'],
      { FERRY_TICK_MS: '0' },
    ));
    expect(problems).toEqual(expect.arrayContaining([
      'nodeId (--node-id): must be an integer in 1-1000000, got "abc"',
      'listenAddress (--listen): must be host:port with a port in 1-65535, got "localhost:99999"',
      'fsync (--fsync): must be one of always, never, got "sometimes"',
      'tickMs (env FERRY_TICK_MS): must be an integer in 1-10000, got "0"',
      'dataDir is required: set --data-dir or FERRY_DATA_DIR',
      'peers is required: set --peers or FERRY_PEERS',
    ]));
    expect(problems).toHaveLength(6);
  });

  it('rejects peers without this node, duplicate ids and unknown controller nodes', () => {
    expect(problemsOf(() => loadNodeConfig([...minimal.slice(0, 6), '--peers', '2=127.0.0.1:9092'], {})))
      .toEqual(['peers must include this node (id 1); got ids 2']);
    expect(problemsOf(() => loadNodeConfig([...minimal.slice(0, 6), '--peers', '1=a:1,1=b:2'], {})))
      .toEqual(['peers (--peers): peer id 1 appears twice']);
    expect(problemsOf(() => loadNodeConfig([...minimal, '--controller-nodes', '1,7'], {})))
      .toEqual(['controllerNodeIds: node 7 is not in peers']);
  });

  it('rejects unknown flags, unknown file keys and unreadable files', () => {
    expect(problemsOf(() => loadNodeConfig([...minimal, '--nod-id', '1'], {}))[0]).toMatch(/Unknown option '--nod-id'/);
    const file = path.join(tmp, 'typo.yaml');
    writeFileSync(file, 'nodeID: 1\n');
    expect(problemsOf(() => loadNodeConfig([...minimal, '--config', file], {}))[0]).toMatch(/unknown setting "nodeID"/);
    expect(problemsOf(() => loadNodeConfig([...minimal, '--config', path.join(tmp, 'missing.yaml')], {}))[0])
      .toMatch(/missing\.yaml: ENOENT/);
  });

  it('refuses a wildcard advertised address', () => {
    expect(problemsOf(() => loadNodeConfig([...minimal.slice(2), '--node-id', '1', '--listen', '0.0.0.0:9091'], {})))
      .toEqual([expect.stringMatching(/0\.0\.0\.0:9091 is a wildcard/)]);
    expect(loadNodeConfig([...minimal, '--listen', '0.0.0.0:9091', '--advertised', 'n1:9091'], {}).advertisedAddress).toBe('n1:9091');
  });

  it('documents every flag with its env var', () => {
    const help = configHelp();
    for (const flag of ['--node-id', '--listen', '--advertised', '--data-dir', '--peers', '--fsync', '--metrics', '--config']) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('FERRY_PEERS');
  });
});
