// Model-based test (fc.commands): the real PartitionLog against a plain array of batches.
// Covers append, flush, truncate (Raft suffix cut), deleteBefore (retention prefix cut), rolling
// by size and by age, reads with byte and offset limits, timestamp lookup, header scans, reset
// (snapshot install), and reopening after a clean close or a crash.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBatch, isLogError, PartitionLog, type PartitionLogConfig } from '../../log/index.js';
import { makeBatch, removeDir, splitBatches, tempDir } from './helpers.js';

interface ModelBatch {
  readonly bytes: Buffer;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly timestamps: readonly number[];
}
interface Model {
  batches: ModelBatch[];
  logStart: number;
  logEnd: number;
  nextTs: number;
  appends: number;
}
interface Real {
  log: PartitionLog;
  readonly dir: string;
}

const config: PartitionLogConfig = { segmentBytes: 700, indexIntervalBytes: 120, segmentMs: 5_000 };

function check(m: Model, r: Real): void {
  expect([r.log.logStartOffset, r.log.logEndOffset]).toEqual([m.logStart, m.logEnd]);
}

class AppendCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly records: number, readonly tsStep: number, readonly valueBytes: number) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    m.nextTs += this.tsStep;
    const batch = makeBatch(this.records, `a${m.appends++}`, m.nextTs, { valueBytes: this.valueBytes });
    const res = r.log.append(batch);
    expect(res).toEqual({ baseOffset: m.logEnd, lastOffset: m.logEnd + this.records - 1 });
    const timestamps = Array.from({ length: this.records }, (_, i) => m.nextTs + i);
    m.batches.push({ bytes: Buffer.from(batch), baseOffset: res.baseOffset, lastOffset: res.lastOffset, timestamps });
    m.logEnd = res.lastOffset + 1;
    check(m, r);
  }
  toString = (): string => `append(${this.records}, ts+${this.tsStep}, ${this.valueBytes}B)`;
}

class FlushCmd implements fc.AsyncCommand<Model, Real> {
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    expect(await r.log.flush()).toBe(m.logEnd);
    expect(r.log.flushedOffset).toBe(m.logEnd);
  }
  toString = (): string => 'flush';
}

class TruncateCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number, readonly inside: boolean) {}
  check = (m: Model): boolean => m.batches.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const i = this.pick % m.batches.length;
    const b = m.batches[i] as ModelBatch;
    if (this.inside && b.lastOffset > b.baseOffset) {
      expect(() => r.log.truncateFrom(b.baseOffset + 1)).toThrow(expect.objectContaining({ code: 'NOT_BATCH_BOUNDARY' }));
    } else {
      r.log.truncateFrom(b.baseOffset);
      m.batches.splice(i);
      m.logEnd = b.baseOffset;
      expect(r.log.flushedOffset).toBeLessThanOrEqual(m.logEnd);
    }
    check(m, r);
  }
  toString = (): string => `truncate(#${this.pick}${this.inside ? ', inside' : ''})`;
}

class DeleteBeforeCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const offset = m.logStart + (this.pick % (m.logEnd - m.logStart + 1));
    const start = r.log.deleteBefore(offset);
    // whole segments only: never past the offset, always at a batch boundary, never backwards
    if (offset === m.logEnd) expect(start).toBe(m.logEnd);
    expect(start).toBeLessThanOrEqual(offset);
    expect(start).toBeGreaterThanOrEqual(m.logStart);
    expect(start === m.logEnd || m.batches.some((b) => b.baseOffset === start)).toBe(true);
    m.batches = m.batches.filter((b) => b.baseOffset >= start);
    m.logStart = start;
    check(m, r);
  }
  toString = (): string => `deleteBefore(#${this.pick})`;
}

class ReadCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number, readonly maxBytes: number, readonly hwBack: number) {}
  check = (m: Model): boolean => m.batches.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const from = m.logStart + (this.pick % (m.logEnd - m.logStart));
    const hw = Math.max(m.logStart, m.logEnd - this.hwBack);
    const res = r.log.read(from, this.maxBytes, hw);
    const got = splitBatches(res.records);
    const first = m.batches.findIndex((b) => b.lastOffset >= from);
    const eligible = m.batches.slice(first).filter((b) => b.lastOffset < hw);
    if (from >= hw || eligible[0]?.baseOffset !== (m.batches[first] as ModelBatch).baseOffset) {
      expect(got).toHaveLength(0); // the batch holding `from` reaches past the high watermark
      return;
    }
    expect(got.length).toBeGreaterThanOrEqual(1); // always progress, even if maxBytes is small
    got.forEach((g, i) => expect(g.equals((eligible[i] as ModelBatch).bytes)).toBe(true));
    if (got.length > 1) expect(res.records.length).toBeLessThanOrEqual(this.maxBytes);
    expect(res.firstOffset).toBe(eligible[0]?.baseOffset);
    expect(res.nextOffset).toBe((eligible[got.length - 1] as ModelBatch).lastOffset + 1);
  }
  toString = (): string => `read(#${this.pick}, ${this.maxBytes}B, hw-${this.hwBack})`;
}

class TimestampCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly delta: number) {}
  check = (m: Model): boolean => m.batches.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const target = (m.batches[0] as ModelBatch).timestamps[0] as number + this.delta;
    let want: number | null = null;
    for (const b of m.batches) {
      const i = b.timestamps.findIndex((t) => t >= target);
      if (i >= 0) {
        want = b.baseOffset + i;
        break;
      }
    }
    expect(r.log.offsetForTimestamp(target)).toBe(want);
  }
  toString = (): string => `offsetForTimestamp(first+${this.delta})`;
}

class ScanCmd implements fc.AsyncCommand<Model, Real> {
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const headers = [...r.log.batchHeaders()];
    expect(headers.map((h) => [h.baseOffset, h.lastOffset, h.sizeBytes])).toEqual(
      m.batches.map((b) => [b.baseOffset, b.lastOffset, b.bytes.length]),
    );
    expect(headers.map((h) => h.maxTimestamp)).toEqual(m.batches.map((b) => Math.max(...b.timestamps)));
  }
  toString = (): string => 'scan';
}

class ResetCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly jump: number) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const offset = m.logEnd + this.jump;
    r.log.resetTo(offset);
    m.batches = [];
    m.logStart = m.logEnd = offset;
    check(m, r);
    expect(r.log.flushedOffset).toBe(offset);
  }
  toString = (): string => `resetTo(end+${this.jump})`;
}

class ReopenCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly clean: boolean) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    // without close(): a process crash once the write-behind has reached the page cache, whose
    // contents survive it, so nothing is lost
    if (this.clean) await r.log.close();
    else await r.log.settle();
    r.log = await PartitionLog.open(r.dir, config);
    expect(r.log.recovery.truncated).toBeNull();
    expect(r.log.recovery.cleanShutdown).toBe(this.clean);
    expect(r.log.flushedOffset).toBe(m.logEnd);
    check(m, r);
    if (m.batches.length > 0) {
      const b = m.batches[m.batches.length - 1] as ModelBatch;
      expect(decodeBatch(splitBatches(r.log.read(b.baseOffset, 0).records)[0] as Buffer).lastOffset).toBe(b.lastOffset);
    }
  }
  toString = (): string => `reopen(${this.clean ? 'clean' : 'crash'})`;
}

const commands = [
  fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: -50, max: 3_000 }), fc.integer({ min: 0, max: 250 })).map(
    ([n, step, bytes]) => new AppendCmd(n, step, bytes),
  ),
  fc.constant(new FlushCmd()),
  fc.tuple(fc.nat(), fc.boolean()).map(([p, inside]) => new TruncateCmd(p, inside)),
  fc.nat().map((p) => new DeleteBeforeCmd(p)),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 0, max: 6 })).map(([p, b, hw]) => new ReadCmd(p, b, hw)),
  fc.integer({ min: -100, max: 40_000 }).map((d) => new TimestampCmd(d)),
  fc.constant(new ScanCmd()),
  fc.boolean().map((clean) => new ReopenCmd(clean)),
  fc.integer({ min: 0, max: 50 }).map((j) => new ResetCmd(j)),
];

describe('PartitionLog against a model', () => {
  it('agrees with an in-memory list of batches under random commands', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60, size: 'large' }), async (cmds) => {
        const dir = tempDir('ferry-model-');
        const real: Real = { log: await PartitionLog.open(dir, config), dir };
        const model: Model = { batches: [], logStart: 0, logEnd: 0, nextTs: 1_700_000_000_000, appends: 0 };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          await real.log.close();
        } finally {
          removeDir(dir);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('reports typed errors for reads outside the log', async () => {
    const dir = tempDir('ferry-model-');
    try {
      const log = await PartitionLog.open(dir, { segmentBytes: 250 });
      for (let i = 0; i < 10; i++) log.append(makeBatch(2, `x${i}`, 1_700_000_000_000 + i));
      const start = log.deleteBefore(10);
      expect(start).toBeGreaterThan(0);
      for (const offset of [start - 1, 21, -1]) {
        let err: unknown;
        try {
          log.read(offset, 100);
        } catch (e) {
          err = e;
        }
        expect(isLogError(err, 'OFFSET_OUT_OF_RANGE')).toBe(true);
        expect((err as { details: Record<string, number> }).details).toMatchObject({ logStartOffset: start, logEndOffset: 20 });
      }
      await log.close();
    } finally {
      removeDir(dir);
    }
  });
});
