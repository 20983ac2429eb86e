import { describe, expect, it } from 'vitest';
import { retentionStartOffset, type SegmentInfo } from '../../node/retention-policy.js';

const seg = (base: number, next: number, sizeBytes: number, maxTimestamp: number): SegmentInfo =>
  ({ baseOffset: base, nextOffset: next, sizeBytes, maxTimestamp, createdMs: 0 });
const log = [seg(0, 100, 1000, 1_000), seg(100, 200, 1000, 2_000), seg(200, 300, 1000, 3_000), seg(300, 350, 500, 4_000)];

describe('retention policy', () => {
  it('drops segments whose newest record is older than retention.ms, oldest first', () => {
    expect(retentionStartOffset(log, { retentionMs: 1_500, retentionBytes: -1 }, 350, 4_000)).toBe(200);
    expect(retentionStartOffset(log, { retentionMs: 10_000, retentionBytes: -1 }, 350, 4_000)).toBeUndefined();
  });

  it('drops oldest segments while the rest still exceeds retention.bytes', () => {
    expect(retentionStartOffset(log, { retentionMs: -1, retentionBytes: 1_500 }, 350, 0)).toBe(200);
    expect(retentionStartOffset(log, { retentionMs: -1, retentionBytes: 3_500 }, 350, 0)).toBeUndefined();
  });

  it('never touches the active segment, anything at or above the high watermark, or a middle segment', () => {
    expect(retentionStartOffset(log, { retentionMs: 0, retentionBytes: -1 }, 350, 1e9)).toBe(300);
    expect(retentionStartOffset(log, { retentionMs: 0, retentionBytes: -1 }, 250, 1e9)).toBe(200);
    const middleOld = [seg(0, 100, 10, 5_000), seg(100, 200, 10, 1), seg(200, 300, 10, 5_000)];
    expect(retentionStartOffset(middleOld, { retentionMs: 1_000, retentionBytes: -1 }, 300, 5_500)).toBeUndefined();
  });

  it('uses the creation time for segments without timestamps', () => {
    const untimed = [{ ...seg(0, 10, 10, -1), createdMs: 100 }, seg(10, 20, 10, 9_999)];
    expect(retentionStartOffset(untimed, { retentionMs: 1_000, retentionBytes: -1 }, 20, 5_000)).toBe(10);
  });
});
