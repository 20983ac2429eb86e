import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { asIndex, asNodeId, asTerm, type Message, type NodeId } from '../../raft/types.js';
import { PeerTransport } from '../../node/peer-transport.js';
import { ferryGrpc } from '../../proto/load.js';

const log = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface TestNode {
  id: NodeId;
  server: grpc.Server;
  port: number;
  received: Array<{ group: string; message: Message }>;
  transport?: PeerTransport;
}

async function startServer(id: number, port = 0): Promise<TestNode> {
  const node: TestNode = { id: asNodeId(id), server: new grpc.Server(), port: 0, received: [] };
  node.server.addService(ferryGrpc().ferry.v1.RaftTransportService.service, {
    Send: ((call, done) => node.transport!.serviceImplementation().Send(call, done)) as ReturnType<PeerTransport['serviceImplementation']>['Send'],
  });
  node.port = await new Promise<number>((resolve, reject) =>
    node.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  cleanups.push(() => new Promise<void>((r) => node.server.tryShutdown(() => r())));
  return node;
}

function connect(nodes: TestNode[], clusterId = 'test'): void {
  const peers = new Map(nodes.map((n) => [n.id, `127.0.0.1:${n.port}`]));
  for (const n of nodes) {
    n.transport = new PeerTransport({ onFatal: (e: unknown) => { throw e; }, selfId: n.id, clusterId, peers, log, deliver: (group, message) => n.received.push({ group, message }) });
    const t = n.transport;
    cleanups.push(() => t.close());
  }
}

async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const hb = (from: number, to: number, term: number, commit: number): Message =>
  ({ type: 'heartbeat', term: asTerm(term), from: asNodeId(from), to: asNodeId(to), commit: asIndex(commit) });

describe('peer transport', () => {
  it('delivers messages of many groups in order, coalescing heartbeats into one frame per flush', async () => {
    const [a, b] = [await startServer(1), await startServer(2)];
    connect([a, b]);
    for (let g = 0; g < 1000; g += 1) a.transport!.send(`t/${g}`, hb(1, 2, 3, g));
    a.transport!.send('t/0', {
      type: 'app', term: asTerm(3), from: asNodeId(1), to: asNodeId(2), prevIndex: asIndex(0), prevTerm: asTerm(0), commit: asIndex(0),
      entries: [{ type: 'normal', term: asTerm(3), index: asIndex(1), data: Buffer.from('batch') }],
    });
    a.transport!.flush();
    await until(() => b.received.length === 1001);
    expect(a.transport!.stats.framesSent).toBe(1);
    expect(b.received.slice(0, 3).map((r) => r.group)).toEqual(['t/0', 't/1', 't/2']);
    expect(b.received[999]).toEqual({ group: 't/999', message: hb(1, 2, 3, 999) });
    const app = b.received[1000]!.message;
    expect(app.type === 'app' && Buffer.from(app.entries[0]!.data).toString()).toBe('batch');
  });

  it('rejects frames from another cluster and delivers nothing from them', async () => {
    const [a, b] = [await startServer(1), await startServer(2)];
    const peers = new Map([[a.id, `127.0.0.1:${a.port}`], [b.id, `127.0.0.1:${b.port}`]]);
    a.transport = new PeerTransport({ onFatal: (e: unknown) => { throw e; }, selfId: a.id, clusterId: 'one', peers, log, deliver: () => undefined });
    b.transport = new PeerTransport({ onFatal: (e: unknown) => { throw e; }, selfId: b.id, clusterId: 'two', peers, log, deliver: (group, message) => b.received.push({ group, message }) });
    cleanups.push(() => a.transport!.close(), () => b.transport!.close());
    a.transport.send('t/0', hb(1, 2, 1, 0));
    a.transport.flush();
    await until(() => b.transport!.stats.framesRejected === 1);
    expect(b.received).toEqual([]);
  });

  it('bounds what it queues for a peer: past peerQueueBytesMax messages are dropped, not buffered', async () => {
    const [a, b] = [await startServer(1), await startServer(2)];
    connect([a, b]);
    const mib = Buffer.alloc(1024 * 1024); // one buffer referenced by every entry: no real growth
    for (let i = 0; i < 100; i += 1) {
      a.transport!.send('t/0', {
        type: 'app', term: asTerm(1), from: asNodeId(1), to: asNodeId(2), prevIndex: asIndex(i), prevTerm: asTerm(1), commit: asIndex(0),
        entries: [{ type: 'normal', term: asTerm(1), index: asIndex(i + 1), data: mib }],
      });
    }
    expect(a.transport!.stats.messagesDropped).toBe(100 - 63);
    a.transport!.flush(); // 63 MiB in 4 MiB frames
    await until(() => b.received.length === 63, 10_000);
    expect(a.transport!.stats.framesSent).toBeGreaterThanOrEqual(16);
  });

  it('reconnects to a peer that restarts on the same address', async () => {
    const [a, b] = [await startServer(1), await startServer(2)];
    connect([a, b]);
    const bPort = b.port;
    b.server.forceShutdown();
    for (let i = 0; i < 20; i += 1) {
      a.transport!.send('t/0', hb(1, 2, 1, i));
      a.transport!.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
    // Restart node 2 on the same port; the link reconnects within its back-off cap.
    const b2 = await startServer(2, bPort);
    b2.transport = new PeerTransport({ onFatal: (e: unknown) => { throw e; }, selfId: b2.id, clusterId: 'test', peers: new Map([[a.id, `127.0.0.1:${a.port}`], [b2.id, `127.0.0.1:${bPort}`]]), log,
      deliver: (group, message) => b2.received.push({ group, message }) });
    cleanups.push(() => b2.transport!.close());
    await until(() => {
      a.transport!.send('t/0', hb(1, 2, 1, 99));
      a.transport!.flush();
      return b2.received.some((r) => r.message.type === 'heartbeat' && r.message.commit === 99);
    }, 8_000);
    expect(b.received.length).toBe(0);
  });
});
