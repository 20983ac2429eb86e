/**
 * Real network partitions for chaos runs: each node in its own network namespace with a veth
 * pair on a bridge in the root namespace (addresses in a private /24 that exists only inside this
 * run's namespaces). Isolating a node sets its bridge port down; healing sets it up again. A split
 * moves a minority's ports to a second bridge that leads nowhere else: they still reach each
 * other, but neither the majority nor the root namespace (clients); healing moves them back. Both
 * cut the clients off too. Peer cuts (nftables, `cutBetween`) drop only node-to-node traffic
 * between two sides, so clients keep reaching every node. Needs root and iproute2 (`ip`), and
 * nftables (`nft`) for peer cuts. Interface names carry a per-run tag so concurrent runs and
 * cleanup never touch each other's namespaces.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { clearCut, dropPeers } from './nft-cuts.js';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export class NetnsNetwork {
  private readonly tag = randomBytes(3).toString('hex');
  private readonly subnet = `10.${200 + randomInt(50)}.${randomInt(256)}`;
  private readonly created: number[] = [];
  private bridgeUp = false;
  private sideBridgeUp = false;
  /** Nodes whose namespace holds an nftables cut now. */
  private readonly cut = new Set<number>();

  private constructor() {}

  /** Creates the bridge and one namespace per node id; throws a clear error without root. */
  static create(ids: readonly number[]): NetnsNetwork {
    if (process.getuid?.() !== 0) throw new Error('network partitions need root (they use ip netns); run as root or drop the partition nemesis');
    const net = new NetnsNetwork();
    try {
      ip('link', 'add', net.bridge, 'type', 'bridge');
      net.bridgeUp = true;
      ip('addr', 'add', `${net.subnet}.1/24`, 'dev', net.bridge);
      ip('link', 'set', net.bridge, 'up');
      ip('link', 'add', net.sideBridge, 'type', 'bridge');
      net.sideBridgeUp = true;
      ip('link', 'set', net.sideBridge, 'up');
      for (const id of ids) net.addNode(id);
    } catch (err) {
      net.teardown();
      throw new Error(`could not build the chaos network: ${err instanceof Error ? err.message : String(err)}`);
    }
    return net;
  }

  private get bridge(): string {
    return `fbr${this.tag}`;
  }

  private get sideBridge(): string {
    return `fbs${this.tag}`;
  }

  private veth(id: number): string {
    return `fve${this.tag}${id}`;
  }

  namespaceOf(id: number): string {
    return `fns${this.tag}-${id}`;
  }

  /** The node's IP (reachable from the root namespace through the bridge). */
  hostOf(id: number): string {
    return `${this.subnet}.${10 + id}`;
  }

  private addNode(id: number): void {
    const ns = this.namespaceOf(id);
    ip('netns', 'add', ns);
    this.created.push(id);
    ip('link', 'add', this.veth(id), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('link', 'set', this.veth(id), 'master', this.bridge);
    ip('link', 'set', this.veth(id), 'up');
    ip('-n', ns, 'addr', 'add', `${this.hostOf(id)}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }

  /** Cuts the node off from everyone (its bridge port goes down). */
  isolate(id: number): void {
    ip('link', 'set', this.veth(id), 'down');
  }

  heal(id: number): void {
    ip('link', 'set', this.veth(id), 'up');
  }

  /** Splits `minority` off: they keep talking to each other, not to anyone else. */
  split(minority: readonly number[]): void {
    for (const id of minority) ip('link', 'set', this.veth(id), 'master', this.sideBridge);
  }

  healSplit(minority: readonly number[]): void {
    for (const id of minority) ip('link', 'set', this.veth(id), 'master', this.bridge);
  }

  /**
   * Nodes of `a` and nodes of `b` stop reaching each other (both directions, in every namespace
   * involved); every other path, the clients' included, stays. Replaces any earlier peer cut.
   */
  cutBetween(a: readonly number[], b: readonly number[]): void {
    if (a.length === 0 || b.length === 0 || a.some((id) => b.includes(id))) {
      throw new Error(`a peer cut needs two disjoint, non-empty sides; got [${a.join(', ')}] and [${b.join(', ')}]`);
    }
    // Namespaces in the new cut get theirs replaced atomically (dropPeers); only the rest heal.
    for (const id of [...this.cut]) {
      if (a.includes(id) || b.includes(id)) continue;
      clearCut(this.namespaceOf(id));
      this.cut.delete(id);
    }
    const sides: Array<[readonly number[], readonly number[]]> = [[a, b], [b, a]];
    for (const [side, other] of sides) {
      for (const id of side) {
        this.cut.add(id);
        dropPeers(this.namespaceOf(id), other.map((o) => this.hostOf(o)));
      }
    }
  }

  /** Removes every peer cut. */
  healCuts(): void {
    for (const id of [...this.cut]) {
      clearCut(this.namespaceOf(id));
      this.cut.delete(id);
    }
  }

  /** Removes every namespace and the bridge this run created (the veths go with them). */
  teardown(): void {
    this.cut.clear(); // the tables go with their namespaces
    for (const id of this.created.splice(0)) {
      try {
        ip('netns', 'del', this.namespaceOf(id));
      } catch {
        // Already gone.
      }
    }
    if (this.sideBridgeUp) {
      try {
        ip('link', 'del', this.sideBridge);
      } catch {
        // Already gone.
      }
      this.sideBridgeUp = false;
    }
    if (this.bridgeUp) {
      try {
        ip('link', 'del', this.bridge);
      } catch {
        // Already gone.
      }
      this.bridgeUp = false;
    }
  }
}
