import { describe, expect, it } from 'vitest';
import {
  defaultTopicConfig, parseTopicConfig, resetTopicConfigKeys, topicConfigToStrings, validateTopicName,
} from '../../controller/topic-config.js';

describe('topic config', () => {
  it("defaults to Kafka's values", () => {
    expect(topicConfigToStrings(defaultTopicConfig)).toEqual({
      'cleanup.policy': 'delete', 'retention.ms': '604800000', 'retention.bytes': '-1', 'segment.bytes': '1073741824',
      'segment.ms': '604800000', 'max.message.bytes': '1048588', 'delete.retention.ms': '86400000', 'min.cleanable.dirty.ratio': '0.5',
    });
  });

  it('applies valid overrides and normalises cleanup.policy', () => {
    const r = parseTopicConfig({ 'retention.ms': '-1', 'cleanup.policy': 'delete, compact', 'segment.bytes': '1048576' });
    expect(r).toEqual({ ok: true, value: { ...defaultTopicConfig, retentionMs: -1, cleanupPolicy: 'compact,delete', segmentBytes: 1048576 } });
  });

  it('lists every bad key and value, naming the rule', () => {
    const r = parseTopicConfig({
      'retention.ms': 'soon', 'segment.bytes': '10', 'cleanup.policy': 'archive', 'retention.hours': '1', 'min.cleanable.dirty.ratio': '1.5',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([
      'retention.ms must be an integer in 1-9007199254740991 or -1 (no limit), got "soon"',
      'segment.bytes must be an integer in 65536-1073741824, got "10"',
      'cleanup.policy must be delete, compact or compact,delete, got "archive"',
      expect.stringMatching(/^unknown topic config "retention.hours" \(known: cleanup.policy, retention.ms/),
      'min.cleanable.dirty.ratio must be a number in 0-1, got "1.5"',
    ]);
    expect(parseTopicConfig({ 'min.cleanable.dirty.ratio': '0.1' })).toMatchObject({ ok: true, value: { minCleanableDirtyRatio: 0.1 } });
  });

  it('resets keys to their defaults and names unknown ones', () => {
    const changed = { ...defaultTopicConfig, retentionMs: 5, segmentBytes: 1 << 20 };
    expect(resetTopicConfigKeys(changed, ['retention.ms'])).toEqual({ ok: true, value: { ...defaultTopicConfig, segmentBytes: 1 << 20 } });
    expect(resetTopicConfigKeys(changed, ['retention.minutes'])).toMatchObject({ ok: false, problems: [expect.stringMatching(/unknown topic config "retention.minutes"/)] });
  });

  it('validates topic names as Kafka does and reserves "__"', () => {
    expect(validateTopicName('orders.v1_eu-west')).toBeNull();
    expect(validateTopicName('')).toMatch(/empty/);
    expect(validateTopicName('..')).toMatch(/not allowed/);
    expect(validateTopicName('a/b')).toMatch(/may only contain/);
    expect(validateTopicName('x'.repeat(250))).toMatch(/limit is 249/);
    expect(validateTopicName('__groups')).toMatch(/reserved/);
    expect(validateTopicName('__groups', true)).toBeNull();
  });
});
