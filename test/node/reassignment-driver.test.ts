import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch } from '../../log/index.js';
import { ReassignmentDriver, type MovingPartition } from '../../node/reassignment-driver.js';
import { Cluster, group, type TestNode } from './in-memory-cluster.js';

const clusters: Cluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.stop();
});

const batch = (value: string) => encodeBatch({ records: [{ key: null, value: Buffer.from(value), timestamp: Date.now() }] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ReassignmentDriver on real replicas', () => {
  it('moves [1,2,3] to [1,2,4]: the joiner starts with no configuration, the move survives a leader kill and restart, data intact', async () => {
    const c = new Cluster();
    clusters.push(c);
    await c.start([1, 2, 3]);
    const first = await c.leader();
    const acked: number[] = [];
    for (let i = 0; i < 30; i += 1) acked.push(await first.replica.produce(batch(`v${i}`), 'all', 5_000));

    const joiner = await c.startNode(4, 'join');
    expect(joiner.host.status(group)?.conf).toEqual({ voters: [], learners: [] }); // invents nothing

    const target = [1, 2, 4];
    const moving: MovingPartition = { key: group, topicId: 7, partition: 0, target };
    const reported: number[][] = [];
    const drivers = new Map<TestNode, ReassignmentDriver>();
    const driverOf = (n: TestNode) => drivers.get(n) ?? drivers.set(n, new ReassignmentDriver({
      selfId: n.id, intervalMs: 1_000, host: n.host, log: pino({ level: 'silent' }), movingPartitions: () => [moving],
      reportDone: (p) => {
        reported.push([...p.target]);
        return Promise.resolve(undefined);
      },
    })).get(n)!;

    let interrupted = false;
    const deadline = Date.now() + 20_000;
    while (reported.length === 0 && Date.now() < deadline) {
      for (const n of c.nodes.values()) if (n.up) driverOf(n).round();
      const leader = [...c.nodes.values()].find((n) => n.up && n.replica.isLeader);
      const conf = leader?.host.status(group)?.conf;
      if (!interrupted && leader && conf?.learners.includes(4 as never)) {
        // Mid-move (node 4 is a learner): kill -9 the leader, then bring it back from its disk.
        interrupted = true;
        await c.kill(leader.id);
        await sleep(300);
        await c.startNode(leader.id, [1, 2, 3]);
      }
      await sleep(20);
    }
    expect(interrupted).toBe(true);
    expect(reported[0]).toEqual(target);

    const leader = await c.leader();
    expect(leader.host.status(group)?.conf).toEqual({ voters: [1, 2, 4], learners: [] });
    // The new member holds every acknowledged record, byte for byte as the leader does.
    const four = c.nodes.get(4)!;
    const deadlineHw = Date.now() + 5_000;
    while (four.replica.hw < leader.replica.hw && Date.now() < deadlineHw) await sleep(10);
    expect(four.replica.hw).toBe(leader.replica.hw);
    expect(four.plog.read(0, 1 << 20, four.replica.hw).records.equals(leader.plog.read(0, 1 << 20, leader.replica.hw).records)).toBe(true);
    expect(Math.max(...acked)).toBeLessThan(four.replica.hw);
    // And the group keeps committing without node 3.
    if (c.nodes.get(3)!.up) await c.kill(3);
    const after = await (await c.leader()).replica.produce(batch('after'), 'all', 5_000);
    expect(after).toBeGreaterThan(Math.max(...acked));
  });
});
