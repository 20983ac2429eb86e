/**
 * Creating a Raft group's durable state the first time a node hosts it. Every replica a topic was
 * created with writes the same starting point from the same membership (raft's bootstrapState: a
 * snapshot at index 1, term 1 holding the configuration), so the replicas agree without talking
 * first. A replica added later by a reassignment joins instead (loadOrJoinGroup).
 */
import { bootstrapState, type ConfState } from '../raft/index.js';
import type { GroupStateStore, StoredGroup } from './group-state-store.js';

export async function loadOrBootstrapGroup(
  store: GroupStateStore,
  key: string,
  conf: { voters: readonly number[]; learners: readonly number[] },
  /** The metadata version that made this node a host (GroupStateStore's since/). */
  hostedSince = 0,
): Promise<StoredGroup> {
  const { snapshot, hardState } = bootstrapState(conf as ConfState);
  return loadOrStore(store, key, { index: snapshot.meta.index, term: snapshot.meta.term }, hardState,
    { voters: [...conf.voters], learners: [...conf.learners] }, hostedSince);
}

/** The group's stored state, or (first time) this initial state, synced, then loaded back. */
async function loadOrStore(
  store: GroupStateStore, key: string, at: { index: number; term: number }, hardState: { term: number; vote: number; commit: number },
  confState: { voters: number[]; learners: number[] }, hostedSince: number,
): Promise<StoredGroup> {
  const stored = await store.load(key);
  if (stored.snapshot) return stored;
  store.setSnapshot(key, { index: at.index, term: at.term, nextOffset: 0, confState, data: new Uint8Array(0) });
  store.setHardState(key, { term: hardState.term, vote: hardState.vote, commit: hardState.commit }, true);
  store.setConfState(key, confState);
  store.setHostedSince(key, hostedSince);
  await store.commit();
  return store.load(key);
}

/**
 * The durable state of a replica that joins an existing group (a reassignment's new member): no
 * configuration and no log (a snapshot at index 0), so it invents nothing. It cannot campaign
 * (it is no voter in its own view); the leader, which added it as a learner, brings it up by its
 * snapshot (with the group's configuration) and the log after it.
 */
export function loadOrJoinGroup(store: GroupStateStore, key: string, hostedSince: number): Promise<StoredGroup> {
  return loadOrStore(store, key, { index: 0, term: 0 }, { term: 0, vote: 0, commit: 0 }, { voters: [], learners: [] }, hostedSince);
}
