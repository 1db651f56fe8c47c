import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerConfigInput } from '../../cli/config.ts';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { type Position, systemClock } from '../../topology/index.ts';
import { type ActionServices, startActionServices } from '../support/actionServices.ts';
import { runCli } from '../support/cli.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, hotPositions, type TestDatabase, testPool } from '../support/postgres.ts';
import { thermoWaves } from '../support/ruleFixtures.ts';
import { testEnv, waitFor } from '../support/wait.ts';
import { envelopeOf, tickKeys } from '../support/windowReference.ts';
import {
  comparePositions,
  rulesWorkerConfig,
  type WorkerFleet,
  workerFleet,
} from '../support/workerProcesses.ts';

const SEC = 1_000;
const MINUTE = 60 * SEC;
const DEVICES = 40;
const READINGS_PER_DEVICE = 240; // 1 hour
const SHARDS = 4;
const TIMEOUT_MS = 4 * MINUTE;
const T0 = Math.floor((Date.now() - 2 * 60 * MINUTE) / MINUTE) * MINUTE;
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:thermo-alarms';

function policyFile(webhookUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-responses-'));
  writeFileSync(
    join(dir, 'thermo-t1.yaml'),
    `id: thermo-t1-loss
productId: thermo-t1
version: 1
policies:
  - alarm: "*"
    notify:
      - { after: 0s, to: [{ email: ops@example.com }, { sns: "${TOPIC}" }] }
      - { after: 1h, to: [{ email: manager@example.com }] }
    onClear: [{ webhook: "${webhookUrl}/cleared" }]
`,
  );
  return dir;
}

describe('actions: a worker lost mid-run, then a replay', () => {
  const kinesis = createKinesisClient({
    region: 'us-east-1',
    endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
  });
  const stream = uniqueStream('actions-loss');
  let db: TestDatabase;
  let services: ActionServices;
  const fleets: WorkerFleet[] = [];

  beforeAll(async () => {
    await createStream(kinesis, stream, SHARDS);
    db = await createTestDatabase('actions_loss');
    services = await startActionServices();
  }, 60_000);

  afterAll(async () => {
    for (const f of fleets) await f.close().catch(() => {});
    kinesis.destroy();
    await services?.stop();
    await db?.drop().catch(() => {});
  });

  it('sends every (episode, step, channel) exactly once', async () => {
    const startedAt = Date.now();
    const config: WorkerConfigInput = {
      ...rulesWorkerConfig('actions-loss', stream, db.url),
      actions: services.config({
        policiesDir: policyFile(services.webhookUrl),
        maxEventAgeMs: 86_400_000,
        iot: undefined,
        workflow: undefined,
      }) as WorkerConfigInput['actions'],
    };
    const all = thermoWaves(DEVICES, READINGS_PER_DEVICE, T0, 15 * SEC);
    const fleet = workerFleet(config, { timeoutMs: TIMEOUT_MS });
    fleets.push(fleet);
    for (const w of [fleet.start('a'), fleet.start('b')]) await w.started();
    const producer = kinesisProducer({
      client: kinesis,
      clock: systemClock,
      streamName: stream,
      aggregation: { maxBytes: 16 * 1024 },
    });
    const half = Math.floor(all.length / 2);
    await producer.put(all.slice(0, half));

    const pool = testPool(db.url, 1);
    try {
      await waitFor(
        'a worker with batches processed beyond its checkpoint, and no delivery in flight',
        async () => {
          await new Promise((r) => setTimeout(r, 50));
          const [leases, processed] = [await fleet.leases(), await hotPositions(pool)];
          const victim = leases.find((lease) => {
            const at = processed.get(lease.leaseKey);
            return (
              'position' in lease.checkpoint &&
              at !== undefined &&
              comparePositions(at, lease.checkpoint.position) > 0
            );
          })?.leaseOwner;
          if (victim === undefined) return false;
          const held = await pool.query(
            `SELECT (SELECT count(*) FROM action_outbox WHERE status = 'pending' AND due_at <= now())
                  - (SELECT count(*) FROM (SELECT 1 FROM action_outbox WHERE status = 'pending' AND due_at <= now()
                       FOR UPDATE SKIP LOCKED) AS free) AS n`,
          );
          if (Number(held.rows[0].n) > 0) return false;
          await fleet.workers.find((w) => w.id === victim)!.kill();
          return true;
        },
        60_000,
      );
      fleet.start('c');

      await producer.put(all.slice(half));
      const ends = new Map<string, Position>();
      for (const [shard, key] of await tickKeys(kinesis, stream)) {
        const out = await kinesis.send(
          new PutRecordCommand({
            StreamName: stream,
            PartitionKey: key,
            Data: new TextEncoder().encode(
              JSON.stringify(
                envelopeOf(key, 'thermo-t1', T0 + 61 * MINUTE, T0 + 61 * MINUTE, { temperature: 20 }),
              ),
            ),
          }),
        );
        ends.set(shard, { sequenceNumber: out.SequenceNumber!, subSequenceNumber: 0 });
      }
      await fleet.waitForCheckpoints(ends, TIMEOUT_MS);
      const dueSent = async () =>
        Number(
          (
            await pool.query(
              `SELECT count(*)::int AS n FROM action_outbox WHERE status = 'pending' AND due_at <= now()`,
            )
          ).rows[0].n,
        ) === 0;
      await waitFor('every due row delivered', dueSent, 60_000);
      await fleet.close();

      // the day again, from its start, into the same stores
      const replay = await runCli([
        'replay',
        '--config',
        fleet.configFile,
        '--from-timestamp',
        new Date(startedAt - MINUTE).toISOString(),
      ]);
      expect(replay.code).toBe(0);
      const again = workerFleet(config, { timeoutMs: TIMEOUT_MS });
      fleets.push(again);
      await again.start('r').started();
      await again.waitForCheckpoints(ends, TIMEOUT_MS);
      await waitFor('every due row delivered after the replay', dueSent, 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      await again.close();

      const { rows } = await pool.query<{
        action_key: string;
        channel: string;
        kind: string;
        status: string;
      }>('SELECT action_key, channel, kind, status FROM action_outbox ORDER BY action_key');
      const sent = rows.filter((r) => r.status === 'sent');
      const byChannel = (channel: string) =>
        sent
          .filter((r) => r.channel === channel)
          .map((r) => r.action_key)
          .sort();
      const mailKeys = services.mails.map((m) => m.key!).sort();
      const snsKeys = services.sns.messages.map((m) => m.attributes['shardflow.key']!.value).sort();
      const hookKeys = services.hooks.map((h) => h.key!).sort();
      console.log(
        JSON.stringify({
          rows: rows.length,
          sent: sent.length,
          pending: rows.filter((r) => r.status === 'pending').length,
          mails: mailKeys.length,
          sns: snsKeys.length,
          hooks: hookKeys.length,
        }),
      );
      // a workload with substance: raises on both channels, clears on the webhook, later steps pending
      expect(byChannel('sns').length).toBeGreaterThan(DEVICES);
      expect(byChannel('webhook').length).toBeGreaterThan(DEVICES / 2);
      expect(rows.some((r) => r.status === 'pending' && r.action_key.includes('/notify.2/'))).toBe(true);
      // exactly once: each sent row once at its receiver, nothing else
      expect(mailKeys).toEqual(byChannel('email'));
      expect(snsKeys).toEqual(byChannel('sns'));
      expect(hookKeys).toEqual(byChannel('webhook'));
      expect(rows.filter((r) => r.status === 'failed')).toEqual([]);
    } finally {
      await pool.end();
    }
  });
});
