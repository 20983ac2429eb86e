import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MethodDefinition } from '@grpc/proto-loader';
import { encodeConfChange } from '../../raft/confchange.js';
import { asIndex, asNodeId, asTerm, type Entry, type Message } from '../../raft/types.js';
import { messageFromWire, messageToWire, WireError } from '../../node/raft-wire.js';
import { ferryPackageDefinition } from '../../proto/load.js';
import type { SendRequest, SendRequest__Output } from '../../proto/gen/ferry/v1/SendRequest.js';
import type { RaftMessage__Output } from '../../proto/gen/ferry/v1/RaftMessage.js';

// The exact serializers grpc-js uses for the transport stream.
const send = ferryPackageDefinition()['ferry.v1.RaftTransportService'] as unknown as {
  Send: MethodDefinition<SendRequest, unknown, SendRequest__Output, unknown>;
};

function throughTheWire(m: Message): Message {
  const bytes = send.Send.requestSerialize({ fromNodeId: m.from, toNodeId: m.to, clusterId: 'c', messages: [{ group: 'g/0', message: messageToWire(m) }] });
  const frame = send.Send.requestDeserialize(bytes);
  expect(frame.messages[0]!.group).toBe('g/0');
  return messageFromWire(frame.messages[0]!.message!);
}

const id = fc.integer({ min: 1, max: 9 }).map(asNodeId);
const term = fc.integer({ min: 0, max: 1_000_000 }).map(asTerm);
const index = fc.integer({ min: 0, max: 10_000_000 }).map(asIndex);
const head = fc.record({ term, from: id, to: id });

const entriesAfter = (prev: number) => fc.array(
  fc.oneof(
    fc.record({ type: fc.constant('normal' as const), data: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)) }),
    fc.constant({ type: 'noop' as const, data: new Uint8Array(0) }),
    fc.record({ type: fc.constant('conf' as const), data: fc.tuple(fc.constantFrom('addVoter', 'addLearner', 'removeNode' as const), id)
      .map(([type, nodeId]) => encodeConfChange({ type, nodeId })) }),
  ),
  { maxLength: 5 },
).chain((kinds) => fc.array(term, { minLength: kinds.length, maxLength: kinds.length }).map((terms) =>
  kinds.map((k, i): Entry => ({ ...k, term: terms[i]!, index: asIndex(prev + 1 + i) }))));

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ h: head, type: fc.constantFrom('vote', 'preVote' as const), lastIndex: index, lastTerm: term, transfer: fc.boolean() })
    .map(({ h, ...r }) => ({ ...h, ...r })),
  fc.record({ h: head, type: fc.constantFrom('voteResp', 'preVoteResp' as const), reject: fc.boolean() }).map(({ h, ...r }) => ({ ...h, ...r })),
  fc.record({ h: head, prevIndex: index, prevTerm: term, commit: index }).chain((r) =>
    entriesAfter(r.prevIndex).map((entries) => ({ ...r.h, type: 'app' as const, prevIndex: r.prevIndex, prevTerm: r.prevTerm, commit: r.commit, entries }))),
  fc.record({ h: head, index, reject: fc.boolean(), rejectHint: index, logTerm: term })
    .map(({ h, ...r }) => ({ ...h, type: 'appResp' as const, ...r })),
  fc.record({ h: head, commit: index }).map(({ h, commit }) => ({ ...h, type: 'heartbeat' as const, commit })),
  head.map((h) => ({ ...h, type: 'heartbeatResp' as const })),
  head.map((h) => ({ ...h, type: 'timeoutNow' as const })),
  fc.record({ h: head, index, term, voters: fc.uniqueArray(id, { minLength: 1, maxLength: 5 }), learners: fc.uniqueArray(id, { maxLength: 2 }),
    data: fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)) })
    .map(({ h, index: i, term: t, voters, learners, data }) => ({
      ...h, type: 'snap' as const, snapshot: { meta: { index: i, term: t, confState: { voters, learners } }, data },
    })),
);

describe('raft wire form', () => {
  it('round-trips every message kind through the grpc serializers', () => {
    fc.assert(fc.property(message, (m) => {
      const back = throughTheWire(m);
      expect(JSON.parse(JSON.stringify(back))).toEqual(JSON.parse(JSON.stringify(m)));
    }), { numRuns: 500 });
  });

  it('rejects malformed frames with a specific reason', () => {
    const base = { term: 1, from: 1, to: 2 };
    const bad: Array<[Partial<RaftMessage__Output>, RegExp]> = [
      [{ ...base, body: undefined }, /without a body/],
      [{ ...base, from: 0, body: 'heartbeatResponse', heartbeatResponse: {} }, /node ids must be >= 1/],
      [{ ...base, body: 'appendRequest', appendRequest: { prevIndex: 5, prevTerm: 1, commit: 0, entries: [
        { term: 1, index: 7, type: 'ENTRY_TYPE_NOOP', data: Buffer.alloc(0), confChange: null }] } }, /not contiguous/],
      [{ ...base, body: 'appendRequest', appendRequest: { prevIndex: 0, prevTerm: 0, commit: 0, entries: [
        { term: 1, index: 1, type: 'ENTRY_TYPE_CONF', data: Buffer.alloc(0), confChange: null }] } }, /lacks a valid conf_change/],
      [{ ...base, body: 'appendRequest', appendRequest: { prevIndex: 0, prevTerm: 0, commit: 0, entries: [
        { term: 1, index: 1, type: 'ENTRY_TYPE_NORMAL', data: Buffer.alloc(0), confChange: null }] } }, /has no data/],
      [{ ...base, body: 'installSnapshot', installSnapshot: { index: 3, term: 1, data: Buffer.alloc(0), confState: { voters: [], learners: [] } } },
        /no voters/],
    ];
    for (const [frame, why] of bad) {
      expect(() => messageFromWire(frame as RaftMessage__Output)).toThrow(WireError);
      expect(() => messageFromWire(frame as RaftMessage__Output)).toThrow(why);
    }
  });
});
