import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? listFiles(p, base) : [path.relative(base, p)];
  }).sort();
}

describe('proto/ contracts', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-proto-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('proto/gen is what scripts/gen-proto.mjs generates from proto/ (run `npm run proto:gen`)', () => {
    execFileSync(process.execPath, [path.join(root, 'scripts/gen-proto.mjs'), tmp], { stdio: 'ignore' });
    const committed = path.join(root, 'proto/gen');
    expect(listFiles(tmp)).toEqual(listFiles(committed));
    for (const f of listFiles(tmp)) {
      expect(readFileSync(path.join(tmp, f), 'utf8'), f).toBe(readFileSync(path.join(committed, f), 'utf8'));
    }
  });

  it('compiles and lints with buf, a non-JavaScript protobuf toolchain (any language can use it)', () => {
    const buf = path.join(root, 'node_modules/.bin/buf');
    const run = (args: string[]): string =>
      execFileSync(buf, args, { cwd: path.join(root, 'proto'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    run(['build', '-o', path.join(tmp, 'image.binpb')]);
    expect(statSync(path.join(tmp, 'image.binpb')).size).toBeGreaterThan(1000);
    expect(run(['lint'])).toBe('');
  });

  it('loads with grpc-js and exposes the client service', () => {
    const def = protoLoader.loadSync('ferry/v1/client.proto', { includeDirs: [path.join(root, 'proto')] });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { ferry: { v1: { FerryService: { service: object } } } };
    expect(Object.keys(pkg.ferry.v1.FerryService.service)).toEqual([
      'Metadata', 'CreateTopic', 'DeleteTopic', 'DescribeTopic', 'AlterTopicConfig', 'CreatePartitions', 'Produce', 'Fetch', 'FetchStream', 'ListOffsets', 'InitProducerId',
      'ReassignPartitions',
    ]);
  });

  it('every field of every message carries a comment or a self-explaining name', () => {
    // The contract is read by people writing clients in other languages; each message field
    // should be documented unless its name alone is unambiguous (topic, partition, error, name).
    const selfExplaining = new Set(['topic', 'partition', 'error', 'name', 'results', 'partitions', 'topics', 'brokers', 'node_id']);
    for (const file of readdirSync(path.join(root, 'proto/ferry/v1')).filter((f) => f.endsWith('.proto'))) {
      const lines = readFileSync(path.join(root, 'proto/ferry/v1', file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        const m = /^\s+(?:repeated\s+|map<[^>]+>\s+)?[\w.]+\s+(\w+)\s*=\s*\d+;/.exec(line);
        if (!m || /^\s+[A-Z0-9_]+\s*=/.test(line)) return;
        const documented = /^\s*\/\//.test(lines[i - 1] ?? '') || selfExplaining.has(m[1] ?? '');
        expect(documented, `${file}:${i + 1} field "${m[1]}" needs a comment (unit and meaning)`).toBe(true);
      });
    }
  });
});
