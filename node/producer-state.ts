/**
 * Idempotent-producer state of one partition: per producer id, its epoch and the sequence ranges
 * of its most recent batches (Kafka keeps 5, and so does a producer's in-flight window), so a
 * retried batch that is already in the log is recognised and answered with its original offsets
 * instead of being appended again.
 *
 * The table is derived from the log alone: record() is applied for every data batch in log order
 * and prune() for every replicated log-start decision, so replicas that applied the same prefix
 * hold the same table, and a replica rebuilds it after a restart by re-reading its log. check()
 * decides whether a new batch may be appended; only the leader asks, against a view that also
 * holds its uncommitted tail (see PartitionReplica).
 *
 * Memory is bounded: at most `maxProducers` ids (the least recently written one is dropped when a
 * new id arrives, in log order, so that too is the same on every replica) and
 * `batchesRetainedPerProducer` batches each. Idle ids are dropped by expireIdle(); that one runs on
 * each replica's own clock, as Kafka's producer.id.expiration.ms does: replicas may briefly
 * disagree about an expired id, which can only turn a retry into UNKNOWN_PRODUCER_ID, never into a
 * second append.
 */

/** Batches remembered per producer: the SDK keeps at most this many in flight per partition. */
export const batchesRetainedPerProducer = 5;
/** Sequence numbers are non-negative int32 and wrap to 0 after the maximum, as in Kafka. */
export const sequenceModulus = 2 ** 31;

/**
 * The header fields of a produced batch that idempotence looks at. The last sequence comes from
 * lastOffsetDelta, not the record count: compaction may empty a batch but keeps its header.
 */
export interface ProducerBatchHeader {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly lastOffsetDelta: number;
  readonly maxTimestamp: number;
}

export interface ProducerBatch {
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Raft index of the entry holding the batch (the same on every replica). */
  readonly index: number;
  /** Offset of its first record; -1 while a leader's proposal has none assigned yet. */
  readonly baseOffset: number;
  /** Term of a leader's own proposal (its entry may not be written yet); undefined from the log. */
  readonly term?: number;
}

interface ProducerEntry {
  epoch: number;
  /** Oldest first; at most batchesRetainedPerProducer. */
  batches: ProducerBatch[];
  /** Largest batch timestamp seen (ms): what expiry measures idleness from. */
  lastTimestamp: number;
}

export type SequenceVerdict =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly batch: ProducerBatch }
  | {
    readonly kind: 'reject';
    readonly code: 'OUT_OF_ORDER_SEQUENCE' | 'PRODUCER_FENCED' | 'UNKNOWN_PRODUCER_ID';
    readonly message: string;
    /**
     * The batch is ahead of what the table expects (a gap before it): it becomes valid if the
     * batches before it arrive, which a leader may briefly wait for (see ProduceReorderBuffer).
     */
    readonly early: boolean;
  };

export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  return (baseSequence + lastOffsetDelta) % sequenceModulus;
}

/** How far `to` is ahead of `from`, counting forward through the wrap. */
export function sequenceDistance(from: number, to: number): number {
  return (to - from + sequenceModulus) % sequenceModulus;
}

export function nextSequence(seq: number): number {
  return (seq + 1) % sequenceModulus;
}

export class ProducerStateTable {
  /** Map order is recency of writes: the first key is the least recently written producer. */
  private readonly producers = new Map<number, ProducerEntry>();

  constructor(readonly maxProducers: number) {
    if (!(Number.isInteger(maxProducers) && maxProducers >= 1)) throw new Error(`maxProducers must be a positive integer, got ${maxProducers}`);
  }

  get size(): number {
    return this.producers.size;
  }

  /** The producer's epoch and retained batches, oldest first (tests and diagnostics). */
  describe(producerId: number): { epoch: number; batches: readonly ProducerBatch[] } | undefined {
    const e = this.producers.get(producerId);
    return e && { epoch: e.epoch, batches: [...e.batches] };
  }

  /** Whether a batch with this header may be appended now, is a retry of one already in, or neither. */
  check(h: ProducerBatchHeader): SequenceVerdict {
    const firstSeq = h.baseSequence;
    const lastSeq = lastSequenceOf(firstSeq, h.lastOffsetDelta);
    const e = this.producers.get(h.producerId);
    if (!e) {
      if (firstSeq === 0) return { kind: 'append' };
      return {
        kind: 'reject', code: 'UNKNOWN_PRODUCER_ID', early: true,
        message: `producer ${h.producerId} has no state on this partition (new, expired after being idle, or older than the log start), so a first batch must have sequence 0, not ${firstSeq}`,
      };
    }
    if (h.producerEpoch < e.epoch) {
      return { kind: 'reject', code: 'PRODUCER_FENCED', early: false, message: `producer ${h.producerId} epoch ${h.producerEpoch} is fenced: epoch ${e.epoch} already wrote to this partition` };
    }
    if (h.producerEpoch > e.epoch) {
      if (firstSeq === 0) return { kind: 'append' };
      return { kind: 'reject', code: 'OUT_OF_ORDER_SEQUENCE', early: true, message: `producer ${h.producerId} starts epoch ${h.producerEpoch} at sequence ${firstSeq}; a new epoch starts at 0` };
    }
    const dup = e.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
    if (dup) return { kind: 'duplicate', batch: dup };
    const expected = nextSequence(e.batches[e.batches.length - 1]!.lastSeq);
    if (firstSeq === expected) return { kind: 'append' };
    // Ahead (within half the sequence space, as sequences wrap) is a gap; behind is a batch older
    // than the ones remembered, which no wait can make valid.
    const ahead = sequenceDistance(expected, firstSeq) < sequenceModulus / 2;
    return {
      kind: 'reject', code: 'OUT_OF_ORDER_SEQUENCE', early: ahead,
      message: `producer ${h.producerId} epoch ${e.epoch} sent sequence ${firstSeq}-${lastSeq}, but the next expected is ${expected}` +
        ' (an earlier batch is missing, or this one is older than the last 5 batches this partition remembers)',
    };
  }

  /** Applies a batch that is in the log (in log order). Decides nothing: the log is the truth. */
  record(h: ProducerBatchHeader, index: number, baseOffset: number, term?: number): void {
    if (h.producerId < 0) return;
    const batch: ProducerBatch = {
      firstSeq: h.baseSequence, lastSeq: lastSequenceOf(h.baseSequence, h.lastOffsetDelta), index, baseOffset, ...(term === undefined ? {} : { term }),
    };
    let e = this.producers.get(h.producerId);
    if (e) this.producers.delete(h.producerId); // re-inserted below: most recently written
    if (!e || h.producerEpoch !== e.epoch) {
      e = { epoch: h.producerEpoch, batches: [batch], lastTimestamp: h.maxTimestamp };
    } else {
      e.batches.push(batch);
      if (e.batches.length > batchesRetainedPerProducer) e.batches.shift();
      e.lastTimestamp = Math.max(e.lastTimestamp, h.maxTimestamp);
    }
    this.producers.set(h.producerId, e);
    if (this.producers.size > this.maxProducers) {
      const oldest = this.producers.keys().next().value as number;
      this.producers.delete(oldest);
    }
  }

  /**
   * The log now starts at `logStart`: batches below it are gone, and so is a producer left with
   * none. A replica re-reading its log from that start after a restart arrives at the same table.
   */
  prune(logStart: number): void {
    for (const [id, e] of this.producers) {
      const kept = e.batches.filter((b) => b.baseOffset >= logStart);
      if (kept.length === 0) this.producers.delete(id);
      else e.batches = kept;
    }
  }

  /** Drops producers whose newest batch is older than `idleMs` before `nowMs`. Returns how many. */
  expireIdle(nowMs: number, idleMs: number): number {
    let n = 0;
    for (const [id, e] of this.producers) {
      if (e.lastTimestamp < nowMs - idleMs) {
        this.producers.delete(id);
        n += 1;
      }
    }
    return n;
  }

  /** An independent copy (the leader's view starts as one of the applied table). */
  clone(): ProducerStateTable {
    const c = new ProducerStateTable(this.maxProducers);
    for (const [id, e] of this.producers) c.producers.set(id, { epoch: e.epoch, batches: [...e.batches], lastTimestamp: e.lastTimestamp });
    return c;
  }
}
