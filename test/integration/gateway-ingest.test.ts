/**
 * The gateways' durable ingest (`gateways/ingest/durableIngest.ts`) against kinesalite behind the
 * fault proxy (`infra/local/kinesisFaults.ts`), with the real SDK client:
 *
 * - a fifth of the entries failed and a fifth of the requests throttled: every acknowledged record is
 *   in the stream exactly as sent, once, and each device's records are in order;
 * - the stream stalled for 30 s while devices keep sending: what the ingest holds stays within its
 *   bound (offers are refused, not buffered), and it resumes by itself, putting everything it took.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durableIngest } from '../../gateways/ingest/durableIngest.ts';
import { type KinesisFaultProxy, startKinesisFaultProxy } from '../../infra/local/kinesisFaults.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { systemClock } from '../../topology/index.ts';
import { createStream, readStream, uniqueStream } from '../support/kinesis.ts';
import { testEnv } from '../support/wait.ts';

const target = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
const STALL_MS = Number(process.env.GATEWAY_STALL_MS ?? 30_000);

describe('durable ingest through a faulty Kinesis', () => {
  let proxy: KinesisFaultProxy;
  let direct: KinesisClient;
  let faulty: KinesisClient;
  beforeAll(async () => {
    proxy = await startKinesisFaultProxy({ target, seed: 23 });
    direct = createKinesisClient({ region: 'us-east-1', endpoint: target });
    faulty = createKinesisClient({
      region: 'us-east-1',
      endpoint: proxy.endpoint,
      maxAttempts: 1,
      requestTimeoutMs: 2000,
    });
  });
  afterAll(async () => {
    faulty?.destroy();
    direct?.destroy();
    await proxy?.close();
  });

  it('puts every acknowledged record once, in order per device, with 20 % of entries failed and 20 % of requests throttled', async () => {
    const stream = uniqueStream('ingest-faults');
    await createStream(direct, stream, 4);
    proxy.set({ entryFailureRate: 0.2, throttleRate: 0.2 });
    const ingest = durableIngest({
      client: faulty,
      streamName: stream,
      clock: systemClock,
      limits: { lingerMs: 5, initialRetryDelayMs: 5, maxRetryDelayMs: 50 },
    });
    const devices = Array.from({ length: 60 }, (_, i) => `dev-${String(i).padStart(3, '0')}`);
    const acknowledged: string[] = [];
    const puts: Promise<void>[] = [];
    for (let n = 0; n < 40; n++) {
      for (const device of devices) {
        const body = JSON.stringify({ device, n, pad: 'x'.repeat(n % 7) });
        puts.push(
          ingest
            .put({ partitionKey: device, data: Buffer.from(body) })
            .then(() => void acknowledged.push(body)),
        );
      }
      if (n % 10 === 9) await new Promise((r) => setTimeout(r, 20)); // devices keep sending meanwhile
    }
    await Promise.all(puts);
    await ingest.close();
    proxy.set({});
    expect(proxy.stats().entriesFailed).toBeGreaterThan(10);
    expect(proxy.stats().throttled).toBeGreaterThan(2);

    const landed = await readStream(direct, stream);
    const bodies = landed.map((r) => r.data.toString());
    expect(bodies.length).toBe(acknowledged.length);
    expect(new Set(bodies)).toEqual(new Set(acknowledged));
    for (const device of devices) {
      const mine = landed.filter((r) => r.partitionKey === device);
      expect(new Set(mine.map((r) => r.shardId)).size).toBe(1);
      expect(mine.map((r) => (JSON.parse(r.data.toString()) as { n: number }).n)).toEqual(
        Array.from({ length: 40 }, (_, n) => n),
      );
    }
  }, 120_000);

  it('holds no more than its bound while the stream is stalled, and resumes by itself', async () => {
    const stream = uniqueStream('ingest-stall');
    await createStream(direct, stream, 2);
    const bound = { maxBufferedRecords: 2_000, maxBufferedBytes: 1024 * 1024 };
    const ingest = durableIngest({
      client: faulty,
      streamName: stream,
      clock: systemClock,
      limits: { ...bound, lingerMs: 5, initialRetryDelayMs: 50, maxRetryDelayMs: 1_000 },
    });
    const taken: Promise<void>[] = [];
    let offered = 0;
    let refused = 0;
    let maxRecords = 0;
    let maxBytes = 0;
    const send = () => {
      // 40 devices, 2,000 messages a second, as a gateway's devices would keep sending
      for (let i = 0; i < 20; i++) {
        const device = `d${offered % 40}`;
        const admission = ingest.offer({
          partitionKey: device,
          data: Buffer.from(JSON.stringify({ device, n: offered++, pad: 'p'.repeat(200) })),
        });
        if (admission.accepted) taken.push(admission.durable);
        else refused++;
      }
      const stats = ingest.stats();
      maxRecords = Math.max(maxRecords, stats.bufferedRecords);
      maxBytes = Math.max(maxBytes, stats.bufferedBytes);
    };
    const sending = setInterval(send, 10);
    try {
      await new Promise((r) => setTimeout(r, 500));
      proxy.set({ stalled: true });
      await new Promise((r) => setTimeout(r, STALL_MS));
      expect(ingest.hasRoom).toBe(false);
      expect(ingest.reachable).toBe(false);
      const refusedWhileStalled = refused;
      expect(refusedWhileStalled).toBeGreaterThan(1000);
      proxy.set({ stalled: false });
      await new Promise((r) => setTimeout(r, 5_000));
    } finally {
      clearInterval(sending);
      proxy.set({});
    }
    await Promise.all(taken);
    expect(maxRecords).toBeLessThanOrEqual(bound.maxBufferedRecords);
    expect(maxBytes).toBeLessThanOrEqual(bound.maxBufferedBytes + 1024);
    expect(ingest.reachable).toBe(true);
    const landed = await readStream(direct, stream);
    // at least every record it took, each device's in order. A request that timed out may still have
    // landed (as with Kinesis itself), so a record can appear twice: at least once, and the first
    // copies in order
    const numbers = new Map<string, number[]>();
    const seen = new Set<string>();
    for (const r of landed) {
      const text = r.data.toString();
      if (seen.has(text)) continue;
      seen.add(text);
      const { device, n } = JSON.parse(text) as { device: string; n: number };
      numbers.set(device, [...(numbers.get(device) ?? []), n]);
    }
    expect(new Set(landed.map((r) => r.data.toString())).size).toBe(taken.length);
    for (const list of numbers.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
    await ingest.close();
  }, 120_000);
});
