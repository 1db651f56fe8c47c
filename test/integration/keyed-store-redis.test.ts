/**
 * The Redis keyed state store: the conformance suite against the real Redis of the global setup, and
 * what only Redis can do to it: lose its contents, drop a connection in the middle of a write, take a
 * large shard over while its previous owner is still writing.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedis } from '../../infra/local/redis.ts';
import { INLINE_ENTRIES, redisStateStore } from '../../state/keyed/redisStateStore.ts';
import {
  type Position,
  type StateEntry,
  StateFencedError,
  StateLostError,
  type StoredSnapshot,
} from '../../topology/index.ts';
import { startFaultProxy } from '../support/faultProxy.ts';
import { describeStateStoreConformance } from '../support/keyedStoreConformance.ts';
import { testEnv } from '../support/wait.ts';

const redisUrl = () => testEnv('SHARDFLOW_TEST_REDIS_URL');
const at = (sequenceNumber: string): Position => ({ sequenceNumber, subSequenceNumber: 0 });

let namespace = '';
describeStateStoreConformance(
  'redis',
  async (again) => {
    if (!again) namespace = `keyed-${randomUUID()}`;
    const store = redisStateStore({ redisUrl: redisUrl(), namespace });
    await store.open();
    return store;
  },
  {
    // the namespace's keys only: FLUSHALL would wipe the other tests' state
    empty: async () => {
      const admin = new Redis(redisUrl());
      const keys = await admin.keys(`sf:{${namespace}}:*`);
      if (keys.length > 0) await admin.del(...keys);
      admin.disconnect();
    },
  },
);

/** `count` entries whose values name `tag`, of about `bytes` bytes each. */
function entries(count: number, tag: string, bytes = 200): StateEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `device-${i}\x1fv`,
    value: Buffer.concat([Buffer.from(`${tag}:${i}:`), Buffer.alloc(bytes, 0xff)]),
  }));
}

/** The tags of the writes a snapshot's entries come from. */
const tagsOf = (snapshot: StoredSnapshot | undefined) => [
  ...new Set(snapshot?.entries.map((e) => Buffer.from(e.value).toString('latin1').split(':')[0])),
];

describe('redis keyed state store', () => {
  const admin = new Redis(redisUrl());
  afterAll(() => admin.disconnect());

  it('keeps its keys under sf:{namespace}:ks: and writes a large snapshot in one script call', async () => {
    const ns = `layout-${randomUUID()}`;
    const store = redisStateStore({ redisUrl: redisUrl(), namespace: ns });
    await store.open();
    await store.claim('shardId-1', 'owner');
    await store.write({
      shardId: 'shardId-1',
      owner: 'owner',
      position: at('1'),
      upserts: entries(2, 'a'),
      deletes: [],
    });
    expect((await admin.keys(`sf:{${ns}}:*`)).sort()).toEqual([
      `sf:{${ns}}:ks:e:shardId-1`,
      `sf:{${ns}}:ks:epoch`,
      `sf:{${ns}}:ks:m:shardId-1`,
    ]);
    expect(await admin.hgetall(`sf:{${ns}}:ks:m:shardId-1`)).toEqual({
      owner: 'owner',
      seq: '1',
      sub: '0',
      v: '1',
    });

    const scriptCalls = async () => {
      const stats = await admin.info('commandstats');
      const calls = (name: string) =>
        Number(stats.match(new RegExp(`cmdstat_${name}:calls=(\\d+)`))?.[1] ?? 0);
      return calls('evalsha') + calls('eval');
    };
    const [before, trips] = [await scriptCalls(), store.roundTrips];
    const receipt = await store.write({
      shardId: 'shardId-1',
      owner: 'owner',
      position: at('2'),
      upserts: entries(250_000, 'b', 100),
      deletes: [],
    });
    expect(receipt.roundTrips).toBe(1);
    expect(receipt.bytes).toBeGreaterThan(250_000 * 100);
    expect(store.roundTrips - trips).toBe(1);
    expect((await scriptCalls()) - before).toBe(1);
    expect(await admin.hlen(`sf:{${ns}}:ks:e:shardId-1`)).toBe(250_000);
    await admin.del(`sf:{${ns}}:ks:e:shardId-1`);
    await store.close();
  });

  it('keeps published state under pub:<group> (with its TTL), wm:<node> and wmnodes, one round trip per call', async () => {
    const ns = `published-${randomUUID()}`;
    const store = redisStateStore({ redisUrl: redisUrl(), namespace: ns });
    await store.open();
    await store.claim('shardId-1', 'owner');
    const group = JSON.stringify(['node', 'partials', 'customer-1']);
    const trips = store.roundTrips;
    const receipt = await store.write({
      shardId: 'shardId-1',
      owner: 'owner',
      position: at('1'),
      upserts: entries(2, 'a'),
      deletes: [],
      published: {
        upserts: [{ group, value: Buffer.from('partial'), ttlMs: 60_000 }],
        deletes: [],
        watermarks: [{ node: 'node', watermark: Number.NEGATIVE_INFINITY, activeAt: 1_234 }],
      },
    });
    expect(receipt.roundTrips).toBe(1);
    const p = `sf:{${ns}}:ks:`;
    expect((await admin.keys(`sf:{${ns}}:*`)).sort()).toEqual(
      [
        `${p}e:shardId-1`,
        `${p}epoch`,
        `${p}m:shardId-1`,
        `${p}pub:${group}`,
        `${p}wm:node`,
        `${p}wmnodes`,
      ].sort(),
    );
    expect(await admin.hgetall(`${p}pub:${group}`)).toEqual({ 'shardId-1': 'partial' });
    const ttl = await admin.pttl(`${p}pub:${group}`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await admin.hgetall(`${p}wm:node`)).toEqual({ 'shardId-1': '-Infinity 1234' });
    expect(await admin.smembers(`${p}wmnodes`)).toEqual(['node']);
    await store.readPublished([group, 'other']);
    await store.publishedWatermarks('node');
    expect(store.roundTrips - trips).toBe(3);
    await store.close();
  });

  it('throws StateLostError from every call once Redis lost its contents (FLUSHALL), rather than starting empty', async () => {
    // a Redis of its own: FLUSHALL on the shared one would wipe the other tests' state
    const server = await startRedis();
    const store = redisStateStore({ redisUrl: server.url, namespace: 'lost' });
    const own = new Redis(server.url);
    try {
      await store.open();
      await store.claim('s', 'owner');
      await store.write({
        shardId: 's',
        owner: 'owner',
        position: at('1'),
        upserts: entries(3, 'a'),
        deletes: [],
      });
      await own.flushall();
      await expect(store.claim('s', 'owner-2')).rejects.toBeInstanceOf(StateLostError);
      await expect(store.read('s')).rejects.toBeInstanceOf(StateLostError);
      await expect(
        store.write({ shardId: 's', owner: 'owner', position: at('2'), upserts: [], deletes: [] }),
      ).rejects.toBeInstanceOf(StateLostError);
      await expect(store.reset('s', undefined)).rejects.toBeInstanceOf(StateLostError);
      // the failed calls wrote nothing: the flushed Redis stays empty
      expect(await own.dbsize()).toBe(0);
      // a worker that opens after the loss starts a new epoch, which the old one does not join
      const later = redisStateStore({ redisUrl: server.url, namespace: 'lost' });
      await later.open();
      expect(await later.read('s')).toBeUndefined();
      await expect(store.read('s')).rejects.toBeInstanceOf(StateLostError);
      await later.close();
    } finally {
      own.disconnect();
      await store.close();
      await server.stop();
    }
  });

  it('leaves the previous snapshot whole when the connection drops in the middle of a write', async () => {
    const url = new URL(redisUrl());
    const proxy = await startFaultProxy(url.hostname, Number(url.port));
    const ns = `cut-${randomUUID()}`;
    const store = redisStateStore({ redisUrl: `redis://127.0.0.1:${proxy.port}`, namespace: ns });
    const direct = redisStateStore({ redisUrl: redisUrl(), namespace: ns });
    try {
      await store.open();
      await direct.open();
      await store.claim('s', 'owner');
      const first = { shardId: 's', owner: 'owner', deletes: [] };
      await store.write({ ...first, position: at('1'), upserts: entries(100_000, 'old') });
      // about 21 MB: Redis gets the first 5 MB of the command, then the connection's end
      const cut = proxy.cutAfter(5_000_000);
      const second = {
        ...first,
        position: at('2'),
        upserts: entries(100_000, 'new'),
        deletes: ['device-0\x1fv'],
      };
      const written = store.write(second);
      await cut;
      const kept = await direct.read('s');
      expect(kept?.position).toEqual(at('1'));
      expect(kept?.entries).toHaveLength(100_000);
      expect(tagsOf(kept)).toEqual(['old']);
      // once Redis can be reached again, the client sends the write again, whole: it applies whole
      proxy.up();
      await written;
      const resent = await direct.read('s');
      expect(resent?.position).toEqual(at('2'));
      expect(resent?.entries).toHaveLength(99_999);
      expect(tagsOf(resent)).toEqual(['new']);
      await store.write({ ...first, position: at('3'), upserts: entries(10, 'later') });
      expect((await direct.read('s'))?.position).toEqual(at('3'));
    } finally {
      await store.close();
      await direct.close();
      await proxy.close();
    }
  });

  it('gives a claim of a large shard all of the previous owner’s racing write or none of it', async () => {
    const ns = `race-${randomUUID()}`;
    const previous = redisStateStore({ redisUrl: redisUrl(), namespace: ns });
    const next = redisStateStore({ redisUrl: redisUrl(), namespace: ns });
    const reader = redisStateStore({ redisUrl: redisUrl(), namespace: ns });
    await Promise.all([previous.open(), next.open(), reader.open()]);
    try {
      const count = 4 * INLINE_ENTRIES; // read by HSCAN, not in the claim's reply
      await previous.claim('s', 'previous');
      await previous.write({
        shardId: 's',
        owner: 'previous',
        position: at('1'),
        upserts: entries(count, 'one'),
        deletes: [],
      });
      for (let round = 2; round < 6; round++) {
        const tag = `round-${round}`;
        const [written, claimed, read] = await Promise.allSettled([
          previous.write({
            shardId: 's',
            owner: 'previous',
            position: at(String(round)),
            upserts: entries(count, tag),
            deletes: [],
          }),
          next.claim('s', `next-${round}`),
          reader.read('s'),
        ]);
        if (claimed.status === 'rejected' || read.status === 'rejected')
          throw new Error('claim or read failed');
        // whichever came first, the claim saw one snapshot whole, and a refused write is not in it
        expect(claimed.value?.entries).toHaveLength(count);
        const tags = tagsOf(claimed.value);
        expect(tags).toHaveLength(1);
        const landed = claimed.value?.position?.sequenceNumber === String(round);
        expect(tags[0] === tag).toBe(landed);
        if (written.status === 'rejected') {
          expect(written.reason).toBeInstanceOf(StateFencedError);
          expect(landed).toBe(false);
        }
        // a read racing the write sees one snapshot whole as well
        expect(read.value?.entries).toHaveLength(count);
        expect(tagsOf(read.value)).toHaveLength(1);
        await previous.claim('s', 'previous');
      }
    } finally {
      await Promise.all([previous.close(), next.close(), reader.close()]);
    }
  });
});
