/**
 * `ferry cluster status`: nodes (and whether they answer), the controller, partition leaders,
 * replication state and reassignments in progress.
 */
import type { Command } from 'commander';
import { clientFrom, type GlobalOptions } from './context.js';
import { table } from './topic-commands.js';

export function registerClusterCommand(program: Command, globals: () => GlobalOptions): void {
  const cluster = program.command('cluster').description('inspect the cluster');
  cluster.command('status').description('nodes, controller, partition leaders, replication state and reassignments in progress').action(async () => {
    const ferry = clientFrom(globals());
    try {
      const md = await ferry.admin.metadata$();
      const reachable = await Promise.all(md.brokers.map(async (b) => {
        const ms = await ferry.admin.ping(b.address);
        return ms === undefined ? 'DOWN' : `up (${ms} ms)`;
      }));
      const moving = md.topics.flatMap((t) => t.partitions.filter((p) => p.targetReplicas.length > 0).map((p) => `${t.name}/${p.partition}`));
      process.stdout.write(`controller: node ${md.controllerId} | metadata version ${md.metadataVersion} | reassignments in progress: ${moving.length}` +
        `${moving.length > 0 ? ` (${moving.slice(0, 10).join(', ')}${moving.length > 10 ? ', ...' : ''})` : ''}\n\n`);
      process.stdout.write(table([
        ['NODE', 'ADDRESS', 'REACHABLE', 'CONTROLLER VIEW'],
        ...md.brokers.map((b, i) => [b.nodeId, b.address, reachable[i]!, b.alive ? 'alive' : 'FENCED (missed heartbeats)']),
      ]));
      for (const t of md.topics) {
        const parts = await ferry.admin.describeTopic(t.name);
        process.stdout.write(`\ntopic ${t.name}\n`);
        process.stdout.write(table([
          ['PARTITION', 'LEADER', 'HIGH-WATERMARK', 'LOG-END', 'REPLICAS', 'IN-SYNC', 'STATE'],
          ...parts.map((p) => {
            const inSync = p.replicas.filter((r) => r.inSync).map((r) => r.nodeId);
            const target = t.partitions[p.partition]?.targetReplicas ?? [];
            const state = p.leaderId < 0 ? 'NO LEADER' : target.length > 0 ? `REASSIGNING -> ${target.join(',')}`
              : inSync.length < p.replicas.length ? 'UNDER-REPLICATED' : 'ok';
            return [p.partition, p.leaderId, p.highWatermark, p.logEndOffset, p.replicas.map((r) => r.nodeId).join(','), inSync.join(','), state];
          }),
        ]));
      }
    } finally {
      ferry.close();
    }
  });
}
