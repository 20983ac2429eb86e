/** An in-memory group-state partition for coordinator tests: every produce commits at once unless told to fail. */
import { decodeBatch, readBatchHeader } from '../../../log/index.js';
import { decodeRecord } from '../../../node/consumer-groups/group-records.js';
import type { StatePartition } from '../../../node/consumer-groups/state-partition.js';
import { ReplicaError } from '../../../node/replica-error.js';

export class MemoryPartition implements StatePartition {
  isLeader = true;
  term = 1;
  logStartOffset = 0;
  batches: Buffer[] = [];
  nextOffset = 0;
  failNext: 'TIMEOUT' | undefined;

  read(offset: number): { records: Buffer } {
    return { records: Buffer.concat(this.batches.filter((b) => readBatchHeader(b).lastOffset >= offset)) };
  }

  async produce(batch: Buffer): Promise<number> {
    if (this.failNext) {
      const code = this.failNext;
      this.failNext = undefined;
      // An unknown outcome: the batch did commit, but the coordinator was not told.
      this.append(batch);
      throw new ReplicaError(code, 'outcome unknown');
    }
    return this.append(batch);
  }

  /** Appends at once (no failure injection). */
  appendNow(batch: Buffer): number {
    return this.append(batch);
  }

  private append(batch: Buffer): number {
    const b = Buffer.from(batch);
    const base = this.nextOffset;
    b.writeBigInt64BE(BigInt(base), 0);
    this.nextOffset = base + readBatchHeader(b).lastOffsetDelta + 1;
    this.batches.push(b);
    return base;
  }

  proposeLogStart(offset: number): boolean {
    this.logStartOffset = offset;
    this.batches = this.batches.filter((b) => readBatchHeader(b).baseOffset >= offset);
    return true;
  }

  keys(): string[] {
    return this.batches.flatMap(decodeBatchRecords);
  }
}

function decodeBatchRecords(b: Buffer): string[] {
  return decodeBatch(b).records.map((r) => {
    const rec = decodeRecord(r.key, r.value);
    return `${r.key!.toString()}=${rec.value === null ? 'tombstone' : 'value'}`;
  });
}

