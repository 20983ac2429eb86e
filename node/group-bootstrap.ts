/**
 * Creating a Raft group's durable state the first time a node hosts it. Every replica writes the
 * same starting point from the same membership (raft's bootstrapState: a snapshot at index 1,
 * term 1 holding the configuration), so the replicas agree without talking first.
 */
import { bootstrapState, type ConfState } from '../raft/index.js';
import type { GroupStateStore, StoredGroup } from './group-state-store.js';

export async function loadOrBootstrapGroup(
  store: GroupStateStore,
  key: string,
  conf: { voters: readonly number[]; learners: readonly number[] },
): Promise<StoredGroup> {
  const stored = await store.load(key);
  if (stored.snapshot) return stored;
  const { snapshot, hardState } = bootstrapState(conf as ConfState);
  const confState = { voters: [...conf.voters], learners: [...conf.learners] };
  store.setSnapshot(key, { index: snapshot.meta.index, term: snapshot.meta.term, nextOffset: 0, confState, data: new Uint8Array(0) });
  store.setHardState(key, { term: hardState.term, vote: hardState.vote, commit: hardState.commit }, true);
  store.setConfState(key, confState);
  await store.commit();
  return store.load(key);
}
