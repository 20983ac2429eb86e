/**
 * Node-to-node transport: one long-lived gRPC client stream to each peer, carrying frames that
 * batch the Raft messages of every group bound for that peer. The node's loop queues messages
 * while it processes Readies and calls flush() once per iteration, so a thousand groups cost one
 * frame per peer per iteration. Heartbeats travel coalesced as (group, term, commit) triples.
 *
 * Delivery is best effort on purpose: Raft tolerates loss, so a peer that is down, slow or
 * partitioned gets its messages dropped once its queue passes peerQueueBytesMax instead of
 * growing the sender's memory (promise 5). Streams reconnect with a short back-off.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { asIndex, asNodeId, asTerm, type Message, type NodeId } from '../raft/types.js';
import { ferryGrpc } from '../proto/load.js';
import type { CoalescedHeartbeat } from '../proto/gen/ferry/v1/CoalescedHeartbeat.js';
import type { GroupMessage } from '../proto/gen/ferry/v1/GroupMessage.js';
import type { LeaderReport } from '../proto/gen/ferry/v1/LeaderReport.js';
import type { SendRequest, SendRequest__Output } from '../proto/gen/ferry/v1/SendRequest.js';
import type { SendResponse } from '../proto/gen/ferry/v1/SendResponse.js';
import type { RaftTransportServiceClient } from '../proto/gen/ferry/v1/RaftTransportService.js';
import {
  peerFrameBytesMax, peerKeepaliveMs, peerKeepaliveTimeoutMs, peerQueueBytesMax, peerReconnectInitialMs, peerReconnectMaxMs,
} from './constants.js';
import { http2ClientWindowOptions } from './http2-windows.js';
import { messageFromWire, messageToWire, WireError } from './raft-wire.js';

/** A raft message addressed within a group. */
export interface GroupEnvelope {
  readonly group: string;
  readonly message: Message;
}

export interface TransportStats {
  framesSent: number;
  framesReceived: number;
  messagesDropped: number;
  framesRejected: number;
}

interface PendingFrame {
  messages: GroupMessage[];
  heartbeats: CoalescedHeartbeat[];
  heartbeatResponses: CoalescedHeartbeat[];
  leaderReports: LeaderReport[];
  bytes: number;
}

function emptyFrame(): PendingFrame {
  return { messages: [], heartbeats: [], heartbeatResponses: [], leaderReports: [], bytes: 0 };
}

/** Bytes a message adds to a frame, roughly: entry payloads dominate. */
function approximateBytes(m: Message): number {
  if (m.type === 'app') return 64 + m.entries.reduce((n, e) => n + e.data.byteLength + 24, 0);
  if (m.type === 'snap') return 64 + m.snapshot.data.byteLength;
  return 48;
}

class PeerLink {
  private stream: grpc.ClientWritableStream<SendRequest> | undefined;
  private pending = emptyFrame();
  private writable = true;
  private reconnectDelayMs = peerReconnectInitialMs;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly selfId: NodeId,
    private readonly peerId: NodeId,
    private readonly clusterId: string,
    private readonly client: RaftTransportServiceClient,
    private readonly stats: TransportStats,
    private readonly log: Logger,
  ) {}

  enqueue(group: string, m: Message): void {
    const bytes = approximateBytes(m);
    if (this.pending.bytes + bytes > peerQueueBytesMax) {
      this.stats.messagesDropped += 1;
      return;
    }
    this.pending.bytes += bytes;
    if (m.type === 'heartbeat') this.pending.heartbeats.push({ group, term: m.term, commit: m.commit });
    else if (m.type === 'heartbeatResp') this.pending.heartbeatResponses.push({ group, term: m.term, commit: 0 });
    else this.pending.messages.push({ group, message: messageToWire(m) });
  }

  enqueueLeaderReports(reports: readonly LeaderReport[]): void {
    const bytes = reports.length * 24;
    if (this.pending.bytes + bytes > peerQueueBytesMax) return;
    this.pending.leaderReports.push(...reports);
    this.pending.bytes += bytes;
  }

  flush(): void {
    if (this.closed || this.pending.bytes === 0 || !this.writable) return;
    const stream = this.stream ?? this.open();
    if (!stream) return;
    const frame = this.pending;
    this.pending = emptyFrame();
    this.writeSplit(stream, frame);
  }

  /** Splits an oversized frame so no single gRPC message passes peerFrameBytesMax. */
  private writeSplit(stream: grpc.ClientWritableStream<SendRequest>, frame: PendingFrame): void {
    const head = { fromNodeId: this.selfId, toNodeId: this.peerId, clusterId: this.clusterId };
    let chunk: GroupMessage[] = [];
    let chunkBytes = 0;
    const writeChunk = (extra: Partial<SendRequest>) => {
      this.stats.framesSent += 1;
      if (!stream.write({ ...head, messages: chunk, ...extra })) this.writable = false;
      chunk = [];
      chunkBytes = 0;
    };
    for (const gm of frame.messages) {
      const bytes = (gm.message?.appendRequest?.entries ?? []).reduce((n, e) => n + ((e.data as Uint8Array | undefined)?.byteLength ?? 0), 64);
      if (chunk.length > 0 && chunkBytes + bytes > peerFrameBytesMax) writeChunk({});
      chunk.push(gm);
      chunkBytes += bytes;
    }
    writeChunk({ heartbeats: frame.heartbeats, heartbeatResponses: frame.heartbeatResponses, leaderReports: frame.leaderReports });
  }

  private open(): grpc.ClientWritableStream<SendRequest> | undefined {
    if (this.reconnectTimer) return undefined;
    const stream = this.client.Send((err: grpc.ServiceError | null, _res?: SendResponse) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.writable = true;
      if (this.closed) return;
      this.log.debug({ peer: this.peerId, err: err?.message }, 'peer stream ended; reconnecting');
      this.pending = emptyFrame(); // stale by the time we reconnect; Raft resends what matters
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
      }, this.reconnectDelayMs);
      this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, peerReconnectMaxMs);
    });
    stream.on('drain', () => {
      this.writable = true;
    });
    // A first frame that gets through resets the back-off.
    stream.once('metadata', () => {
      this.reconnectDelayMs = peerReconnectInitialMs;
    });
    this.stream = stream;
    return stream;
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.stream?.end();
    this.stream = undefined;
    this.client.close();
  }
}

export interface PeerTransportOptions {
  readonly selfId: NodeId;
  readonly clusterId: string;
  /** Every other node: id → address ("host:port"). */
  readonly peers: ReadonlyMap<NodeId, string>;
  readonly log: Logger;
  /** Called for every raft message that arrives, already validated. */
  readonly deliver: (group: string, message: Message) => void;
  /** Called when delivering a message hits an error that is not the peer's fault (a broken invariant). */
  readonly onFatal: (err: unknown) => void;
  /** Called with the groups a peer says it leads. */
  readonly onLeaderReports?: (from: NodeId, reports: ReadonlyArray<{ group: string; term: number }>) => void;
}

export class PeerTransport {
  readonly stats: TransportStats = { framesSent: 0, framesReceived: 0, messagesDropped: 0, framesRejected: 0 };
  private readonly links = new Map<NodeId, PeerLink>();

  constructor(private readonly options: PeerTransportOptions) {
    const Client = ferryGrpc().ferry.v1.RaftTransportService;
    for (const [id, address] of options.peers) {
      if (id === options.selfId) continue;
      const client = new Client(address, grpc.credentials.createInsecure(), {
        'grpc.keepalive_time_ms': peerKeepaliveMs,
        'grpc.keepalive_timeout_ms': peerKeepaliveTimeoutMs,
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.initial_reconnect_backoff_ms': peerReconnectInitialMs,
        'grpc.max_reconnect_backoff_ms': peerReconnectMaxMs,
        ...http2ClientWindowOptions,
      });
      this.links.set(id, new PeerLink(options.selfId, id, options.clusterId, client, this.stats, options.log));
    }
  }

  /** Queues a message; it leaves at the next flush(). Messages to unknown nodes are dropped. */
  send(group: string, message: Message): void {
    const link = this.links.get(message.to);
    if (link) link.enqueue(group, message);
    else this.stats.messagesDropped += 1;
  }

  /** Tells every peer which groups this node leads (sent with the next flush). */
  reportLeadership(reports: ReadonlyArray<{ group: string; term: number }>): void {
    if (reports.length === 0) return;
    for (const link of this.links.values()) link.enqueueLeaderReports(reports);
  }

  /** Writes one frame (or a few, if large) per peer with everything queued. */
  flush(): void {
    for (const link of this.links.values()) link.flush();
  }

  /** The server side: add to the node's gRPC server. */
  serviceImplementation(): { Send: grpc.handleClientStreamingCall<SendRequest__Output, SendResponse> } {
    return { Send: (call, done) => this.receive(call, done) };
  }

  private receive(call: grpc.ServerReadableStream<SendRequest__Output, SendResponse>, done: grpc.sendUnaryData<SendResponse>): void {
    let received = 0;
    let finished = false;
    // Headers now, not at the end: the sender takes them as "connected" and resets its back-off.
    call.sendMetadata(new grpc.Metadata());
    const finish = (err: grpc.ServiceError | null) => {
      if (finished) return;
      finished = true;
      done(err, err ? undefined : { framesReceived: received });
    };
    call.on('data', (frame: SendRequest__Output) => {
      const problem = this.checkFrame(frame);
      if (problem) {
        this.stats.framesRejected += 1;
        this.options.log.warn({ from: frame.fromNodeId, problem }, 'rejected raft frame; closing the stream');
        finish({ name: 'FrameRejected', message: problem, code: grpc.status.INVALID_ARGUMENT, details: problem, metadata: new grpc.Metadata() });
        call.destroy();
        return;
      }
      received += 1;
      this.stats.framesReceived += 1;
      this.deliverFrame(frame);
    });
    call.on('end', () => finish(null));
    call.on('error', () => finish(null));
  }

  private checkFrame(frame: SendRequest__Output): string | undefined {
    if (frame.clusterId !== this.options.clusterId) return `cluster id "${frame.clusterId}" is not this cluster's "${this.options.clusterId}"`;
    if (frame.toNodeId !== this.options.selfId) return `frame for node ${frame.toNodeId} reached node ${this.options.selfId}`;
    if (!this.options.peers.has(asNodeId(frame.fromNodeId))) return `frame from unknown node ${frame.fromNodeId}`;
    return undefined;
  }

  private deliverFrame(frame: SendRequest__Output): void {
    const from = asNodeId(frame.fromNodeId);
    const to = this.options.selfId;
    if (frame.leaderReports.length > 0) this.options.onLeaderReports?.(from, frame.leaderReports);
    for (const hb of frame.heartbeats) {
      this.options.deliver(hb.group, { type: 'heartbeat', term: asTerm(hb.term), from, to, commit: asIndex(hb.commit) });
    }
    for (const hb of frame.heartbeatResponses) {
      this.options.deliver(hb.group, { type: 'heartbeatResp', term: asTerm(hb.term), from, to });
    }
    for (const gm of frame.messages) {
      let m: Message;
      try {
        if (!gm.message) throw new WireError('group message without a message');
        m = messageFromWire(gm.message);
        if (m.from !== from || m.to !== to) throw new WireError(`message ${m.from}->${m.to} inside a frame ${from}->${to}`);
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
        this.stats.framesRejected += 1;
        this.options.log.warn({ from, group: gm.group, problem: err.message }, 'dropped malformed raft message');
        continue;
      }
      try {
        this.options.deliver(gm.group, m);
      } catch (err) {
        // Not the peer's fault: a broken invariant or a storage failure inside Raft.
        this.options.onFatal(err);
        return;
      }
    }
  }

  close(): void {
    for (const link of this.links.values()) link.close();
  }
}
