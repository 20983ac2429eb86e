/**
 * Faults on a schedule drawn from one seed: kill -9 a node (then restart it), pause it
 * (SIGSTOP, then SIGCONT), kill the leader of a partition, or kill -9 every node at once and
 * restart them all (promise 1 covers that too), or cut a node (or a partition leader) off the
 * network, split a minority off, storm leaders with transfer requests, damage a stopped node's
 * segment files (bit flips or truncation), or move a partition to a random replica set (the move
 * runs on while later faults hit). One fault at a
 * time, each held for a while and then healed.
 */
import { damageSegments } from './disk-corruption.js';
import type { LocalCluster } from './local-cluster.js';
import type { NetnsNetwork } from './netns.js';
import type { NemesisEvent } from './history.js';
import type { SeededRandom } from './prng.js';

export const faultKinds = [
  'kill', 'pause', 'kill-leader', 'kill-controller', 'kill-majority', 'kill-all', 'partition', 'partition-leader', 'split', 'corrupt', 'transfer',
  'reassign',
] as const;
/** Fault kinds that need each node in its own network namespace. */
export const networkFaultKinds: readonly FaultKind[] = ['partition', 'partition-leader', 'split'];
export type FaultKind = (typeof faultKinds)[number];

export interface NemesisOptions {
  readonly cluster: LocalCluster;
  /** Present when nodes run in their own network namespaces (partition faults). */
  readonly network?: NetnsNetwork;
  readonly kinds: readonly FaultKind[];
  readonly random: SeededRandom;
  readonly untilMs: number;
  /** The node leading some partition right now, if known. */
  readonly leaderOf: () => Promise<number | undefined>;
  /** The node leading the controller right now, if known. */
  readonly controllerLeader: () => Promise<number | undefined>;
  /** Asks some partition's leader to hand over to another replica; true if it agreed. */
  readonly transferLeadership: () => Promise<boolean>;
  readonly record: (e: NemesisEvent) => void;
  readonly progress: (line: string) => void;
  /** Asks for a partition move to a random replica set; resolves with what was asked and answered. */
  readonly reassign: () => Promise<string>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runNemesis(o: NemesisOptions): Promise<number> {
  let faults = 0;
  while (Date.now() < o.untilMs) {
    await sleep(o.random.int(500, 2_000));
    if (Date.now() >= o.untilMs) break;
    const kind = o.random.pick(o.kinds);
    const running = o.cluster.ids.filter((id) => o.cluster.isRunning(id));
    const leader = kind === 'kill-leader' || kind === 'partition-leader' ? await o.leaderOf()
      : kind === 'kill-controller' ? await o.controllerLeader() : undefined;
    const node = leader !== undefined && running.includes(leader) ? leader : o.random.pick(running);
    const holdMs = o.random.int(500, 3_000);
    faults += 1;
    if (kind === 'reassign') {
      const what = await o.reassign();
      o.progress(`fault ${faults}: ${what}`);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: `reassign: ${what}`, nodes: [] });
    } else if (kind === 'transfer') {
      // A leadership transfer storm: leaders asked to hand over again and again, mid-traffic.
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'transfer-storm', nodes: [] });
      const until = Date.now() + holdMs;
      let asked = 0;
      let agreed = 0;
      while (Date.now() < until) {
        asked += 1;
        if (await o.transferLeadership()) agreed += 1;
        await sleep(150);
      }
      o.progress(`fault ${faults}: leadership transfer storm for ${holdMs} ms (${agreed} of ${asked} transfers started)`);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'heal', nodes: [] });
    } else if (kind === 'split') {
      if (!o.network) throw new Error('split needs the nodes in network namespaces');
      // The largest minority: 1 of 3, 2 of 5 (they can still talk to each other, without a quorum).
      const minority = o.random.shuffle(o.cluster.ids).slice(0, Math.floor((o.cluster.ids.length - 1) / 2)).sort((a, b) => a - b);
      o.progress(`fault ${faults}: split nodes ${minority.join(', ')} from the majority for ${holdMs} ms`);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'split', nodes: minority });
      o.network.split(minority);
      await sleep(holdMs);
      o.network.healSplit(minority);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'heal', nodes: minority });
    } else if (kind === 'partition' || kind === 'partition-leader') {
      if (!o.network) throw new Error(`${kind} needs the nodes in network namespaces`);
      o.progress(`fault ${faults}: isolate node ${node}${kind === 'partition-leader' ? ' (a partition leader)' : ''} from the network for ${holdMs} ms`);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'isolate', nodes: [node] });
      o.network.isolate(node);
      await sleep(holdMs);
      o.network.heal(node);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'heal', nodes: [node] });
    } else if (kind === 'kill-majority') {
      // No quorum anywhere until they return: writes must fail or stay unknown, never be acked and lost.
      const majority = o.random.shuffle(running).slice(0, Math.floor(o.cluster.ids.length / 2) + 1).sort((a, b) => a - b);
      o.progress(`fault ${faults}: kill -9 a majority (nodes ${majority.join(', ')}), restart after ${holdMs} ms`);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'kill-majority', nodes: majority });
      await Promise.all(majority.map((id) => o.cluster.kill(id)));
      await sleep(holdMs);
      for (const id of majority) o.cluster.startNode(id);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'restart', nodes: majority });
    } else if (kind === 'kill-all') {
      o.progress(`fault ${faults}: kill -9 every node, restart all after ${holdMs} ms`);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'kill-all', nodes: running });
      await Promise.all(running.map((id) => o.cluster.kill(id)));
      await sleep(holdMs);
      for (const id of running) o.cluster.startNode(id);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'restart', nodes: running });
    } else if (kind === 'pause') {
      o.progress(`fault ${faults}: pause node ${node} for ${holdMs} ms`);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'pause', nodes: [node] });
      o.cluster.pause(node);
      await sleep(holdMs);
      o.cluster.resume(node);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'resume', nodes: [node] });
    } else if (kind === 'corrupt') {
      // One damaged node at a time, always a minority: what the others hold is the truth.
      await o.cluster.kill(node);
      const what = damageSegments(o.cluster.dataDir(node), o.random);
      o.progress(`fault ${faults}: kill -9 node ${node}, ${what}, restart after ${holdMs} ms`);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: `corrupt: ${what}`, nodes: [node] });
      await sleep(holdMs);
      o.cluster.startNode(node);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'restart', nodes: [node] });
    } else {
      const role = kind === 'kill-leader' ? ' (a partition leader)' : kind === 'kill-controller' && node === leader ? ' (the controller leader)' : '';
      o.progress(`fault ${faults}: kill -9 node ${node}${role}, restart after ${holdMs} ms`);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: kind === 'kill-leader' ? 'kill-leader' : 'kill', nodes: [node] });
      await o.cluster.kill(node);
      await sleep(holdMs);
      o.cluster.startNode(node);
      o.record({ kind: 'nemesis', timeMs: Date.now(), action: 'restart', nodes: [node] });
    }
  }
  return faults;
}
