/**
 * The worker as `shardflow run` starts it (kinesalite → decode → enrich → windows on Redis → Hot on
 * PostgreSQL), with the stream gone quiet: one shard's readings hold the global watermark back, the
 * other shard's readings arrive a few seconds later, then nothing more. Once the first shard has been
 * idle for the idle timeout (while the second still counts as active), the window operator's tick
 * finalises the first hour and the final rows reach the Hot store, without a new record.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWorkerConfig } from '../../cli/config.ts';
import { startWorker, type Worker } from '../../cli/worker.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { redisStateStore } from '../../state/keyed/redisStateStore.ts';
import { silentLogger, systemClock } from '../../topology/index.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';
import {
  envelopeOf,
  HOUR,
  loadMasterData,
  MINUTE,
  type ReferenceWorkload,
  tickKeys,
  writeReferenceSpecs,
} from '../support/windowReference.ts';

// yesterday's UTC midnight: readings must be recent enough for the specs' contract
const START = Math.floor(Date.now() / (24 * HOUR)) * 24 * HOUR - 24 * HOUR;
// long enough that the busy shard is surely applied while the slow one still counts as active, on a
// loaded machine too
const IDLE_MS = 20_000;

describe('worker: windows of a quiet stream', () => {
  let kinesis: KinesisClient;
  let db: TestDatabase;
  let reader: pg.Pool;
  let worker: Worker;
  let stream: string;
  const namespace = `idle-${Date.now()}`;
  const redisUrl = testEnv('SHARDFLOW_TEST_REDIS_URL');

  beforeAll(async () => {
    const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
    kinesis = createKinesisClient({ region: 'us-east-1', endpoint });
    stream = uniqueStream('idle');
    await createStream(kinesis, stream, 2);
    db = await createTestDatabase('idle_windows');
    const workload: ReferenceWorkload = {
      start: START,
      hours: 4,
      readings: [],
      devices: [
        { deviceId: 'slow-1', productId: 'thermo-t1', customerId: 'c1', siteId: 's1' },
        { deviceId: 'busy-1', productId: 'thermo-t1', customerId: 'c1', siteId: 's1' },
      ],
      moves: new Map(),
      customerAt: () => 'c1',
    };
    await loadMasterData(db.url, workload);
    reader = testPool(db.url, 1);
    const config = parseWorkerConfig(
      {
        topology: { name: namespace },
        source: {
          kinesis: {
            streamName: stream,
            endpoint,
            region: 'us-east-1',
            idleTimeBetweenReadsMs: 50,
            maxIdleTimeMs: 200,
          },
        },
        decode: { specDir: writeReferenceSpecs() },
        windows: {
          allowedOutOfOrdernessMs: 5 * MINUTE,
          allowedLatenessMs: 10 * MINUTE,
          retentionMs: 6 * HOUR,
          idleTimeoutMs: IDLE_MS,
          flushIntervalMs: 500,
        },
        state: { backend: 'redis', redisUrl },
        warm: { writeUrl: db.url },
        runtime: { checkpointIntervalMs: 200 },
      },
      {},
    );
    worker = await startWorker(config, { log: silentLogger, clock: systemClock });
  });

  afterAll(async () => {
    await worker?.stop();
    await reader?.end();
    await db?.drop();
    kinesis?.destroy();
  });

  it('finalises a window by ticks once the lagging shard is idle, and the Hot store gets it', async () => {
    // the worker's keyed state store: each shard publishes the window node's watermark with its snapshots
    const state = redisStateStore({ redisUrl, namespace: `${namespace}.windows` });
    await state.open();
    try {
      const keys = [...(await tickKeys(kinesis, stream))];
      const put = async (key: string, device: string, at: number, value: number) =>
        kinesis.send(
          new PutRecordCommand({
            StreamName: stream,
            PartitionKey: key,
            Data: new TextEncoder().encode(
              JSON.stringify(
                envelopeOf(device, 'thermo-t1', at, at, {
                  temperature: value,
                  humidity: 50,
                  dew_point: 1,
                  battery: 90,
                  rssi: -70,
                }),
              ),
            ),
          }),
        );
      const [slowShard, slowKey] = keys[0]!;
      const [busyShard, busyKey] = keys[1]!;
      const shardOf = async (shard: string) =>
        (await state.publishedWatermarks('windows')).find((s) => s.shardId === shard);
      // a shard's watermark trails its maximum event time by the allowed out-of-orderness
      const appliedUpTo = (maxEventTime: number) => maxEventTime - 5 * MINUTE;
      // the slow shard: the first hour only; its watermark holds the global one inside that hour
      await put(slowKey, 'slow-1', START + 20 * MINUTE, 1);
      await put(slowKey, 'slow-1', START + 50 * MINUTE, 2);
      await waitFor(
        'the slow shard applied',
        async () => (await shardOf(slowShard))?.watermark === appliedUpTo(START + 50 * MINUTE),
        30_000,
      );
      await new Promise((r) => setTimeout(r, 2_000));
      // the busy shard, hours ahead, while the slow one still counts as active
      await put(busyKey, 'busy-1', START + 3 * HOUR, 3);
      await waitFor(
        'the busy shard applied',
        async () => (await shardOf(busyShard))?.watermark === appliedUpTo(START + 3 * HOUR),
        30_000,
      );
      const slow = (await shardOf(slowShard))!;
      const busy = (await shardOf(busyShard))!;
      // the busy shard's batch was applied while the slow one was active: it could not finalise the hour
      expect(busy.activeAt - slow.activeAt).toBeLessThan(IDLE_MS);
      const finals = async () =>
        (
          await reader.query(
            `SELECT scope, metric, final, revision, count FROM hot_aggregates
             WHERE window_size = '1h' AND window_start = to_timestamp($1 / 1000.0) AND metric = 'temperature'`,
            [START],
          )
        ).rows as { scope: string; final: boolean; count: string }[];
      // no new record from here on: only the ticks can finalise the first hour
      await waitFor(
        'the first hour final in the Hot store',
        async () => {
          const rows = await finals();
          return rows.length === 2 && rows.every((r) => r.final);
        },
        60_000,
      );
      const rows = await finals();
      expect(rows.map((r) => [r.scope, Number(r.count)]).sort()).toEqual([
        ['device', 2],
        ['product', 2],
      ]);
      // ticks are not activity: the slow shard's stays at its last batch
      expect((await shardOf(slowShard))?.activeAt).toBe(slow.activeAt);
    } finally {
      await state.close();
    }
  });
});
