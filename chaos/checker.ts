/**
 * Checks a recorded chaos history against Ferry's promises, Jepsen-style. Every anomaly comes
 * with a concrete example. Pure: unit-tested on hand-made histories (test/chaos/checker.test.ts).
 *
 *   lost-write          acknowledged, never in the final read although the cluster healed (promise 1)
 *   wrong-offset        acknowledged at offset O, but read at another offset (promise 2)
 *   failed-but-present  reported as definitely failed, yet read (a lying error)
 *   duplicate           one attempt's value at two offsets (retries without idempotence)
 *   offset-conflict     two reads (any replicas, any time) disagree on the value at an offset (promise 2)
 *   unexpected          a value nobody tried to write (corruption)
 */
import { controlMarkerPrefix } from './fetched-records.js';
import type { HistoryEvent, ProduceEvent, ReadEvent } from './history.js';

export type AnomalyKind = 'lost-write' | 'wrong-offset' | 'failed-but-present' | 'duplicate' | 'offset-conflict' | 'unexpected';

export interface Anomaly {
  readonly kind: AnomalyKind;
  readonly partition: number;
  readonly detail: string;
}

export interface CheckResult {
  readonly valid: boolean;
  readonly anomalies: readonly Anomaly[];
  readonly counts: Record<AnomalyKind, number>;
  readonly stats: { attempts: number; acked: number; failed: number; unknown: number; unknownPresent: number; finalRecords: number };
}

/** Anomalies that break a promise; duplicates do too when the producers were idempotent (duplicatesAreFatal). */
const fatalKinds: ReadonlySet<AnomalyKind> = new Set(['lost-write', 'wrong-offset', 'failed-but-present', 'offset-conflict', 'unexpected']);

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
        add('offset-conflict', r.partition, `offset ${offset}: ${prev.reader} read "${prev.value}", ${r.reader} read "${value}"`);
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
  let finalRecords = 0;
  const finalPartitions = new Set<number>();
  for (const r of reads.filter((x) => x.final)) {
    finalPartitions.add(r.partition);
    for (const { offset, value } of r.records) {
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
        if (!offsets) add('lost-write', p.partition, `"${p.value}" was acknowledged at offset ${p.outcome.offset} but is not in the final read`);
        else if (!offsets.has(p.outcome.offset)) {
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

  const counts = { 'lost-write': 0, 'wrong-offset': 0, 'failed-but-present': 0, duplicate: 0, 'offset-conflict': 0, unexpected: 0 } as Record<AnomalyKind, number>;
  for (const a of anomalies) counts[a.kind] += 1;
  const fatal = anomalies.some((a) => fatalKinds.has(a.kind) || (options.duplicatesAreFatal === true && a.kind === 'duplicate'));
  return { valid: !fatal, anomalies, counts, stats: { attempts: produces.size, acked, failed, unknown, unknownPresent, finalRecords } };
}
