import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch, readBatchHeader } from '../../log/index.js';
import { createClient } from '../../client/index.js';
import type { FetchResponse__Output } from '../../proto/gen/ferry/v1/FetchResponse.js';
import type { MetadataResponse__Output } from '../../proto/gen/ferry/v1/MetadataResponse.js';
import type { TopicMetadata__Output } from '../../proto/gen/ferry/v1/TopicMetadata.js';
import { runCli, startCluster, until, type Fixture } from './cluster-fixture.js';
import { call, rawClient } from './raw-client.js';

const reassignAfterMs = 3_000;
let f: Fixture;
beforeAll(async () => {
  // Controller snapshots every 10 entries: the returning broker is behind the leader's log start and
  // is brought up by the snapshot (after replaying its own log, in which it still hosts them).
  f = await startCluster(4, {
    FERRY_BROKER_SESSION_MS: '1500', FERRY_REASSIGN_AFTER_MS: String(reassignAfterMs), FERRY_LEADER_BALANCE_MS: '1000', FERRY_CONTROLLER_SNAPSHOT_ENTRIES: '10',
  });
});
afterAll(async () => {
  await f?.stop();
});

async function topicFrom(nodeId: number, topic: string): Promise<{ md: MetadataResponse__Output; t: TopicMetadata__Output }> {
  const c = rawClient(f.cluster.addresses.get(nodeId)!);
  try {
    const md = await call<MetadataResponse__Output>(c, 'Metadata', { topics: [topic] }, 3_000);
    return { md, t: md.topics[0]! };
  } finally {
    c.close();
  }
}

/** Every committed data record one node holds of a partition: offset → value. */
async function readReplica(nodeId: number, topic: string, partition: number): Promise<Map<number, string>> {
  const c = rawClient(f.cluster.addresses.get(nodeId)!);
  const all = new Map<number, string>();
  try {
    for (let offset = 0; ;) {
      const res = await call<FetchResponse__Output>(c, 'Fetch', { maxWaitMs: 0, partitions: [{ topic, partition, fetchOffset: offset, maxBytes: 1 << 20 }] });
      const r = res.results[0]!;
      if (r.error?.code !== 'ERROR_CODE_NONE') throw new Error(`node ${nodeId} ${topic}/${partition}: ${r.error?.code} ${r.error?.message}`);
      if (r.records.length === 0) return all;
      for (let pos = 0; pos < r.records.length;) {
        const h = readBatchHeader(r.records, pos);
        if (!h.isControl) for (const rec of decodeBatch(r.records.subarray(pos, pos + h.sizeBytes)).records) all.set(rec.offset, rec.value!.toString());
        offset = h.lastOffset + 1;
        pos += h.sizeBytes;
      }
    }
  } finally {
    c.close();
  }
}

describe('reassignment off a dead broker (4 nodes)', () => {
  it('moves the replicas of a broker fenced past the delay: full replication again, no acked record lost, old files removed', async () => {
    const topic = 'moving';
    await f.client.admin.createTopic(topic, { partitions: 4, replicationFactor: 3 });
    const producer = f.client.producer({ lingerMs: 0 });
    const acked = new Map<string, string>(); // "partition/offset" → value
    const send = async (i: number, client = producer): Promise<void> => {
      const r = await client.send(topic, { key: `k${i}`, value: `v${i}` });
      acked.set(`${r.partition}/${r.offset}`, `v${i}`);
    };
    for (let i = 0; i < 200; i += 1) await send(i);

    const { t: before } = await topicFrom(1, topic);
    const victim = 4; // hosts three of the four partitions (RF 3 on 4 brokers)
    const moved = before.partitions.filter((p) => p.replicas.includes(victim)).map((p) => p.partition);
    expect(moved.length).toBeGreaterThan(0);
    const killedAt = Date.now();
    await f.cluster.kill(victim);

    // Keep producing through the fence, the reassignment and the membership changes.
    const survivors = createClient({ bootstrap: f.cluster.bootstrap([victim]), requestTimeoutMs: 5_000 });
    let stop = false;
    const background = (async () => {
      const p2 = survivors.producer({ lingerMs: 0 });
      for (let i = 200; !stop; i += 1) await send(i, p2);
    })();
    try {
      const done = await until('every partition to be fully replicated on the remaining brokers', async () => {
        const { md, t } = await topicFrom(1, topic);
        if (md.brokers.find((b) => b.nodeId === victim)?.alive !== false) return undefined;
        const settled = t.partitions.every((p) => p.targetReplicas.length === 0 && p.replicas.length === 3 && !p.replicas.includes(victim));
        if (!settled) return undefined;
        const parts = await survivors.admin.describeTopic(topic);
        return parts.every((p) => p.leaderId > 0 && p.replicas.length === 3 && p.replicas.every((r) => r.inSync)) ? t : undefined;
      }, 60_000);
      const fenceToFullMs = Date.now() - killedAt;
      process.stderr.write(`reassignment: kill -> every partition fully replicated off node ${victim} in ${fenceToFullMs} ms ` +
        `(session 1500 ms + reassign delay ${reassignAfterMs} ms)\n`);
      expect(fenceToFullMs).toBeGreaterThan(reassignAfterMs); // not before the delay

      stop = true;
      await background;
      // Every acknowledged record is on every replica of its partition, the new ones included.
      for (const p of done.partitions) {
        for (const nodeId of p.replicas) {
          await until(`node ${nodeId} to hold every acked record of ${topic}/${p.partition}`, async () => {
            const held = await readReplica(nodeId, topic, p.partition);
            for (const [key, value] of acked) {
              const [partition, offset] = key.split('/').map(Number);
              if (partition === p.partition && held.get(offset!) !== value) return undefined;
            }
            return true;
          }, 20_000);
        }
      }
      expect(acked.size).toBeGreaterThan(200);
    } finally {
      stop = true;
      await background.catch(() => undefined);
      survivors.close();
    }

    // The victim comes back: it hosts none of the partitions moved off it and deletes their files
    // (it hosted nothing else).
    f.cluster.startNode(victim);
    const partitionsDir = path.join(f.cluster.dataDir(victim), 'partitions');
    expect(readdirSync(partitionsDir).length).toBe(moved.length);
    await until(`node ${victim} to delete the files of the partitions moved off it`, () => (readdirSync(partitionsDir).length === 0 ? true : undefined), 30_000);
    const log = readFileSync(f.cluster.logFile(victim), 'utf8');
    expect(log).toContain('controller snapshot installed from the leader');
    expect(log.split('\n').filter((l) => l.includes('partition replica removed'))).toHaveLength(moved.length);
  });

  it('lets an operator move a partition (CLI), shows it in cluster status, rolls a move to a dead node back, and refuses bad requests', async () => {
    const topic = 'moving';
    const ferry = (args: string[]) => runCli(f.cluster, args);
    const partitionOf = async () => (await topicFrom(1, topic)).t.partitions[0]!;
    await until('node 4 to be alive again', async () => ((await topicFrom(1, topic)).md.brokers.find((b) => b.nodeId === 4)?.alive ? true : undefined));
    const start = await partitionOf();
    expect(start.replicas).not.toContain(4);
    const [a, b, dropped] = start.replicas as [number, number, number];

    // Bad requests: a specific error, and nothing recorded.
    expect(await ferry(['topic', 'reassign', 'nope', '--move', '0=1,2,3'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/UNKNOWN_TOPIC_OR_PARTITION: reassign partitions of nope: topic "nope" does not exist/) });
    expect(await ferry(['topic', 'reassign', topic, '--move', '9=1,2,3'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/has partitions 0-3, not 9/) });
    expect(await ferry(['topic', 'reassign', topic, '--move', '0=1,2,9'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/node\(s\) 9 are not in the cluster/) });
    expect(await ferry(['topic', 'reassign', topic, '--move', '0=1,1'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/a node appears twice/) });
    expect(await ferry(['topic', 'reassign', topic, '--move', 'zero'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--move takes partition=node,node/) });
    expect(await partitionOf()).toEqual(start);

    // A move onto node 4 while it is down: it cannot catch up, so the move shows as in progress,
    // until node 4 is fenced past the delay and the controller replaces it in the target (the
    // partition ends where it was).
    // (Through the SDK: it asks within milliseconds, before node 4 is fenced, which would be refused.)
    await f.cluster.kill(4);
    await f.client.admin.reassignPartitions(topic, [{ partition: 0, replicas: [4, a, b] }]);
    const status = await ferry(['cluster', 'status']);
    expect(status.stdout).toMatch(/reassignments in progress: 1 \(moving\/0\)/);
    expect(status.stdout).toMatch(new RegExp(`^0 .*REASSIGNING -> 4,${a},${b}$`, 'm'));
    const rolledBack = await until('the move to the dead node to be replaced and finished', async () => {
      const p = await partitionOf();
      return p.targetReplicas.length === 0 && !p.replicas.includes(4) ? p : undefined;
    }, 30_000);
    expect(new Set(rolledBack.replicas)).toEqual(new Set(start.replicas));

    // With node 4 back, the operator's move completes, and leadership follows the preferred replica.
    f.cluster.startNode(4);
    await until('node 4 to be alive again', async () => ((await topicFrom(1, topic)).md.brokers.find((x) => x.nodeId === 4)?.alive ? true : undefined));
    expect(await ferry(['topic', 'reassign', topic, '--move', `0=4,${a},${b}`])).toMatchObject({ code: 0, stdout: `reassigning ${topic}/0 to replicas 4,${a},${b}\n` });
    const done = await until('the operator move to complete with node 4 leading', async () => {
      const p = await partitionOf();
      return p.targetReplicas.length === 0 && p.replicas.join() === [4, a, b].join() && p.leaderId === 4 ? p : undefined;
    }, 30_000);
    expect(done.replicas).toEqual([4, a, b]);
    expect((await ferry(['cluster', 'status'])).stdout).toMatch(/reassignments in progress: 0/);
    // The node the move dropped deletes its copy of partition 0 (directories are "<topic id>-<partition>")
    // and keeps its other three.
    const droppedDir = path.join(f.cluster.dataDir(dropped), 'partitions');
    const left = await until(`node ${dropped} to delete its copy of ${topic}/0`, () => {
      const dirs = readdirSync(droppedDir);
      return dirs.some((d) => d.endsWith('-0')) ? undefined : dirs;
    });
    expect(left.map((d) => d.split('-')[1]).sort()).toEqual(['1', '2', '3']);
  });
});
