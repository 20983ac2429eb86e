// Limits of the node process, one place, units last in every name (STYLE.md).

/** Raft message bytes queued for one peer before further messages are dropped (Raft resends). */
export const peerQueueBytesMax = 64 * 1024 * 1024;
/** Largest frame written to a peer stream; bigger batches of messages are split across frames. */
export const peerFrameBytesMax = 4 * 1024 * 1024;
/** gRPC keepalive: ping an idle peer connection this often, and give up after the timeout. */
export const peerKeepaliveMs = 2_000;
export const peerKeepaliveTimeoutMs = 2_000;
/** Reconnect back-off to a peer: starts here, doubles, capped (grpc's default cap is 120 s). */
export const peerReconnectInitialMs = 100;
export const peerReconnectMaxMs = 1_000;
/** Largest gRPC message a node accepts (a produce of one max-size batch plus framing). */
export const grpcMessageBytesMax = 80 * 1024 * 1024;
/** Produce bytes in flight per client connection before THROTTLED (promise 5). */
export const connectionInflightBytesMax = 64 * 1024 * 1024;
/** Partitions one produce, fetch or list-offsets request may name. */
export const requestPartitionsMax = 1_000;
/** A produce waits at most this long for its acks when the client names no timeout. */
export const produceTimeoutMsDefault = 30_000;
export const produceTimeoutMsMax = 300_000;
/** Fetch bounds: per partition by default, per response at most, and the longest long-poll. */
export const fetchBytesDefault = 1024 * 1024;
export const fetchBytesMax = 16 * 1024 * 1024;
export const fetchWaitMsMax = 30_000;
