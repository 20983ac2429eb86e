/**
 * Faults on a schedule drawn from one seed: kill -9 a node (then restart it), pause it
 * (SIGSTOP, then SIGCONT), kill the leader of a partition, or kill -9 every node at once and
 * restart them all (promise 1 covers that too), or cut a node (or a partition leader) off the
 * network, split a minority off, storm leaders with transfer requests, damage a stopped node's
 * segment files (bit flips or truncation), or move a partition to a random replica set (the move
 * runs on while later faults hit). The "-peers" partitions and the bridge cut node-to-node
 * traffic only (nftables), so clients still reach every node, an isolated old leader included.
 * One fault at a time, each held for a while and then healed.
 */
import { damageSegments } from './disk-corruption.js';
import type { LocalCluster } from './local-cluster.js';
import type { NetnsNetwork } from './netns.js';
import type { NemesisEvent } from './history.js';
import type { SeededRandom } from './prng.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const faultKinds = [
  'kill', 'pause', 'kill-leader', 'kill-controller', 'kill-majority', 'kill-all', 'partition', 'partition-leader', 'split', 'corrupt', 'transfer',
  'reassign', 'partition-peers', 'bridge', 'split-peers',
] as const;
export type FaultKind = (typeof faultKinds)[number];
/** Fault kinds that cut only node-to-node traffic, with nftables (clients keep reaching every node). */
export const nftFaultKinds: readonly FaultKind[] = ['partition-peers', 'bridge', 'split-peers'];
/** Fault kinds that need each node in its own network namespace. */
export const networkFaultKinds: readonly FaultKind[] = ['partition', 'partition-leader', 'split', ...nftFaultKinds];

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


/** Records `action`, applies the fault, holds it, undoes it and records `undone`. */
async function hold(o: NemesisOptions, action: string, nodes: readonly number[], holdMs: number,
  apply: () => unknown, undo: () => unknown, undone = 'heal'): Promise<void> {
  o.record({ kind: 'nemesis', timeMs: Date.now(), action, nodes });
  await apply();
  await sleep(holdMs);
  await undo();
  o.record({ kind: 'nemesis', timeMs: Date.now(), action: undone, nodes });
}

const byId = (a: number, b: number): number => a - b;

/** The largest minority, drawn at random: 1 of 3, 2 of 5 (together still without a quorum). */
function minorityOf(o: NemesisOptions): number[] {
  return o.random.shuffle(o.cluster.ids).slice(0, Math.floor((o.cluster.ids.length - 1) / 2)).sort(byId);
}

function networkOf(o: NemesisOptions, kind: FaultKind): NetnsNetwork {
  if (!o.network) throw new Error(`${kind} needs the nodes in network namespaces`);
  return o.network;
}

export async function runNemesis(o: NemesisOptions): Promise<number> {
  let faults = 0;
  while (Date.now() < o.untilMs) {
    await sleep(o.random.int(500, 2_000));
    if (Date.now() >= o.untilMs) break;
    const kind = o.random.pick(o.kinds);
    const running = o.cluster.ids.filter((id) => o.cluster.isRunning(id));
    const leader = kind === 'kill-leader' || kind === 'partition-leader' || kind === 'partition-peers' ? await o.leaderOf()
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
      const net = networkOf(o, kind);
      // They can still talk to each other, without a quorum; the clients cannot reach them.
      const minority = minorityOf(o);
      o.progress(`fault ${faults}: split nodes ${minority.join(', ')} from the majority for ${holdMs} ms`);
      await hold(o, 'split', minority, holdMs, () => net.split(minority), () => net.healSplit(minority));
    } else if (kind === 'split-peers') {
      const net = networkOf(o, kind);
      const minority = minorityOf(o);
      const majority = o.cluster.ids.filter((id) => !minority.includes(id));
      o.progress(`fault ${faults}: split nodes ${minority.join(', ')} from the majority (peers only: clients still reach all) for ${holdMs} ms`);
      await hold(o, 'split-peers', minority, holdMs, () => net.cutBetween(minority, majority), () => net.healCuts());
    } else if (kind === 'bridge') {
      const net = networkOf(o, kind);
      // Jepsen's bridge: two halves that cannot talk to each other, and one node that sees both.
      const [bridge, ...rest] = o.random.shuffle(o.cluster.ids);
      const half = Math.ceil(rest.length / 2);
      const [a, b] = [rest.slice(0, half).sort(byId), rest.slice(half).sort(byId)].sort((x, y) => x[0]! - y[0]!) as [number[], number[]];
      o.progress(`fault ${faults}: bridge: nodes ${a.join(', ')} and ${b.join(', ')} cut from each other, node ${bridge} sees both (peers only: clients still reach all) for ${holdMs} ms`);
      await hold(o, 'bridge', [...a, ...b], holdMs, () => net.cutBetween(a, b), () => net.healCuts());
    } else if (kind === 'partition-peers') {
      const net = networkOf(o, kind);
      const peers = o.cluster.ids.filter((id) => id !== node);
      o.progress(`fault ${faults}: cut node ${node}${node === leader ? ' (a partition leader)' : ''} off from its peers (clients still reach it) for ${holdMs} ms`);
      await hold(o, 'isolate-peers', [node], holdMs, () => net.cutBetween([node], peers), () => net.healCuts());
    } else if (kind === 'partition' || kind === 'partition-leader') {
      const net = networkOf(o, kind);
      o.progress(`fault ${faults}: isolate node ${node}${kind === 'partition-leader' ? ' (a partition leader)' : ''} from the network for ${holdMs} ms`);
      await hold(o, 'isolate', [node], holdMs, () => net.isolate(node), () => net.heal(node));
    } else if (kind === 'kill-majority') {
      // No quorum anywhere until they return: writes must fail or stay unknown, never be acked and lost.
      const majority = o.random.shuffle(running).slice(0, Math.floor(o.cluster.ids.length / 2) + 1).sort(byId);
      o.progress(`fault ${faults}: kill -9 a majority (nodes ${majority.join(', ')}), restart after ${holdMs} ms`);
      await hold(o, 'kill-majority', majority, holdMs, () => Promise.all(majority.map((id) => o.cluster.kill(id))),
        () => majority.forEach((id) => o.cluster.startNode(id)), 'restart');
    } else if (kind === 'kill-all') {
      o.progress(`fault ${faults}: kill -9 every node, restart all after ${holdMs} ms`);
      await hold(o, 'kill-all', running, holdMs, () => Promise.all(running.map((id) => o.cluster.kill(id))),
        () => running.forEach((id) => o.cluster.startNode(id)), 'restart');
    } else if (kind === 'pause') {
      o.progress(`fault ${faults}: pause node ${node} for ${holdMs} ms`);
      await hold(o, 'pause', [node], holdMs, () => o.cluster.pause(node), () => o.cluster.resume(node), 'resume');
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
      await hold(o, kind === 'kill-leader' ? 'kill-leader' : 'kill', [node], holdMs, () => o.cluster.kill(node), () => o.cluster.startNode(node), 'restart');
    }
  }
  return faults;
}
