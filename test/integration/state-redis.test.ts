import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisWindowState } from '../../state/redisWindowState.ts';
import { StateLostError } from '../../state/windowState.ts';
import { describeWindowStateConformance } from '../support/stateConformance.ts';
import { testEnv } from '../support/wait.ts';

const redisUrl = () => testEnv('SHARDFLOW_TEST_REDIS_URL');

describeWindowStateConformance('redis', async () => {
  const backend = redisWindowState({ redisUrl: redisUrl(), namespace: `conf-${randomUUID()}` });
  await backend.open();
  return backend;
});

describe('redis window state', () => {
  const admin = new Redis(redisUrl());
  afterAll(() => admin.disconnect());

  it('stops with StateLostError when its keys vanish (Redis restarted empty), rather than counting on', async () => {
    const namespace = `lost-${randomUUID()}`;
    const backend = redisWindowState({ redisUrl: redisUrl(), namespace });
    await backend.open();
    const request = {
      shardId: 's',
      position: { sequenceNumber: '1', subSequenceNumber: 0 },
      classifiedWith: Number.NEGATIVE_INFINITY,
      maxEventTime: 1_000,
      now: 0,
      policy: { outOfOrdernessMs: 0, allowedLatenessMs: 0, retentionMs: 0, idleTimeoutMs: 1_000 },
      partials: [],
      flush: false,
    };
    expect((await backend.apply(request)).status).toBe('applied');
    const keys = await admin.keys(`sf:{${namespace}}:*`);
    expect(keys.length).toBeGreaterThan(0);
    await admin.del(...keys);
    await expect(
      backend.apply({ ...request, position: { sequenceNumber: '2', subSequenceNumber: 0 } }),
    ).rejects.toBeInstanceOf(StateLostError);
    await backend.close();
  });

  it('refuses to join state an older layout wrote (an epoch without a layout record), rather than misreading it', async () => {
    const namespace = `old-${randomUUID()}`;
    await admin.set(`sf:{${namespace}}:epoch`, 'from-an-older-worker');
    await admin.hset(`sf:{${namespace}}:b:product|1h|0`, 'p\x1fm', Buffer.alloc(88));
    const backend = redisWindowState({ redisUrl: redisUrl(), namespace });
    await expect(backend.open()).rejects.toBeInstanceOf(StateLostError);
    await backend.close();
    // a namespace this layout created is joined by the next worker
    const fresh = `new-${randomUUID()}`;
    const first = redisWindowState({ redisUrl: redisUrl(), namespace: fresh });
    const second = redisWindowState({ redisUrl: redisUrl(), namespace: fresh });
    await first.open();
    await second.open();
    await first.close();
    await second.close();
  });

  it('applies a batch in one round trip', async () => {
    const backend = redisWindowState({ redisUrl: redisUrl(), namespace: `rt-${randomUUID()}` });
    await backend.open();
    const evalshaCalls = async () =>
      Number((await admin.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
    const fields = new Map(
      Array.from({ length: 5000 }, (_, i) => [
        `f${i}`,
        { count: 1, sum: i, min: i, max: i, mean: i, m2: 0, first: i, firstAt: 5, last: i, lastAt: 5 },
      ]),
    );
    const batch = (sequenceNumber: string) => ({
      shardId: 's',
      position: { sequenceNumber, subSequenceNumber: 0 },
      classifiedWith: Number.NEGATIVE_INFINITY,
      maxEventTime: 5,
      now: 0,
      policy: { outOfOrdernessMs: 0, allowedLatenessMs: 0, retentionMs: 0, idleTimeoutMs: 1_000 },
      partials: [{ bucket: 'b', windowEnd: 10, fields }],
      flush: true,
    });
    await backend.apply(batch('1')); // loads the script (a first EVALSHA may be answered NOSCRIPT)
    const [calls, trips] = [await evalshaCalls(), backend.roundTrips];
    await backend.apply(batch('2'));
    expect(backend.roundTrips - trips).toBe(1);
    expect((await evalshaCalls()) - calls).toBe(1);
    expect((await backend.readWindow('b', 'f4999'))?.stats.sum).toBe(2 * 4999);
    await backend.close();
  });
});
