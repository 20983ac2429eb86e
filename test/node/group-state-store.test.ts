import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupStateStore, StoreCorruptionError } from '../../node/group-state-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'ferry-gss-'));
  dirs.push(d);
  return d;
}

describe('GroupStateStore', () => {
  it('persists hard state, membership and snapshot per group across reopen', async () => {
    const dir = tempDir();
    const store = await GroupStateStore.open(dir);
    expect(await store.load('orders/0')).toEqual({ hardState: undefined, confState: undefined, snapshot: undefined });
    store.setHardState('orders/0', { term: 3, vote: 2, commit: 17 }, true);
    store.setHardState('orders/0', { term: 4, vote: 1, commit: 18 }, false); // the later write wins
    store.setConfState('orders/0', { voters: [1, 2, 3], learners: [4] });
    store.setHostedSince('orders/0', 42);
    store.setSnapshot('__controller', { index: 40, term: 2, nextOffset: 0, confState: { voters: [1], learners: [] }, data: new Uint8Array([1, 2, 3]) });
    // A Buffer (a slice of a larger one, as a decoded snapshot's image is) keeps its bytes too.
    store.setSnapshot('__image', { index: 41, term: 2, nextOffset: 0, confState: { voters: [1], learners: [] }, data: Buffer.from([9, 8, 7, 6]).subarray(1, 3) });
    expect(store.dirty).toBe(true);
    await store.commit();
    expect(store.dirty).toBe(false);
    await store.close();

    const again = await GroupStateStore.open(dir);
    expect(await again.load('orders/0')).toEqual({
      hardState: { term: 4, vote: 1, commit: 18 }, confState: { voters: [1, 2, 3], learners: [4] }, snapshot: undefined, hostedSince: 42,
    });
    const ctl = await again.load('__controller');
    expect(ctl.snapshot?.data).toEqual(new Uint8Array([1, 2, 3]));
    expect((await again.load('__image')).snapshot?.data).toEqual(new Uint8Array([8, 7]));
    expect((await again.groups()).sort()).toEqual(['orders/0']);
    again.deleteGroup('orders/0');
    await again.commit();
    expect(await again.load('orders/0')).toEqual({ hardState: undefined, confState: undefined, snapshot: undefined });
    await again.close();
  });

  it('detects a damaged value instead of decoding a wrong vote', async () => {
    const dir = tempDir();
    const store = await GroupStateStore.open(dir);
    store.setHardState('t/1', { term: 9, vote: 3, commit: 0 }, true);
    await store.close();

    const raw = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await raw.open();
    const value = (await raw.get('hs/t/1'))!;
    value[value.length - 3] ^= 0x01; // flip one bit in the JSON payload
    await raw.put('hs/t/1', value);
    await raw.put('conf/t/1', Buffer.from([7, 0]));
    await raw.close();

    const again = await GroupStateStore.open(dir);
    await expect(again.load('t/1')).rejects.toThrow(StoreCorruptionError);
    await expect(again.load('t/1')).rejects.toThrow(/hs\/t\/1: CRC mismatch/);
    await again.close();
  });
});
