import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatch } from '../../log/index.js';
import type { FerryServiceClient } from '../../proto/gen/ferry/v1/FerryService.js';
import { startCluster, type Fixture } from './cluster-fixture.js';
import { call, rawClient } from './raw-client.js';

let f: Fixture;
let leader: FerryServiceClient;
let other: FerryServiceClient;
let hwBefore: number;

interface WireErr { code: string; message: string; retriable: boolean }

beforeAll(async () => {
  f = await startCluster(3);
  await f.client.admin.createTopic('t', { partitions: 1, replicationFactor: 3, configs: { 'max.message.bytes': '2048' } });
  await f.client.producer().send('t', { value: 'seed', partition: 0 });
  const d = (await f.client.admin.describeTopic('t'))[0]!;
  hwBefore = d.highWatermark;
  leader = rawClient(f.cluster.addresses.get(d.leaderId)!);
  other = rawClient(f.cluster.addresses.get(f.cluster.ids.find((id) => id !== d.leaderId)!)!);
});
afterAll(async () => {
  leader?.close();
  other?.close();
  await f?.stop();
});

const good = (): Buffer => encodeBatch({ records: [{ key: null, value: Buffer.from('v'), timestamp: Date.now() }] });

async function produceError(topic: string, partition: number, batch: Buffer): Promise<WireErr> {
  const res = await call<{ results: Array<{ error: WireErr }> }>(leader, 'Produce', { partitions: [{ topic, partition, batch }] });
  return res.results[0]!.error;
}

describe('bad requests get a specific error and change nothing', () => {
  it('produce: corrupt CRC, wrong magic, truncated bytes, oversize, unknown topic/partition', async () => {
    const badCrc = good();
    badCrc[badCrc.length - 1] ^= 0x5a;
    expect(await produceError('t', 0, badCrc)).toMatchObject({ code: 'ERROR_CODE_CORRUPT_MESSAGE', retriable: false, message: expect.stringMatching(/CRC/i) });
    const badMagic = good();
    badMagic[16] = 1;
    expect((await produceError('t', 0, badMagic)).code).toBe('ERROR_CODE_CORRUPT_MESSAGE');
    expect((await produceError('t', 0, good().subarray(0, 30))).code).toBe('ERROR_CODE_CORRUPT_MESSAGE');
    const big = encodeBatch({ records: [{ key: null, value: Buffer.alloc(4096, 1), timestamp: Date.now() }] });
    expect(await produceError('t', 0, big)).toMatchObject({ code: 'ERROR_CODE_MESSAGE_TOO_LARGE', message: expect.stringMatching(/2048/) });
    const control = encodeBatch({ isControl: true, records: [{ key: Buffer.from([0, 0, 0, 100]), value: null, timestamp: 1 }] });
    expect(await produceError('t', 0, control)).toMatchObject({ code: 'ERROR_CODE_INVALID_REQUEST', message: expect.stringMatching(/control/) });
    expect(await produceError('nope', 0, good())).toMatchObject({ code: 'ERROR_CODE_UNKNOWN_TOPIC_OR_PARTITION', message: expect.stringMatching(/nope/) });
    expect(await produceError('t', 7, good())).toMatchObject({ code: 'ERROR_CODE_UNKNOWN_TOPIC_OR_PARTITION', message: expect.stringMatching(/partitions 0-0/) });
    const d = (await f.client.admin.describeTopic('t'))[0]!;
    expect(d.highWatermark).toBe(hwBefore);
  });

  it('fetch out of range and list offsets without a spec', async () => {
    const fetch = await call<{ results: Array<{ error: WireErr }> }>(leader, 'Fetch', { partitions: [{ topic: 't', partition: 0, fetchOffset: hwBefore + 100 }] });
    expect(fetch.results[0]!.error).toMatchObject({ code: 'ERROR_CODE_OFFSET_OUT_OF_RANGE', message: expect.stringMatching(/outside \[0, \d+\]/) });
    const lo = await call<{ results: Array<{ error: WireErr }> }>(leader, 'ListOffsets', { partitions: [{ topic: 't', partition: 0 }] });
    expect(lo.results[0]!.error.code).toBe('ERROR_CODE_INVALID_REQUEST');
  });

  it('topic admin: bad name, bad partition count, bad config, rf above brokers, duplicate, unknown delete', async () => {
    const create = async (req: object): Promise<WireErr> => (await call<{ error: WireErr }>(other, 'CreateTopic', req)).error;
    expect(await create({ name: 'a/b', partitions: 1 })).toMatchObject({ code: 'ERROR_CODE_INVALID_REQUEST', message: expect.stringMatching(/may only contain/) });
    expect(await create({ name: 'zero', partitions: 0 })).toMatchObject({ code: 'ERROR_CODE_INVALID_REQUEST', message: expect.stringMatching(/partitions must be/) });
    expect(await create({ name: 'cfg', partitions: 1, configs: { 'retention.ms': 'soon' } }))
      .toMatchObject({ code: 'ERROR_CODE_INVALID_CONFIG', message: expect.stringMatching(/retention.ms/) });
    expect(await create({ name: 'rf', partitions: 1, replicationFactor: 5 }))
      .toMatchObject({ code: 'ERROR_CODE_INVALID_REPLICATION_FACTOR', message: expect.stringMatching(/larger than the 3 live/) });
    expect(await create({ name: 't', partitions: 1 })).toMatchObject({ code: 'ERROR_CODE_TOPIC_ALREADY_EXISTS' });
    const del = await call<{ error: WireErr }>(other, 'DeleteTopic', { name: 'ghost' });
    expect(del.error.code).toBe('ERROR_CODE_UNKNOWN_TOPIC_OR_PARTITION');
    const md = await f.client.admin.metadata$();
    expect(md.topics.map((t) => t.name)).toEqual(['t']);
  });

  it('alters topic config without a restart; bad changes are refused and change nothing', async () => {
    const alter = async (req: object): Promise<WireErr> => (await call<{ error: WireErr }>(other, 'AlterTopicConfig', req)).error;
    const maxBytes = async (): Promise<string | undefined> => (await f.client.admin.metadata$(['t'])).topics[0]?.configs['max.message.bytes'];
    expect(await alter({ name: 't', set: { 'max.message.bytes': 'big' } })).toMatchObject({ code: 'ERROR_CODE_INVALID_CONFIG', message: expect.stringMatching(/max.message.bytes/) });
    expect(await alter({ name: 't', reset: ['max.msg.bytes'] })).toMatchObject({ code: 'ERROR_CODE_INVALID_CONFIG', message: expect.stringMatching(/unknown topic config/) });
    expect(await alter({ name: 'ghost', set: { 'retention.ms': '1000' } })).toMatchObject({ code: 'ERROR_CODE_UNKNOWN_TOPIC_OR_PARTITION' });
    expect(await maxBytes()).toBe('2048');
    const fourK = encodeBatch({ records: [{ key: null, value: Buffer.alloc(4000, 2), timestamp: Date.now() }] });
    expect((await produceError('t', 0, fourK)).code).toBe('ERROR_CODE_MESSAGE_TOO_LARGE');
    // Through a non-leader node (forwarded to the controller), applied by the running leader.
    expect(await alter({ name: 't', set: { 'max.message.bytes': '8192' } })).toMatchObject({ code: 'ERROR_CODE_NONE' });
    const deadline = Date.now() + 10_000;
    let code = '';
    while (Date.now() < deadline && (code = (await produceError('t', 0, Buffer.from(fourK))).code) !== 'ERROR_CODE_NONE') {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(code).toBe('ERROR_CODE_NONE');
    expect(await alter({ name: 't', reset: ['max.message.bytes'] })).toMatchObject({ code: 'ERROR_CODE_NONE' });
    const until = Date.now() + 10_000;
    while (Date.now() < until && (await maxBytes()) !== '1048588') await new Promise((r) => setTimeout(r, 100));
    expect(await maxBytes()).toBe('1048588');
  });
});
