/**
 * People's actions through the stream on a running worker: a latched `frost` alarm (the example
 * ruleset) raised and cleared by a real `shardflow run`, acknowledged with `shardflow alarms ack`. The
 * command puts the action on the stream with the device's partition key and waits for its events; the
 * rule operator closes the episode in its state, so Warm and Hot show it closed, and the device's next
 * frost raises a new episode, with no event of the old one dropped or numbered twice.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerConfigInput } from '../../cli/config.ts';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { readAlarmEvents, readEpisode } from '../../sinks/alarms/warmAlarms.ts';
import { pgSqlClient } from '../../sinks/postgres/sql.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { systemClock } from '../../topology/index.ts';
import { runCli } from '../support/cli.ts';
import { uniqueTable } from '../support/dynamodb.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';
import { envelopeOf } from '../support/windowReference.ts';
import { type WorkerFleet, workerFleet } from '../support/workerProcesses.ts';

const MINUTE = 60_000;
const TIMEOUT_MS = 180_000;
const DEVICE = 'thermo-ack-1';
// recent event times (the spec's contract refuses readings older than 30 days), on a whole minute
const T0 = Math.floor((Date.now() - 60 * MINUTE) / MINUTE) * MINUTE;

function configOf(stream: string, warmUrl: string): WorkerConfigInput {
  return {
    topology: { name: `alarm-actions-${randomUUID().slice(0, 8)}` },
    source: {
      kinesis: {
        streamName: stream,
        endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
        region: 'us-east-1',
        idleTimeBetweenReadsMs: 50,
        maxIdleTimeMs: 200,
      },
      leases: {
        tableName: uniqueTable('alarm-actions'),
        endpoint: testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT'),
        renewIntervalMs: 500,
        takeIntervalMs: 500,
      },
    },
    decode: { specDir: 'specs/examples' },
    rules: { dir: 'specs/examples/rules' },
    state: { backend: 'redis', redisUrl: testEnv('SHARDFLOW_TEST_REDIS_URL') },
    warm: { writeUrl: warmUrl },
    runtime: { checkpointIntervalMs: 1000 },
    log: { level: 'info' },
  };
}

describe('shardflow alarms ack on a running worker', () => {
  const kinesis = createKinesisClient({
    region: 'us-east-1',
    endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
  });
  const stream = uniqueStream('alarm-actions');
  let db: TestDatabase;
  let fleet: WorkerFleet | undefined;

  beforeAll(async () => {
    await createStream(kinesis, stream, 1);
    db = await createTestDatabase('alarm_actions');
  }, 60_000);

  afterAll(async () => {
    await fleet?.close().catch(() => {});
    kinesis.destroy();
    await db?.drop().catch(() => {});
  });

  it(
    'closes the acknowledged latched alarm in the operator, Warm and Hot; the next frost is a new episode',
    async () => {
      fleet = workerFleet(configOf(stream, db.url), { timeoutMs: TIMEOUT_MS });
      await fleet.start('a').started();
      const producer = kinesisProducer({ client: kinesis, clock: systemClock, streamName: stream });
      const reading = (minute: number, temperature: number) =>
        envelopeOf(DEVICE, 'thermo-t1', T0 + minute * MINUTE, T0 + minute * MINUTE, { temperature });
      await producer.put([reading(0, -5), reading(1, 10)]);

      const pool = testPool(db.url, 2);
      const sql = pgSqlClient(pool);
      try {
        const frost = async () =>
          (
            await pool.query<{ episode_id: string }>(
              `SELECT episode_id FROM alarm_episodes WHERE rule_id = 'frost' AND device_id = $1 ORDER BY opened_at`,
              [DEVICE],
            )
          ).rows.map((r) => r.episode_id);
        let id = '';
        await waitFor(
          'the frost alarm raised, cleared and latched in Warm',
          async () => {
            id = (await frost())[0] ?? '';
            const e = id === '' ? undefined : await readEpisode(sql, id);
            return e !== undefined && e.status === 'cleared' && e.latched && e.lastEventSeq === 3;
          },
          60_000,
        );

        const acked = await runCli(
          ['alarms', 'ack', id, '--by', 'ana', '--timeout', '90s', '-c', fleet.configFile],
          {},
          TIMEOUT_MS,
        );
        expect(acked.stderr).toBe('');
        expect(acked.code).toBe(0);
        expect(acked.stdout).toMatch(/4 acknowledge, 5 close; now major, closed/);
        expect((await readEpisode(sql, id))?.closedAt).not.toBeNull();
        const hot = await pool.query<{ closed: boolean }>(
          'SELECT closed_at IS NOT NULL AS closed FROM hot_open_alarms WHERE episode_id = $1',
          [id],
        );
        expect(hot.rows.map((r) => r.closed)).toEqual([true]);

        // the operator knows the episode closed: the next frost is a new episode, numbered from 1
        await producer.put([reading(3, -6)]);
        await waitFor('the next frost episode', async () => (await frost()).length === 2, 60_000);
        const next = (await frost())[1]!;
        expect((await readAlarmEvents(sql, next)).map((e) => [e.seq, e.kind])).toEqual([[1, 'raise']]);
        expect((await readAlarmEvents(sql, id)).map((e) => [e.seq, e.kind, e.by])).toEqual([
          [1, 'raise', null],
          [2, 'clear', null],
          [3, 'latch', null],
          [4, 'acknowledge', 'ana'],
          [5, 'close', 'ana'],
        ]);
        const applied = (await fleet.workers[0]!.metrics()).match(/rule_actions_applied(?:\{[^}]*\})? (\d+)/);
        expect(applied?.[1]).toBe('1');
      } finally {
        await pool.end();
      }
    },
    TIMEOUT_MS,
  );
});
