/**
 * Checks a recorded chaos history against Ferry's promises, Jepsen-style. Every anomaly comes
 * with a concrete example. Pure: unit-tested on hand-made histories (test/chaos/checker.test.ts).
 *
 *   lost-write            acknowledged, absent from the final read although later offsets are there (promise 1)
 *   unseen                acknowledged, absent from the final read, nothing later there either (promise 1)
 *   wrong-offset          acknowledged at offset O, but read at another offset (promise 2)
 *   failed-but-present    reported as definitely failed, yet read (a lying error)
 *   duplicate             one attempt's value at two offsets (retries without idempotence)
 *   inconsistent-offsets  two reads (any replicas, any time) disagree on the value at an offset (promise 2)
 *   nonmonotonic-send     one producer's acknowledged offsets go backwards within a partition
 *   poll-skip             a consumer's next poll jumped over a data record of the final log
 *   nonmonotonic-poll     a consumer's next poll went back to (or before) what it already had
 *                         (both per consumer and partition; a group member's continuity restarts
 *                         at each of its rebalance markers: a new owner resumes at the committed offset)
 *   group-skip            a consumer group's committed offset (after the final heal) is above a data
 *                         record of the final log that no member was ever handed (promise 3)
 *   lost-commit           an acknowledged offset commit is above the group's committed offset after
 *                         the final heal (commits only move forward under one owner; promise 3)
 *   uncommitted-read      a value read during the run that was never acknowledged and is not in the final log
 *   unexpected            a value nobody tried to write (corruption)
 *
 * Also availability, from the history alone: per partition the longest window in which no produce
 * succeeded, and per leader kill the time until every partition had an acknowledged produce that
 * started after the kill (its median and maximum).
 */
import { controlMarkerPrefix } from './fetched-records.js';
import type { GroupOffsetsEvent, HistoryEvent, NemesisEvent, PollEvent, ProduceEvent, ReadEvent, RebalanceEvent } from './history.js';

export const anomalyKinds = [
  'lost-write', 'unseen', 'wrong-offset', 'failed-but-present', 'duplicate', 'inconsistent-offsets', 'nonmonotonic-send',
  'poll-skip', 'nonmonotonic-poll', 'group-skip', 'lost-commit', 'uncommitted-read', 'unexpected',
] as const;
export type AnomalyKind = (typeof anomalyKinds)[number];

export interface Anomaly {
  readonly kind: AnomalyKind;
  readonly partition: number;
  readonly detail: string;
}

export interface CheckResult {
  readonly valid: boolean;
  readonly anomalies: readonly Anomaly[];
  readonly counts: Record<AnomalyKind, number>;
  readonly stats: {
    attempts: number; acked: number; failed: number; unknown: number; unknownPresent: number; finalRecords: number; polls: number;
    /** Group members' acknowledged offset commits and rebalance markers. */
    commits: number; rebalances: number;
  };
  readonly availability: Availability;
}

export interface Availability {
  /** Per partition: the longest time (ms) in which no produce to it was acknowledged. */
  readonly longestNoAckMs: Readonly<Record<number, number>>;
  /** Leader kills, and the time (ms) from each until every partition acknowledged a produce started after it. */
  readonly leaderKills: number;
  readonly leaderKillToAckMedianMs: number | null;
  readonly leaderKillToAckMaxMs: number | null;
}

/** Anomalies that break a promise; duplicates do too when the producers were idempotent (duplicatesAreFatal). */
const fatalKinds: ReadonlySet<AnomalyKind> = new Set(anomalyKinds.filter((k) => k !== 'duplicate'));

export interface CheckOptions {
  readonly duplicatesAreFatal?: boolean;
  /**
   * With retention on: per partition, the log start of the final reads. Acknowledged writes
   * below it were retained away, not lost (everything else is checked as usual).
   */
  readonly logStarts?: ReadonlyMap<number, number>;
}

export function checkHistory(history: readonly HistoryEvent[], options: CheckOptions = {}): CheckResult {
  const produces = new Map<string, ProduceEvent>();
  for (const e of history) if (e.kind === 'produce') produces.set(e.value, e);
  const reads = history.filter((e): e is ReadEvent => e.kind === 'read');
  const anomalies: Anomaly[] = [];
  const add = (kind: AnomalyKind, partition: number, detail: string): void => {
    anomalies.push({ kind, partition, detail });
  };

  // One history per partition: every read of an offset, from any replica at any time, agrees.
  const seenAt = new Map<string, { value: string; reader: string }>();
  for (const r of reads) {
    for (const { offset, value } of r.records) {
      const key = `${r.partition}/${offset}`;
      const prev = seenAt.get(key);
      if (prev && prev.value !== value) {
        add('inconsistent-offsets', r.partition, `offset ${offset}: ${prev.reader} read "${prev.value}", ${r.reader} read "${value}"`);
      } else if (!prev) {
        seenAt.set(key, { value, reader: r.reader });
      }
      if (!produces.has(value) && !value.startsWith(controlMarkerPrefix)) {
        add('unexpected', r.partition, `${r.reader} read "${value}" at offset ${offset}, which nobody wrote`);
      }
    }
  }

  // The final reads (one per replica per partition) decide what survived.
  const finalOffsets = new Map<string, Set<number>>(); // value -> offsets it sits at (per partition)
  const finalValueAt = new Map<string, string>(); // partition/offset -> value (markers included)
  const finalEnd = new Map<number, number>(); // partition -> highest offset in the final reads
  let finalRecords = 0;
  const finalPartitions = new Set<number>();
  for (const r of reads.filter((x) => x.final)) {
    finalPartitions.add(r.partition);
    for (const { offset, value } of r.records) {
      finalValueAt.set(`${r.partition}/${offset}`, value);
      finalEnd.set(r.partition, Math.max(finalEnd.get(r.partition) ?? -1, offset));
      if (value.startsWith(controlMarkerPrefix)) continue;
      const k = `${r.partition}|${value}`;
      const set = finalOffsets.get(k) ?? new Set<number>();
      if (set.size === 0) finalRecords += 1;
      set.add(offset);
      finalOffsets.set(k, set);
    }
  }

  let acked = 0;
  let failed = 0;
  let unknown = 0;
  let unknownPresent = 0;
  for (const p of produces.values()) {
    const offsets = finalOffsets.get(`${p.partition}|${p.value}`);
    if (offsets && offsets.size > 1) add('duplicate', p.partition, `"${p.value}" sits at offsets ${[...offsets].sort((a, b) => a - b).join(', ')}`);
    switch (p.outcome.type) {
      case 'ok':
        acked += 1;
        if (!finalPartitions.has(p.partition)) break; // no final read of that partition (reported by the run)
        if (!offsets && p.outcome.offset < (options.logStarts?.get(p.partition) ?? 0)) break; // retained away
        if (!offsets) {
          const later = (finalEnd.get(p.partition) ?? -1) > p.outcome.offset;
          add(later ? 'lost-write' : 'unseen', p.partition,
            `"${p.value}" was acknowledged at offset ${p.outcome.offset} but is not in the final read${later ? ', which holds later offsets' : ''}`);
        } else if (!offsets.has(p.outcome.offset)) {
          add('wrong-offset', p.partition, `"${p.value}" was acknowledged at offset ${p.outcome.offset} but sits at ${[...offsets].join(', ')}`);
        }
        break;
      case 'fail':
        failed += 1;
        if (offsets) add('failed-but-present', p.partition, `"${p.value}" was reported failed (${p.outcome.code}) but sits at offset ${[...offsets][0]}`);
        break;
      case 'info':
        unknown += 1;
        if (offsets) unknownPresent += 1;
        break;
    }
  }

  checkSends(produces.values(), add);
  const logStartOf = (partition: number): number => options.logStarts?.get(partition) ?? 0;
  const polls = history.filter((e): e is PollEvent => e.kind === 'poll');
  checkPolls(history, finalValueAt, finalPartitions, logStartOf, add);
  checkGroups(history, finalValueAt, finalPartitions, logStartOf, add);

  // Read during the run, never acknowledged, and not in the final log: served before it committed.
  const reported = new Set<string>();
  const duringRun = [...reads.filter((r) => !r.final).map((r) => ({ who: r.reader, partition: r.partition, records: r.records })),
    ...polls.map((p) => ({ who: p.consumer, partition: p.partition, records: p.records }))];
  for (const r of duringRun) {
    if (!finalPartitions.has(r.partition)) continue;
    for (const { offset, value } of r.records) {
      if (value.startsWith(controlMarkerPrefix) || offset < logStartOf(r.partition) || reported.has(value)) continue;
      const p = produces.get(value);
      if (p && p.outcome.type !== 'ok' && !finalOffsets.has(`${r.partition}|${value}`)) {
        reported.add(value);
        add('uncommitted-read', r.partition, `${r.who} read "${value}" at offset ${offset}; it was never acknowledged (${p.outcome.code}) and is not in the final log`);
      }
    }
  }

  const counts = Object.fromEntries(anomalyKinds.map((k) => [k, 0])) as Record<AnomalyKind, number>;
  for (const a of anomalies) counts[a.kind] += 1;
  const fatal = anomalies.some((a) => fatalKinds.has(a.kind) || (options.duplicatesAreFatal === true && a.kind === 'duplicate'));
  return {
    valid: !fatal, anomalies, counts,
    stats: {
      attempts: produces.size, acked, failed, unknown, unknownPresent, finalRecords, polls: polls.length,
      commits: history.filter((e) => e.kind === 'commit' && e.error === undefined).length,
      rebalances: history.filter((e) => e.kind === 'rebalance').length,
    },
    availability: availabilityOf(history, [...produces.values()]),
  };
}

type AddAnomaly = (kind: AnomalyKind, partition: number, detail: string) => void;

/** Each producer sends one value at a time: its acknowledged offsets in a partition must rise. */
function checkSends(produces: Iterable<ProduceEvent>, add: AddAnomaly): void {
  const last = new Map<string, { offset: number; value: string }>();
  const ordered = [...produces].filter((p) => p.outcome.type === 'ok').sort((a, b) => a.startMs - b.startMs);
  for (const p of ordered) {
    if (p.outcome.type !== 'ok') continue; // narrows the type; the filter took the rest
    const key = `${p.process}/${p.partition}`;
    const prev = last.get(key);
    if (prev && p.outcome.offset <= prev.offset) {
      add('nonmonotonic-send', p.partition, `${p.process} had "${prev.value}" acknowledged at offset ${prev.offset}, then "${p.value}" at ${p.outcome.offset}`);
    }
    last.set(key, { offset: p.outcome.offset, value: p.value });
  }
}

/**
 * A consumer's polls of a partition must continue where the last one ended: nothing it jumps
 * over may be a data record of the final log (control records and offsets retention removed are
 * not handed to consumers), and it never goes back. A group member's rebalance marker for a
 * partition ends that run of polls: when it owns the partition again it resumes from the group's
 * committed offset, which may lie behind what it read before (group-skip checks that boundary).
 */
function checkPolls(
  history: readonly HistoryEvent[], finalValueAt: ReadonlyMap<string, string>, finalPartitions: ReadonlySet<number>,
  logStartOf: (partition: number) => number, add: AddAnomaly,
): void {
  const lastOffset = new Map<string, number>();
  // Sorting is stable: events with one timestamp keep the order they were recorded in.
  const events = history.filter((e): e is PollEvent | RebalanceEvent => e.kind === 'poll' || e.kind === 'rebalance').sort((a, b) => a.timeMs - b.timeMs);
  for (const p of events) {
    if (p.kind === 'rebalance') {
      for (const partition of p.partitions) lastOffset.delete(`${p.member}/${partition}`);
      continue;
    }
    const key = `${p.consumer}/${p.partition}`;
    for (const { offset } of p.records) {
      const prev = lastOffset.get(key);
      if (prev !== undefined && offset <= prev) {
        add('nonmonotonic-poll', p.partition, `${p.consumer} was handed offset ${offset} after offset ${prev}`);
      } else if (prev !== undefined && finalPartitions.has(p.partition)) {
        for (let o = Math.max(prev + 1, logStartOf(p.partition)); o < offset; o += 1) {
          const v = finalValueAt.get(`${p.partition}/${o}`);
          if (v !== undefined && !v.startsWith(controlMarkerPrefix)) {
            add('poll-skip', p.partition, `${p.consumer} went from offset ${prev} to ${offset}, skipping "${v}" at ${o}`);
            break;
          }
        }
      }
      lastOffset.set(key, Math.max(prev ?? -1, offset));
    }
  }
}

/**
 * A committed offset says "everything below was consumed". With the group's committed offsets as
 * the cluster serves them after the final heal: every data record of the final log from the log
 * start up to a partition's committed offset was handed to some member (group-skip), and no
 * acknowledged commit of a partition is above where the group ended (lost-commit).
 */
function checkGroups(
  history: readonly HistoryEvent[], finalValueAt: ReadonlyMap<string, string>, finalPartitions: ReadonlySet<number>,
  logStartOf: (partition: number) => number, add: AddAnomaly,
): void {
  for (const f of history.filter((e): e is GroupOffsetsEvent => e.kind === 'group-offsets')) {
    const handed = new Set<string>();
    for (const e of history) if (e.kind === 'poll' && e.group === f.group) for (const r of e.records) handed.add(`${e.partition}/${r.offset}`);
    for (const { partition, offset } of f.offsets) {
      if (!finalPartitions.has(partition)) continue;
      let first: { offset: number; value: string } | undefined;
      let unread = 0;
      for (let o = logStartOf(partition); o < offset; o += 1) {
        const v = finalValueAt.get(`${partition}/${o}`);
        if (v === undefined || v.startsWith(controlMarkerPrefix) || handed.has(`${partition}/${o}`)) continue;
        first ??= { offset: o, value: v };
        unread += 1;
      }
      if (first) {
        add('group-skip', partition, `group ${f.group} committed offset ${offset}, but no member was ever handed "${first.value}" at offset ${first.offset}` +
          (unread > 1 ? ` (${unread} records below it unread)` : ''));
      }
    }
    const ended = new Map(f.offsets.map((o) => [o.partition, o.offset]));
    const highest = new Map<number, { offset: number; member: string; generation: number }>();
    for (const e of history) {
      if (e.kind !== 'commit' || e.group !== f.group || e.error !== undefined) continue;
      for (const { partition, offset } of e.offsets) {
        if (offset > (highest.get(partition)?.offset ?? -1)) highest.set(partition, { offset, member: e.member, generation: e.generation });
      }
    }
    for (const [partition, c] of highest) {
      const end = ended.get(partition) ?? -1;
      if (end < c.offset) {
        add('lost-commit', partition, `group ${f.group}: ${c.member} had offset ${c.offset} acknowledged in generation ${c.generation}, ` +
          `but the group's committed offset after healing is ${end < 0 ? 'none' : end}`);
      }
    }
  }
}

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

function availabilityOf(history: readonly HistoryEvent[], produces: readonly ProduceEvent[]): Availability {
  const acks = produces.filter((p) => p.outcome.type === 'ok');
  const partitions = [...new Set(produces.map((p) => p.partition))].sort((a, b) => a - b);
  // A loop, not Math.min(...spread): a long run records more produces than a call takes arguments.
  let runStart = Infinity;
  let runEnd = -Infinity;
  for (const p of produces) {
    runStart = Math.min(runStart, p.startMs);
    runEnd = Math.max(runEnd, p.endMs);
  }
  const longestNoAckMs: Record<number, number> = {};
  for (const partition of partitions) {
    const times = acks.filter((p) => p.partition === partition).map((p) => p.endMs).sort((a, b) => a - b);
    let longest = 0;
    let prev = runStart;
    for (const t of [...times, runEnd]) {
      longest = Math.max(longest, t - prev);
      prev = t;
    }
    longestNoAckMs[partition] = longest;
  }
  const recoveries: number[] = [];
  const kills = history.filter((e): e is NemesisEvent => e.kind === 'nemesis' && e.action === 'kill-leader');
  for (const k of kills) {
    let slowest = 0;
    let all = true;
    for (const partition of partitions) {
      const first = acks.filter((p) => p.partition === partition && p.startMs >= k.timeMs).reduce((m, p) => Math.min(m, p.endMs), Infinity);
      if (first === Infinity) all = false;
      else slowest = Math.max(slowest, first - k.timeMs);
    }
    if (all) recoveries.push(slowest);
  }
  return {
    longestNoAckMs, leaderKills: kills.length,
    leaderKillToAckMedianMs: median(recoveries), leaderKillToAckMaxMs: recoveries.length > 0 ? Math.max(...recoveries) : null,
  };
}
