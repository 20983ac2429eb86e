/**
 * What the client knows of the cluster: brokers, topics and partition leaders. Bootstraps from
 * any of the given addresses; a partition's leader is learned from metadata or from NOT_LEADER
 * hints, and forgotten when a request to it fails, so the next call asks again.
 */
import type { MetadataResponse__Output } from '../proto/gen/ferry/v1/MetadataResponse.js';
import { type ConnectionPool, unary } from './connection-pool.js';
import { FerryError, type FerryErrorCode } from './errors.js';

export interface TopicView {
  readonly name: string;
  readonly partitions: ReadonlyArray<{ readonly partition: number; readonly replicas: readonly number[] }>;
}

/** Extra metadata lookups for a topic not (yet) known: 100+200+400+800 ms of waiting. */
const unknownTopicRetries = 4;

/**
 * Errors after which the node asked may not be the partition's (reachable) leader. An unknown
 * topic or partition is among them: the node asked may not have applied the metadata yet.
 */
const leaderInDoubtCodes: ReadonlySet<FerryErrorCode> = new Set<FerryErrorCode>([
  'UNAVAILABLE', 'TIMEOUT', 'NOT_LEADER', 'LEADER_NOT_AVAILABLE', 'NOT_ENOUGH_REPLICAS', 'INTERNAL', 'UNKNOWN_TOPIC_OR_PARTITION',
]);

export class MetadataCache {
  private readonly brokers = new Map<number, string>();
  private readonly topics = new Map<string, TopicView>();
  private readonly leaders = new Map<string, number>();
  private next = 0;
  /** Refreshes under way, by requested topic list: concurrent callers share one RPC. */
  private readonly inflight = new Map<string, Promise<MetadataResponse__Output>>();

  constructor(private readonly pool: ConnectionPool, private readonly bootstrap: readonly string[], private readonly requestTimeoutMs: number) {
    if (bootstrap.length === 0) throw new FerryError('INVALID_REQUEST', 'give at least one bootstrap address (host:port)', false);
  }

  /** Any known node, round-robin over brokers (then bootstrap addresses). */
  anyAddress(): string {
    const all = this.brokers.size > 0 ? [...this.brokers.values()] : [...this.bootstrap];
    this.next = (this.next + 1) % all.length;
    return all[this.next]!;
  }

  addressOf(nodeId: number): string | undefined {
    return this.brokers.get(nodeId);
  }

  brokerList(): ReadonlyMap<number, string> {
    return this.brokers;
  }

  refresh(topics: readonly string[] = []): Promise<MetadataResponse__Output> {
    const key = [...topics].sort().join(',');
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchMetadata(topics).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetchMetadata(topics: readonly string[]): Promise<MetadataResponse__Output> {
    let lastError: unknown;
    const candidates = [...new Set([...this.brokers.values(), ...this.bootstrap])];
    for (let i = 0; i < candidates.length; i += 1) {
      const address = candidates[(this.next + i) % candidates.length]!;
      try {
        const md = await unary<object, MetadataResponse__Output>(this.pool.get(address), 'Metadata', { topics }, this.requestTimeoutMs);
        this.absorb(md);
        return md;
      } catch (err) {
        lastError = err;
      }
    }
    throw new FerryError('UNAVAILABLE', `no node answered Metadata (tried ${candidates.join(', ')})`, true, undefined, { cause: lastError });
  }

  private absorb(md: MetadataResponse__Output): void {
    for (const b of md.brokers) this.brokers.set(b.nodeId, b.address);
    for (const t of md.topics) {
      if (t.error?.code !== 'ERROR_CODE_NONE') {
        this.topics.delete(t.name);
        continue;
      }
      this.topics.set(t.name, { name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, replicas: p.replicas })) });
      for (const p of t.partitions) if (p.leaderId > 0) this.leaders.set(`${t.name}/${p.partition}`, p.leaderId);
    }
  }

  /** The topic if it is already known (no RPC): the producer's per-record fast path. */
  knownTopic(name: string): TopicView | undefined {
    return this.topics.get(name);
  }

  /**
   * The topic, refreshing if unknown. A topic just created may reach the node asked a moment
   * after the controller committed it, so an unknown topic is asked for a few more times
   * (about 1.5 s in all) before UNKNOWN_TOPIC_OR_PARTITION.
   */

  async topic(name: string): Promise<TopicView> {
    for (let attempt = 0; ; attempt += 1) {
      const known = this.topics.get(name);
      if (known) return known;
      const md = await this.refresh([name]);
      const t = md.topics.find((x) => x.name === name);
      const err = FerryError.fromWire(t?.error, `topic ${name}`) ??
        (this.topics.has(name) ? undefined : new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${name}" does not exist`, false));
      if (!err) return this.topics.get(name)!;
      if (err.code !== 'UNKNOWN_TOPIC_OR_PARTITION' || attempt >= unknownTopicRetries) throw err;
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  }

  /** Where to send requests for a partition: the known leader, else its preferred replica. */
  async leaderAddress(topic: string, partition: number): Promise<string> {
    const t = await this.topic(topic);
    const p = t.partitions[partition];
    if (!p) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" has ${t.partitions.length} partitions, not ${partition + 1}+`, false);
    const leader = this.leaders.get(`${topic}/${partition}`) ?? p.replicas[0]!;
    return this.brokers.get(leader) ?? this.anyAddress();
  }

  /**
   * Learns from an error: a NOT_LEADER hint names the leader; a failure that says the node may
   * not be the (reachable) leader moves on to the next replica. An answer about the request itself
   * (a sequence gap, a fenced producer, an offset out of range, throttling) came from the leader:
   * it stays.
   */
  learn(topic: string, partition: number, err: FerryError): void {
    const key = `${topic}/${partition}`;
    if (err.leaderHint) {
      this.leaders.set(key, err.leaderHint.nodeId);
      this.brokers.set(err.leaderHint.nodeId, err.leaderHint.address);
    } else if (leaderInDoubtCodes.has(err.code)) {
      // Rotate to the next replica so a dead leader does not stall the client.
      const p = this.topics.get(topic)?.partitions[partition];
      const current = this.leaders.get(key) ?? p?.replicas[0];
      if (p && current !== undefined) {
        const i = p.replicas.indexOf(current);
        this.leaders.set(key, p.replicas[(i + 1) % p.replicas.length]!);
      }
    }
    if (err.code === 'UNKNOWN_TOPIC_OR_PARTITION') this.topics.delete(topic);
  }
}
