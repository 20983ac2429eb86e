/**
 * Node-to-node cuts with nftables, inside one node's network namespace: every packet to or from
 * the given peer addresses is dropped (input and output, so established TCP connections stall
 * rather than reset), while the root namespace (the bridge address, where the chaos clients live)
 * stays reachable. This is a Jepsen-style partition: a client can still reach an old leader that
 * can no longer reach its peers, and that leader must then acknowledge nothing.
 *
 * All rules of a run live in one table per namespace; healing deletes the table.
 */
import { execFileSync } from 'node:child_process';

const table = 'inet ferry_chaos';

/** Throws a specific error when `nft` is not installed: a cut must never silently do nothing. */
export function requireNft(kinds: readonly string[]): void {
  try {
    execFileSync('nft', ['--version'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(`nemesis ${kinds.join(', ')} cut${kinds.length === 1 ? 's' : ''} node-to-node traffic with nftables, but ${missing ? '`nft` is not installed (apt-get install nftables)' : `\`nft --version\` failed: ${err instanceof Error ? err.message : String(err)}`}; install it or leave ${kinds.join(', ')} out of --nemesis`);
  }
}

function nftIn(namespace: string, script: string): void {
  try {
    execFileSync('ip', ['netns', 'exec', namespace, 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`nft in namespace ${namespace} failed: ${stderr || (err instanceof Error ? err.message : String(err))}`);
  }
}

/** Replaces the namespace's cut with one dropping all traffic to and from `peers` (IPv4 addresses). */
export function dropPeers(namespace: string, peers: readonly string[]): void {
  if (peers.length === 0) throw new Error(`a cut in ${namespace} needs at least one peer address`);
  const set = `{ ${peers.join(', ')} }`;
  // "table X; delete table X" first makes the replace atomic whether or not the table exists.
  nftIn(namespace, [
    `table ${table}`,
    `delete table ${table}`,
    `table ${table} {`,
    `  chain input { type filter hook input priority 0; policy accept; ip saddr ${set} drop; }`,
    `  chain output { type filter hook output priority 0; policy accept; ip daddr ${set} drop; }`,
    '}',
  ].join('\n') + '\n');
}

/** Removes the namespace's cut (nothing happens when there is none). */
export function clearCut(namespace: string): void {
  nftIn(namespace, `table ${table}\ndelete table ${table}\n`);
}
