/**
 * A partition of a topic as the group code handles it. Keys are "topic/partition": topic names
 * are [a-zA-Z0-9._-] only, so the slash cannot be ambiguous.
 */
export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

export function refOfKey(key: string): PartitionRef {
  const slash = key.lastIndexOf('/');
  const partition = Number(key.slice(slash + 1));
  if (slash <= 0 || !Number.isInteger(partition) || partition < 0) throw new Error(`not a partition key: "${key}"`);
  return { topic: key.slice(0, slash), partition };
}

/** Total order: by topic, then partition number (not by key string: "t/10" < "t/9" as text). */
export function compareRefs(a: PartitionRef, b: PartitionRef): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition;
}

export function compareKeys(a: string, b: string): number {
  return compareRefs(refOfKey(a), refOfKey(b));
}

/** Every partition of `topics` that exists (count from metadata), sorted. */
export function partitionsOfTopics(topics: Iterable<string>, partitionsOf: (topic: string) => number): string[] {
  const out: string[] = [];
  for (const topic of [...new Set(topics)].sort()) {
    const n = partitionsOf(topic);
    for (let p = 0; p < n; p += 1) out.push(partitionKey(topic, p));
  }
  return out;
}
