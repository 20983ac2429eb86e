/**
 * Replica placement for a new topic: spread replicas and preferred leaders evenly over the live
 * brokers (and over racks when brokers have them), the way Kafka's rack-aware assignor does.
 * Deterministic: the same brokers, counts and start index give the same assignment, so the
 * controller leader can compute it once and every replica of the controller log applies the
 * same decision.
 */

export interface PlacementBroker {
  readonly nodeId: number;
  /** Rack or zone label; "" when unknown. */
  readonly rack: string;
}

export type PlacementResult = { ok: true; replicas: number[][] } | { ok: false; problem: string };

/**
 * Orders brokers so that consecutive entries alternate racks (r1-a, r2-a, r3-a, r1-b, …); with no
 * racks it is simply ascending node id.
 */
function rackAlternatingOrder(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string, PlacementBroker[]>();
  for (const b of [...brokers].sort((x, y) => x.nodeId - y.nodeId)) {
    const list = byRack.get(b.rack) ?? [];
    list.push(b);
    byRack.set(b.rack, list);
  }
  const racks = [...byRack.keys()].sort();
  const out: PlacementBroker[] = [];
  for (let round = 0; out.length < brokers.length; round += 1) {
    for (const rack of racks) {
      const b = byRack.get(rack)![round];
      if (b) out.push(b);
    }
  }
  return out;
}

/**
 * Partition p's preferred leader is broker (start + p) in rack-alternating order; followers
 * follow at a shift that grows every full round, so follower load spreads too (Kafka's scheme).
 * `startIndex` lets the controller rotate the first leader between topics.
 */
export function placeReplicas(
  brokers: readonly PlacementBroker[],
  partitionCount: number,
  replicationFactor: number,
  startIndex: number,
): PlacementResult {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    return { ok: false, problem: `partitions must be an integer >= 1, got ${partitionCount}` };
  }
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
    return { ok: false, problem: `replication factor must be an integer >= 1, got ${replicationFactor}` };
  }
  if (replicationFactor > brokers.length) {
    return {
      ok: false,
      problem: `replication factor ${replicationFactor} is larger than the ${brokers.length} live broker(s); ` +
        'lower it or start more brokers',
    };
  }
  const ordered = rackAlternatingOrder(brokers);
  const n = ordered.length;
  const start = ((startIndex % n) + n) % n;
  const replicas: number[][] = [];
  for (let p = 0; p < partitionCount; p += 1) {
    const leaderPos = (start + p) % n;
    // Followers sit at 1 + ((shift + j) mod (n-1)) past the leader: always 1..n-1 away, so never
    // the leader and distinct for rf <= n. The shift changes each full round over the brokers.
    const shift = n > 1 ? Math.floor((start + p) / n) % (n - 1) : 0;
    const set = [ordered[leaderPos]!.nodeId];
    for (let j = 0; j < replicationFactor - 1; j += 1) {
      set.push(ordered[(leaderPos + 1 + ((shift + j) % (n - 1))) % n]!.nodeId);
    }
    if (new Set(set).size !== set.length) {
      throw new Error(`placement invariant broken: duplicate broker in ${JSON.stringify(set)}`);
    }
    replicas.push(set);
  }
  return { ok: true, replicas };
}

export interface ReplacementCandidate extends PlacementBroker {
  /** Registered and not fenced: may receive a new replica. */
  readonly live: boolean;
}

/**
 * The broker to take over `leaving`'s replica of a partition (reassignment off a dead broker): a
 * live broker that is not already a replica, preferring one whose rack the remaining replicas do
 * not use (so a move keeps the spread placement gave the partition), then the one hosting the
 * fewest replicas (`load`), then the lowest id. Undefined when no broker qualifies.
 */
export function chooseReplacement(
  brokers: readonly ReplacementCandidate[],
  replicas: readonly number[],
  leaving: number,
  load: ReadonlyMap<number, number>,
): number | undefined {
  if (!replicas.includes(leaving)) throw new Error(`node ${leaving} is not a replica of ${JSON.stringify(replicas)}`);
  const rackOf = new Map(brokers.map((b) => [b.nodeId, b.rack]));
  const usedRacks = new Set(replicas.filter((id) => id !== leaving).map((id) => rackOf.get(id) ?? ''));
  const candidates = brokers.filter((b) => b.live && !replicas.includes(b.nodeId));
  const score = (b: ReplacementCandidate): [number, number, number] => [b.rack !== '' && !usedRacks.has(b.rack) ? 0 : 1, load.get(b.nodeId) ?? 0, b.nodeId];
  candidates.sort((x, y) => {
    const a = score(x);
    const b = score(y);
    return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  });
  return candidates[0]?.nodeId;
}
