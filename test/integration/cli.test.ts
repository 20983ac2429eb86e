import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCluster, type Fixture } from './cluster-fixture.js';

let f: Fixture;
beforeAll(async () => {
  f = await startCluster(3);
});
afterAll(async () => {
  await f?.stop();
});

function ferry(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(f.cluster, args, stdin);
}

describe('the ferry CLI against a running cluster', () => {
  it('creates a topic, produces from stdin with keys, and consumes it back as JSON', async () => {
    expect(await ferry(['topic', 'create', 'cli', '--partitions', '2'])).toMatchObject({ code: 0, stdout: 'created topic cli with 2 partition(s)\n' });
    const produced = await ferry(['produce', 'cli', '--key-separator', ':'], 'a:one\nb:two\na:three\n');
    expect(produced).toMatchObject({ code: 0, stderr: expect.stringContaining('produced 3 record(s) to cli') });
    const consumed = await ferry(['consume', 'cli', '--format', 'json']);
    expect(consumed.code).toBe(0);
    const rows = consumed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; value: string; partition: number; offset: number });
    expect(rows.map((r) => `${r.key}:${r.value}`).sort()).toEqual(['a:one', 'a:three', 'b:two']);
    // Same key, same partition, in order.
    const a = rows.filter((r) => r.key === 'a');
    expect(a[0]!.partition).toBe(a[1]!.partition);
    expect(a.find((r) => r.value === 'one')!.offset).toBeLessThan(a.find((r) => r.value === 'three')!.offset);
    expect(consumed.stderr).toContain('consumed 3 record(s)');
  });

  it('generates a bounded load and reports a rate; describe and list show the topic', async () => {
    await ferry(['topic', 'create', 'load']);
    const load = await ferry(['produce', 'load', '--count', '2000', '--size', '256']);
    expect(load.code).toBe(0);
    expect(load.stdout).toMatch(/^produced 2000 records of 256 B in [\d.]+ s: \d+ rec\/s, [\d.]+ MB\/s$/m);
    // Without a terminal, progress is a line every 2 s and one at the end (no bar, no 1-record line).
    expect(load.stderr.trim().split('\n').at(-1)).toMatch(/^produced 2000\/2000 records \(\d+ rec\/s\)$/);
    // Half a megabyte through a pipe: every line arrives (the CLI waits for the reader before it exits).
    const all = await ferry(['consume', 'load', '--from', 'earliest']);
    expect([all.code, all.stdout.split('\n').filter((l) => l.length > 0).length]).toEqual([0, 2000]);
    // A reader that leaves early (`| head`) ends the command quietly, as it ends cat.
    const head = await runCli(f.cluster, ['consume', 'load', '--from', 'earliest'], '', { closeStdoutAfterBytes: 1_000 });
    expect(head).toMatchObject({ code: 0, stderr: expect.not.stringMatching(/EPIPE|Error/) });
    const described = await ferry(['topic', 'describe', 'load']);
    expect(described.stdout).toMatch(/^0\s+\d\s+\d+\s+0\s+2001\s+2001\s+\d+/m);
    expect((await ferry(['topic', 'list'])).stdout).toMatch(/^load\s+1\s+3$/m);
    expect((await ferry(['cluster', 'status'])).stdout).toMatch(/controller: node \d/);
    expect(await ferry(['topic', 'alter', 'load', '--config', 'retention.ms=60000'])).toMatchObject({ code: 0, stdout: 'changed config of topic load\n' });
    expect((await ferry(['topic', 'describe', 'load'])).stdout).toContain('retention.ms=60000');
    expect(await ferry(['topic', 'alter', 'load'])).toMatchObject({ code: 2, stderr: expect.stringContaining('give --config') });
    expect(await ferry(['topic', 'alter', 'load', '--partitions', '2'])).toMatchObject({ code: 0, stdout: 'topic load now has 2 partitions\n' });
    expect((await ferry(['topic', 'list'])).stdout).toMatch(/^load\s+2\s+3$/m);
    expect(await ferry(['topic', 'alter', 'load', '--partitions', '1'])).toMatchObject({ code: 1, stderr: expect.stringContaining('never shrinks') });
  });

  it('explains mistakes: usage errors exit 2, server errors exit 1 with the code', async () => {
    expect(await ferry(['topic', 'create', 'x', '--partitions', 'many'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--partitions must be an integer') });
    expect(await ferry(['consume', 'missing'])).toMatchObject({ code: 1, stderr: expect.stringContaining('UNKNOWN_TOPIC_OR_PARTITION') });
    expect(await ferry(['topic', 'create', 'bad name'])).toMatchObject({ code: 1, stderr: expect.stringContaining('INVALID_REQUEST') });
    expect(await ferry(['frobnicate'])).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown command 'frobnicate'") });
  });
});
