/**
 * Queue groups on a 3-node cluster (real processes): competing workers, a worker killed -9
 * mid-job, the coordinator's node killed -9, and a poison record through the dead-letter topic
 * and back by redrive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FerryClient, QueueMessage } from '../../client/index.js';
import { runCli, startCluster, tail, until, type Fixture } from './cluster-fixture.js';

let f: Fixture;
beforeAll(async () => {
  // No leader balancing: the stats counters asserted below (expired) live in the coordinator's
  // memory and restart at 0 when the coordinator moves (docs/queues.md); only faults move it here.
  f = await startCluster(3, { FERRY_GROUP_STATE_PARTITIONS: '4', FERRY_LEADER_BALANCE_MS: '0' });
});
afterAll(async () => {
  await f?.stop();
});

async function produce(client: FerryClient, topic: string, count: number, prefix: string): Promise<Set<string>> {
  const producer = client.producer({ lingerMs: 2 });
  await Promise.all(Array.from({ length: count }, (_, i) => producer.send(topic, { key: `${prefix}-k${i}`, value: `${prefix}-${i}` })));
  await producer.close();
  return new Set(Array.from({ length: count }, (_, i) => `${prefix}-${i}`));
}

const where = (m: { partition: number; offset: number }): string => `${m.partition}/${m.offset}`;

/** Runs a worker process that receives `n` records and never acks them; `got` resolves with what it got. */
function startWorker(group: string, topic: string, n: number, visibilityMs: number): { child: ChildProcess; got: Promise<Array<{ partition: number; offset: number; value: string }>> } {
  const script = path.resolve(import.meta.dirname, 'queue-worker.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, f.cluster.bootstrap().join(','), group, topic, String(n), String(visibilityMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, got: new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as Array<{ partition: number; offset: number; value: string }>);
    });
    child.on('exit', (code) => reject(new Error(`worker exited ${code} before reporting: ${err.slice(-2_000)}`)));
  }) };
}

describe('queue groups on a 3-node cluster (real processes)', () => {
  it('10 competing workers on a 3-partition topic all get work, and every record is handled once', async () => {
    await f.client.admin.createTopic('work', { partitions: 3 });
    const produced = await produce(f.client, 'work', 300, 'w');
    const handled = new Map<string, number>();
    const perWorker = new Map<number, number>();
    const workers = Array.from({ length: 10 }, (_, i) => f.client.queueConsumer({
      group: 'crew', topic: 'work', concurrency: 2, visibilityTimeoutMs: 10_000, maxWaitMs: 200,
      handler: async (m) => {
        handled.set(m.value!.toString(), (handled.get(m.value!.toString()) ?? 0) + 1);
        perWorker.set(i, (perWorker.get(i) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 20)); // the work
      },
    }).start());
    const startedAt = Date.now();
    try {
      await until('every record handled', () => (handled.size >= produced.size ? true : undefined), 60_000);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
    const ms = Date.now() - startedAt;
    process.stderr.write(`queues: 300 records through 10 workers x 2 in ${ms} ms (${Math.round(300_000 / ms)} records/s with 20 ms of work each)\n`);
    expect(new Set(handled.keys())).toEqual(produced);
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    expect(perWorker.size).toBe(10);
    const stats = await f.client.queues.stats('crew');
    expect(stats.partitions.map((p) => p.inFlight)).toEqual([0, 0, 0]);
    expect(stats.partitions.every((p) => p.ackFloor === p.readPosition)).toBe(true);
  });

  it('a worker killed -9 mid-job: its records come back after the visibility timeout', async () => {
    await f.client.admin.createTopic('tasks', { partitions: 3 });
    await produce(f.client, 'tasks', 30, 't');
    const visibilityMs = 3_000;
    const victim = startWorker('taskers', 'tasks', 5, visibilityMs);
    let got;
    try {
      got = await victim.got;
    } finally {
      victim.child.kill('SIGKILL'); // kill -9 mid-job (and never left running if the test failed)
    }
    const killedAt = Date.now();
    expect(got).toHaveLength(5);
    const lost = new Set(got.map(where));
    const back = new Map<string, { at: number; m: QueueMessage }>();
    const seen = new Set<string>();
    while (back.size < lost.size && Date.now() - killedAt < 20_000) {
      for (const m of await f.client.queues.receive('taskers', 'tasks', { max: 50, visibilityTimeoutMs: 10_000, maxWaitMs: 200 })) {
        expect(seen.has(where(m)), `${where(m)} delivered twice to the survivor`).toBe(false);
        seen.add(where(m));
        if (lost.has(where(m))) back.set(where(m), { at: Date.now(), m });
        await f.client.queues.ack('taskers', [m]);
      }
    }
    expect(new Set(back.keys())).toEqual(lost);
    for (const { m } of back.values()) expect(m.deliveryCount).toBe(2);
    const latest = Math.max(...[...back.values()].map((b) => b.at)) - killedAt;
    const earliest = Math.min(...[...back.values()].map((b) => b.at)) - killedAt;
    process.stderr.write(`queues: a killed worker's records came back ${earliest}-${latest} ms after kill -9 (visibility ${visibilityMs} ms, backoff base 1000 ms)\n`);
    expect(earliest).toBeGreaterThanOrEqual(visibilityMs - 1_500);
  });

  it('a poison record lands in the dead-letter topic with its history, and redrive brings it back', async () => {
    await f.client.admin.createTopic('mail', { partitions: 2 });
    await f.client.queues.configure('senders', { topic: 'mail', maxDeliveries: 3, backoff: { baseMs: 100, maxMs: 200 } });
    await produce(f.client, 'mail', 10, 'm');
    await f.client.producer().send('mail', { key: 'bad', value: 'poison' }).then(() => undefined);
    const attempts: number[] = [];
    const good = new Set<string>();
    const worker = f.client.queueConsumer({
      group: 'senders', topic: 'mail', concurrency: 4, visibilityTimeoutMs: 5_000, maxWaitMs: 200,
      handler: (m) => {
        if (m.value!.toString() === 'poison') {
          attempts.push(m.deliveryCount);
          throw new Error('cannot send this one');
        }
        good.add(m.value!.toString());
      },
    }).start();
    try {
      await until('the poison record in the dead-letter topic', async () => ((await f.client.queues.stats('senders')).deadLetterDepth >= 1 ? true : undefined), 30_000);
    } finally {
      await worker.close();
    }
    expect(attempts).toEqual([1, 2, 3]);
    expect(good.size).toBe(10);
    const letters = await f.client.deadLetters.list('senders');
    expect(letters).toHaveLength(1);
    const d = letters[0]!;
    expect(d.record.topic).toBe('mail.senders.dlq');
    expect(d.record.value!.toString()).toBe('poison');
    expect(d.reason).toBe('max-deliveries');
    expect(d.deliveries).toBe(3);
    expect(d.sourceTopic).toBe('mail');

    const moved = await f.client.deadLetters.redrive('senders');
    expect(moved).toBe(1);
    expect(await f.client.deadLetters.list('senders')).toHaveLength(0);
    const again = await until('the redriven record delivered', async () => {
      const got = await f.client.queues.receive('senders', 'mail', { max: 10, maxWaitMs: 500 });
      return got.find((m) => m.value?.toString() === 'poison');
    }, 20_000);
    expect(again.deliveryCount).toBe(1);
    expect(Object.keys(again.headers).some((k) => k.startsWith('ferry-dlq-'))).toBe(false);
    await f.client.queues.ack('senders', [again]);
  });
  it('FIFO per key: one record of a key in flight at a time, in offset order; delayed records wait; expired ones are skipped and counted', async () => {
    await f.client.admin.createTopic('ledger', { partitions: 2 });
    await f.client.queues.configure('posters', { topic: 'ledger', fifo: true });
    const producer = f.client.producer({ lingerMs: 2 });
    const keys = ['acct-1', 'acct-2', 'acct-3', 'acct-4'];
    const sent = await Promise.all(keys.flatMap((k) => Array.from({ length: 6 }, (_, i) => producer.send('ledger', { key: k, value: `${k}:${i}` }))));
    const producedAt = Date.now();
    await producer.send('ledger', { key: 'later', value: 'delayed', headers: { 'ferry-delay-ms': '2500' } });
    await producer.send('ledger', { key: 'stale', value: 'expired', headers: { 'ferry-ttl-ms': '1' } });
    await producer.close();
    expect(sent).toHaveLength(24);
    const inFlight = new Set<string>();
    const order = new Map<string, number[]>();
    let overlap = '';
    let delayedAt = 0;
    const workers = Array.from({ length: 4 }, () => f.client.queueConsumer({
      group: 'posters', topic: 'ledger', concurrency: 3, visibilityTimeoutMs: 10_000, maxWaitMs: 200,
      handler: async (m) => {
        const [key, i] = m.value!.toString().split(':');
        if (m.value!.toString() === 'delayed') delayedAt = Date.now();
        if (m.value!.toString() === 'expired') overlap = 'the expired record was handed out';
        if (inFlight.has(m.key!.toString())) overlap = `${m.key!.toString()} twice in flight`;
        inFlight.add(m.key!.toString());
        await new Promise((r) => setTimeout(r, 15));
        inFlight.delete(m.key!.toString());
        if (i !== undefined) order.set(key!, [...(order.get(key!) ?? []), Number(i)]);
      },
    }).start());
    try {
      await until('every keyed record and the delayed one handled', () => ([...order.values()].flat().length >= 24 && delayedAt > 0 ? true : undefined), 30_000);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
    expect(overlap).toBe('');
    for (const k of keys) expect(order.get(k), k).toEqual([0, 1, 2, 3, 4, 5]);
    expect(delayedAt - producedAt).toBeGreaterThanOrEqual(2_400);
    expect((await f.client.queues.stats('posters')).expired).toBe(1);
  });

  it('CLI: queue configure/receive/ack/nack/stats/list/delete and dlq list/redrive', async () => {
    await f.client.admin.createTopic('cliq', { partitions: 1 });
    const conf = await runCli(f.cluster, ['queue', 'configure', 'clig', '--topic', 'cliq', '--max-deliveries', '1', '--backoff-base-ms', '0']);
    expect(conf.stderr).toBe('');
    expect(conf.stdout).toContain('max deliveries 1');
    await produce(f.client, 'cliq', 2, 'c');
    const got = await runCli(f.cluster, ['queue', 'receive', 'clig', '--topic', 'cliq', '--visibility-ms', '20000']);
    expect(got.code, got.stderr).toBe(0);
    const receipts = [...got.stdout.matchAll(/^(\d+\/\d+\/1)\s+\S+\s+(c-\d)/gm)].map((m) => ({ receipt: m[1]!, value: m[2]! }));
    expect(receipts.map((r) => r.value).sort()).toEqual(['c-0', 'c-1']);
    const kept = receipts.find((r) => r.value === 'c-0')!;
    const acked = await runCli(f.cluster, ['queue', 'ack', 'clig', kept.receipt]);
    expect(acked.stdout).toContain(`acked ${kept.receipt}`);
    // c-1 is released; with max deliveries 1 it goes to the dead-letter topic.
    const c1 = receipts.find((r) => r.value === 'c-1')!.receipt;
    expect((await runCli(f.cluster, ['queue', 'nack', 'clig', c1])).stdout).toContain(`released ${c1}`);
    await until('c-1 dead-lettered', async () => ((await f.client.queues.stats('clig')).deadLetterDepth === 1 ? true : undefined));
    const stale = await runCli(f.cluster, ['queue', 'ack', 'clig', c1]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('RECEIPT_EXPIRED');
    const listed = await runCli(f.cluster, ['dlq', 'list', 'clig']);
    expect(listed.stdout).toMatch(/cliq\/0\/\d+\s+1\s+max-deliveries/);
    expect(listed.stdout).toContain('c-1');
    const stats = await runCli(f.cluster, ['queue', 'stats', 'clig']);
    expect(stats.stdout, stats.stdout).toContain('dead letters: 1 in cliq.clig.dlq');
    expect(stats.stdout).toMatch(/PARTITION\s+AVAILABLE\s+IN-FLIGHT/);
    expect((await runCli(f.cluster, ['queue', 'list'])).stdout).toMatch(/clig\s+cliq/);
    const redrive = await runCli(f.cluster, ['dlq', 'redrive', 'clig']);
    expect(redrive.stdout).toContain('redrove 1 record(s)');
    expect((await runCli(f.cluster, ['dlq', 'list', 'clig'])).stdout).toContain('no dead letters');
    const bad = await runCli(f.cluster, ['queue', 'receive', 'clig', '--topic', 'other']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('INVALID_REQUEST');
    expect((await runCli(f.cluster, ['queue', 'delete', 'clig'])).stdout).toContain('deleted queue group clig');
    const gone = await runCli(f.cluster, ['queue', 'stats', 'clig']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('QUEUE_GROUP_NOT_FOUND');
  });

  it('kill -9 of the coordinator\'s node: no acked record is delivered again; unacked ones come back after their timeout', async () => {
    await f.client.admin.createTopic('orders', { partitions: 3 });
    const produced = await produce(f.client, 'orders', 60, 'o');
    const acked = new Set<string>();
    const first = await f.client.queues.receive('billing', 'orders', { max: 40, visibilityTimeoutMs: 4_000, maxWaitMs: 1_000 });
    expect(first.length).toBeGreaterThan(20);
    const toAck = first.slice(0, 20);
    const results = await f.client.queues.ack('billing', toAck);
    expect(results.every((e) => e === undefined)).toBe(true);
    for (const m of toAck) acked.add(m.value!.toString());
    const lockedNotAcked = new Set(first.slice(20).map((m) => m.value!.toString()));

    const coordinator = await f.client.groups.coordinatorOf('billing');
    await f.cluster.kill(coordinator.nodeId);
    const killedAt = Date.now();
    const seen = new Map<string, number>();
    try {
      await until('every unacked record delivered by the new coordinator', async () => {
        const got = await f.client.queues.receive('billing', 'orders', { max: 100, visibilityTimeoutMs: 30_000, maxWaitMs: 500 }).catch(() => []);
        for (const m of got) {
          const v = m.value!.toString();
          expect(acked.has(v), `acked record ${v} delivered again after failover`).toBe(false);
          seen.set(v, m.deliveryCount);
        }
        await f.client.queues.ack('billing', got).catch(() => undefined);
        return [...produced].every((v) => acked.has(v) || seen.has(v)) ? true : undefined;
      }, 40_000);
      const firstBack = Date.now() - killedAt;
      process.stderr.write(`queues: after kill -9 of the coordinator's node, every unacked record was delivered again within ${firstBack} ms (lock 4000 ms)\n`);
      for (const v of lockedNotAcked) expect(seen.get(v), `${v} was locked at the kill: delivery 2`).toBe(2);
    } catch (err) {
      // Seen once in a full-suite run (a 40 s wait that usually takes 5 s): keep what the nodes said.
      const logs = f.cluster.ids.map((id) => `--- node ${id}\n${tail(f.cluster.logFile(id), 60)}`).join('\n');
      throw new Error(`${(err as Error).message}\nseen ${seen.size} of ${produced.size - acked.size} unacked\n${logs}`, { cause: err });
    } finally {
      f.cluster.startNode(coordinator.nodeId);
      await f.cluster.waitReady(60_000);
    }
  });

});
