// Limits of the Raft core, one place, units last in every name (STYLE.md, TigerBeetle).
// Time in raft/ is counted in ticks: the host decides how long one tick is (node/ uses ~100 ms).

/** A follower that hears nothing from a leader for this long (plus jitter) starts an election. */
export const electionTimeoutTicks = 10;
/** A leader sends heartbeats this often; must be well below electionTimeoutTicks. */
export const heartbeatIntervalTicks = 1;
/** Appends to one follower in flight (sent, not yet acknowledged) in the replicate state. */
export const maxInflightMsgs = 64;
/** Bytes of entry data in flight to one follower; bounds leader memory per slow follower. */
export const maxInflightBytes = 8 * 1024 * 1024;
/** Entry data bytes per append message (at least one entry is always sent). */
export const maxSizePerMsgBytes = 1024 * 1024;
/** Committed entry bytes handed to the host per Ready (at least one entry always). */
export const maxCommittedSizePerReadyBytes = 4 * 1024 * 1024;
/** Uncommitted entry bytes a leader accepts before refusing proposals (overload push-back). */
export const maxUncommittedBytes = 64 * 1024 * 1024;
/**
 * Heartbeat responses from a follower that acknowledges nothing (replicate or snapshot state)
 * before the leader assumes the appends or snapshot in flight were lost and probes again.
 */
export const stalledHeartbeatsBeforeProbe = 8;
/** Entries read from storage per call when the core scans its log at start-up. */
export const startupScanBytes = 4 * 1024 * 1024;
