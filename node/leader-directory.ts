/**
 * Who leads each Raft group, as far as this node knows: from its own groups' status and from the
 * leader reports peers send in their frames. A report with a higher term wins; a dead leader's
 * entry stays until a successor reports (clients then follow NOT_LEADER hints or retry), which is
 * what Kafka clients see between a leader's death and the next metadata update too.
 */
export interface LeaderInfo {
  readonly nodeId: number;
  readonly term: number;
}

export class LeaderDirectory {
  private readonly leaders = new Map<string, LeaderInfo>();

  /** Records that `nodeId` leads `group` in `term`; returns whether anything changed. */
  report(group: string, nodeId: number, term: number): boolean {
    if (!(nodeId > 0)) return false;
    const known = this.leaders.get(group);
    if (known && (known.term > term || (known.term === term && known.nodeId === nodeId))) return false;
    this.leaders.set(group, { nodeId, term });
    return true;
  }

  leaderOf(group: string): LeaderInfo | undefined {
    return this.leaders.get(group);
  }

  forget(group: string): void {
    this.leaders.delete(group);
  }

  /** Forgets every group not in `live` (deleted topics), so the map cannot grow without bound. */
  retainOnly(live: ReadonlySet<string>): void {
    for (const group of this.leaders.keys()) if (!live.has(group)) this.leaders.delete(group);
  }
}
