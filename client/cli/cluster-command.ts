/** `ferry cluster status`: nodes (and whether they answer), the controller, partition leaders. */
import type { Command } from 'commander';
import { clientFrom, type GlobalOptions } from './context.js';
import { table } from './topic-commands.js';

export function registerClusterCommand(program: Command, globals: () => GlobalOptions): void {
  const cluster = program.command('cluster').description('inspect the cluster');
  cluster.command('status').description('nodes, controller, partition leaders and replication state').action(async () => {
    const ferry = clientFrom(globals());
    try {
      const md = await ferry.admin.metadata$();
      const reachable = await Promise.all(md.brokers.map(async (b) => {
        const ms = await ferry.admin.ping(b.address);
        return ms === undefined ? 'DOWN' : `up (${ms} ms)`;
      }));
      process.stdout.write(`controller: node ${md.controllerId} | metadata version ${md.metadataVersion}\n\n`);
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
            const state = p.leaderId < 0 ? 'NO LEADER' : inSync.length < p.replicas.length ? 'UNDER-REPLICATED' : 'ok';
            return [p.partition, p.leaderId, p.highWatermark, p.logEndOffset, p.replicas.map((r) => r.nodeId).join(','), inSync.join(','), state];
          }),
        ]));
      }
    } finally {
      ferry.close();
    }
  });
}
