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
