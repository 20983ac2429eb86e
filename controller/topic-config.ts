/**
 * Topic names and topic configuration: the keys Ferry understands, their defaults (Kafka's), and
 * validation that names the key and the rule. A config reaches the controller's log only after it
 * passes here, so every node applies the same, valid values.
 */

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

export interface TopicConfig {
  readonly cleanupPolicy: CleanupPolicy;
  /** Age after which whole segments may be deleted; -1 = forever. */
  readonly retentionMs: number;
  /** Size per partition beyond which old segments are deleted; -1 = unlimited. */
  readonly retentionBytes: number;
  /** Roll the active segment at this size. */
  readonly segmentBytes: number;
  /** Roll the active segment at this age. */
  readonly segmentMs: number;
  /** Largest record batch accepted, in bytes. */
  readonly maxMessageBytes: number;
  /** How long tombstones survive compaction. */
  readonly deleteRetentionMs: number;
  /** Compact a partition once this share of its cleanable bytes is new since the last pass. */
  readonly minCleanableDirtyRatio: number;
}

export const topicNameMaxLength = 249;
const dayMs = 24 * 60 * 60 * 1000;

export const defaultTopicConfig: TopicConfig = {
  cleanupPolicy: 'delete',
  retentionMs: 7 * dayMs,
  retentionBytes: -1,
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * dayMs,
  maxMessageBytes: 1024 * 1024 + 12,
  deleteRetentionMs: dayMs,
  minCleanableDirtyRatio: 0.5,
};

interface KeySpec {
  field: keyof TopicConfig;
  parse: (text: string) => number | CleanupPolicy | string;
}

class ConfigRuleError extends Error {}

function ratio(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new ConfigRuleError(`must be a number in 0-1, got "${text}"`);
  return n;
}

function integer(min: number, max: number, allowMinusOne = false) {
  return (text: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isSafeInteger(n) || ((n < min || n > max) && !(allowMinusOne && n === -1))) {
      const range = `${min}-${max}${allowMinusOne ? ' or -1 (no limit)' : ''}`;
      throw new ConfigRuleError(`must be an integer in ${range}, got "${text}"`);
    }
    return n;
  };
}

const keySpecs: Readonly<Record<string, KeySpec>> = {
  'cleanup.policy': {
    field: 'cleanupPolicy',
    parse: (text) => {
      const parts = text.split(',').map((s) => s.trim()).filter(Boolean).sort();
      const joined = parts.join(',');
      if (joined === 'delete' || joined === 'compact' || joined === 'compact,delete') return joined;
      throw new ConfigRuleError(`must be delete, compact or compact,delete, got "${text}"`);
    },
  },
  'retention.ms': { field: 'retentionMs', parse: integer(1, Number.MAX_SAFE_INTEGER, true) },
  'retention.bytes': { field: 'retentionBytes', parse: integer(1, Number.MAX_SAFE_INTEGER, true) },
  'segment.bytes': { field: 'segmentBytes', parse: integer(64 * 1024, 1024 * 1024 * 1024) },
  'segment.ms': { field: 'segmentMs', parse: integer(1_000, Number.MAX_SAFE_INTEGER) },
  'max.message.bytes': { field: 'maxMessageBytes', parse: integer(1024, 64 * 1024 * 1024) },
  'delete.retention.ms': { field: 'deleteRetentionMs', parse: integer(0, Number.MAX_SAFE_INTEGER) },
  'min.cleanable.dirty.ratio': { field: 'minCleanableDirtyRatio', parse: ratio },
};

export const topicConfigKeys: readonly string[] = Object.keys(keySpecs);

export type Validated<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/** Applies string overrides (as a client sends them) on top of `base`; every problem is listed. */
export function parseTopicConfig(overrides: Readonly<Record<string, string>>, base: TopicConfig = defaultTopicConfig): Validated<TopicConfig> {
  const problems: string[] = [];
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const spec = Object.hasOwn(keySpecs, key) ? keySpecs[key] : undefined;
    if (!spec) {
      problems.push(`unknown topic config "${key}" (known: ${topicConfigKeys.join(', ')})`);
      continue;
    }
    try {
      out[spec.field] = spec.parse(String(value));
    } catch (err) {
      if (!(err instanceof ConfigRuleError)) throw err;
      problems.push(`${key} ${err.message}`);
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: out as unknown as TopicConfig };
}

/** `config` with `keys` back at their defaults; unknown keys are listed as problems. */
export function resetTopicConfigKeys(config: TopicConfig, keys: readonly string[]): Validated<TopicConfig> {
  const out: Record<string, unknown> = { ...config };
  const problems: string[] = [];
  for (const key of keys) {
    const spec = Object.hasOwn(keySpecs, key) ? keySpecs[key] : undefined;
    if (!spec) problems.push(`unknown topic config "${key}" (known: ${topicConfigKeys.join(', ')})`);
    else out[spec.field] = defaultTopicConfig[spec.field];
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: out as unknown as TopicConfig };
}

/** The config as the string map clients see (every key, defaults included). */
export function topicConfigToStrings(config: TopicConfig): Record<string, string> {
  return Object.fromEntries(Object.entries(keySpecs).map(([key, spec]) => [key, String(config[spec.field])]));
}

/**
 * Kafka's topic-name rule: 1-249 of [a-zA-Z0-9._-], not "." or "..". Names starting with "__"
 * are reserved for Ferry's internal topics (group and queue state) unless `internal` is set.
 */
export function validateTopicName(name: string, internal = false): string | null {
  if (name.length === 0) return 'topic name must not be empty';
  if (name.length > topicNameMaxLength) return `topic name is ${name.length} characters; the limit is ${topicNameMaxLength}`;
  if (name === '.' || name === '..') return `topic name "${name}" is not allowed`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return `topic name "${name}" may only contain letters, digits, ".", "_" and "-"`;
  if (!internal && name.startsWith('__')) return `topic names starting with "__" are reserved for internal topics`;
  return null;
}
