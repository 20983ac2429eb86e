// Limits of consumer groups, one place, units last in every name (STYLE.md). Each one bounds
// memory or work on the coordinator; a request past a limit gets a specific error and changes
// nothing.

/** Members one group may have (Kafka's group.max.size defaults to unlimited; ours is explicit). */
export const groupMembersMax = 1_000;
/** Groups one coordinator (one group-state partition) keeps in memory. */
export const groupsPerCoordinatorMax = 10_000;
/** Topics one member may subscribe to. */
export const memberTopicsMax = 100;
/** Partitions one OffsetCommit / OffsetFetch may name. */
export const offsetRequestPartitionsMax = 10_000;
/** Bytes of client metadata stored with one committed offset. */
export const offsetMetadataBytesMax = 4_096;
/** Bytes of one encoded group-metadata record (members, subscriptions, ownership). */
export const groupMetadataBytesMax = 1024 * 1024;
/** Group ids and client ids: length bounds (characters). */
export const groupIdLengthMax = 249;
export const clientIdLengthMax = 255;
/** Member session timeout bounds (Kafka's group.min/max.session.timeout.ms defaults). */
export const sessionTimeoutMsMin = 1_000;
export const sessionTimeoutMsMax = 300_000;
/** Rebalance timeout bounds: how long the coordinator waits for every member to rejoin. */
export const rebalanceTimeoutMsMin = 1_000;
export const rebalanceTimeoutMsMax = 600_000;
/** A group leaving Empty waits this long for more members before its first generation. */
export const initialRebalanceDelayMsDefault = 300;
