/**
 * What a chaos run records: every produce attempt with its outcome, and every read. A value is
 * unique per attempt ("p3-000123"), so a read value names exactly one attempt. Outcomes:
 *   ok      acknowledged (acks=all) at `offset`: must be readable there, forever
 *   fail    a definite failure (the node said the write did not happen): must never be read
 *   info    unknown (timeout, connection lost mid-call): may or may not be read, at most once
 */
export type ProduceOutcome =
  | { readonly type: 'ok'; readonly offset: number }
  | { readonly type: 'fail'; readonly code: string }
  | { readonly type: 'info'; readonly code: string };

export interface ProduceEvent {
  readonly kind: 'produce';
  readonly process: string;
  readonly value: string;
  readonly partition: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: ProduceOutcome;
}

/** A reader's view of one partition: offset → value, from one node at one time. */
export interface ReadEvent {
  readonly kind: 'read';
  readonly reader: string;
  readonly partition: number;
  readonly timeMs: number;
  readonly records: ReadonlyArray<{ readonly offset: number; readonly value: string }>;
  /** True for the final read after healing (these must hold every acknowledged value). */
  readonly final: boolean;
}

/** One poll of a consumer tailing one partition: the records it was handed, in order. */
export interface PollEvent {
  readonly kind: 'poll';
  readonly consumer: string;
  readonly partition: number;
  readonly timeMs: number;
  readonly records: ReadonlyArray<{ readonly offset: number; readonly value: string }>;
}

export interface NemesisEvent {
  readonly kind: 'nemesis';
  readonly timeMs: number;
  readonly action: string;
  readonly nodes: readonly number[];
}

export type HistoryEvent = ProduceEvent | ReadEvent | PollEvent | NemesisEvent;
