import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { type Position, systemClock } from '../../topology/index.ts';
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
const DEVICES = 80;
const STEP_MS = 15 * SEC;
const READINGS_PER_DEVICE = 480; // 2 hours
const SHARDS = 4;
const TIMEOUT_MS = 5 * MINUTE;
// recent event times (the spec's contract refuses readings older than 30 days), on a whole minute
const T0 = Math.floor((Date.now() - 3 * 60 * MINUTE) / MINUTE) * MINUTE;

const readings = () => thermoWaves(DEVICES, READINGS_PER_DEVICE, T0, STEP_MS);

/** What a run left in the alarm tables, in a form two runs can be compared by. */
async function alarmsOf(url: string) {
  const pool = testPool(url, 1);
  try {
    const events = await pool.query(
      `SELECT event_id, episode_id, seq, kind, event_at, actor, note, notify, suppressed, episode
         FROM alarm_events ORDER BY event_id`,
    );
    const episodes = await pool.query(
      `SELECT episode_id, rule_id, ruleset_version, target_kind, target_id, product_id, customer_id,
              site_id, device_id, severity, status, acknowledged, latched, flapping, value, message,
              opened_at, cleared_at, closed_at, last_event_seq
         FROM alarm_episodes ORDER BY episode_id`,
    );
    const open = await pool.query('SELECT * FROM hot_open_alarms ORDER BY episode_id');
    return { events: events.rows, episodes: episodes.rows, open: open.rows };
  } finally {
    await pool.end();
  }
}

describe('rules: a worker lost mid-run', () => {
  const kinesis = createKinesisClient({
    region: 'us-east-1',
    endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
  });
  const stream = uniqueStream('rules-loss');
  let killed: TestDatabase;
  let reference: TestDatabase;
  const fleets: WorkerFleet[] = [];

  beforeAll(async () => {
    await createStream(kinesis, stream, SHARDS);
    killed = await createTestDatabase('rules_loss_killed');
    reference = await createTestDatabase('rules_loss_reference');
  });

  afterAll(async () => {
    for (const f of fleets) await f.close().catch(() => {});
    kinesis.destroy();
    await killed?.drop().catch(() => {});
    await reference?.drop().catch(() => {});
  });

  it('leaves the same alarm history and episodes as a run nobody killed', async () => {
    const all = readings();
    const fleet = workerFleet(rulesWorkerConfig('rules-loss-a', stream, killed.url), {
      timeoutMs: TIMEOUT_MS,
    });
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

    // a worker with batches processed beyond a checkpoint: its alarm events went out, its state did not
    const positions = testPool(killed.url, 1);
    let redelivered: { shard: string; checkpoint: Position; processed: Position }[] = [];
    try {
      let victim: string | undefined;
      await waitFor(
        'a worker with batches processed beyond its checkpoint',
        async () => {
          await new Promise((r) => setTimeout(r, 100));
          const [leases, processed] = [await fleet.leases(), await hotPositions(positions)];
          const ahead = leases.flatMap((lease) => {
            const at = processed.get(lease.leaseKey);
            if (!('position' in lease.checkpoint) || at === undefined) return [];
            return comparePositions(at, lease.checkpoint.position) > 0
              ? [{ owner: lease.leaseOwner, shard: lease.leaseKey, checkpoint: lease.checkpoint.position }]
              : [];
          });
          victim = ahead[0]?.owner;
          if (victim === undefined) return false;
          await fleet.workers.find((w) => w.id === victim)!.kill();
          const after = await hotPositions(positions);
          redelivered = ahead
            .filter((a) => a.owner === victim)
            .map((a) => ({ shard: a.shard, checkpoint: a.checkpoint, processed: after.get(a.shard)! }));
          return true;
        },
        60_000,
      );
      fleet.start('c');
    } finally {
      await positions.end();
    }
    expect(redelivered.length).toBeGreaterThan(0);

    await producer.put(all.slice(half));
    // one last reading per shard: every shard checkpointed at or past it has judged everything
    const ends = new Map<string, Position>();
    for (const [shard, key] of await tickKeys(kinesis, stream)) {
      const out = await kinesis.send(
        new PutRecordCommand({
          StreamName: stream,
          PartitionKey: key,
          Data: new TextEncoder().encode(
            JSON.stringify(
              envelopeOf(key, 'thermo-t1', T0 + 121 * MINUTE, T0 + 121 * MINUTE, { temperature: 20 }),
            ),
          ),
        }),
      );
      expect(out.ShardId).toBe(shard);
      ends.set(shard, { sequenceNumber: out.SequenceNumber!, subSequenceNumber: 0 });
    }
    await fleet.waitForCheckpoints(ends, TIMEOUT_MS);
    await fleet.close();

    // the same stream from its start, one worker, nobody killed
    const calm = workerFleet(rulesWorkerConfig('rules-loss-ref', stream, reference.url), {
      timeoutMs: TIMEOUT_MS,
    });
    fleets.push(calm);
    await calm.start('ref').started();
    await calm.waitForCheckpoints(ends, TIMEOUT_MS);
    await calm.close();

    const [afterLoss, calmRun] = [await alarmsOf(killed.url), await alarmsOf(reference.url)];
    const kinds = (events: { kind: string }[]) =>
      Object.fromEntries(
        ['raise', 'clear', 'severity'].map((k) => [k, events.filter((e) => e.kind === k).length]),
      );
    console.log(
      JSON.stringify({
        events: afterLoss.events.length,
        episodes: afterLoss.episodes.length,
        open: afterLoss.open.filter((o) => o.closed_at === null).length,
        kinds: kinds(afterLoss.events),
        redelivered,
      }),
    );
    // the workload raises and clears many episodes and escalates some: a comparison with substance
    expect(kinds(calmRun.events).raise).toBeGreaterThan(DEVICES);
    expect(kinds(calmRun.events).clear).toBeGreaterThan(DEVICES);
    expect(kinds(calmRun.events).severity).toBeGreaterThan(0);
    expect(kinds(afterLoss.events)).toEqual(kinds(calmRun.events));
    expect(afterLoss.events).toEqual(calmRun.events);
    expect(afterLoss.episodes).toEqual(calmRun.episodes);
    expect(afterLoss.open).toEqual(calmRun.open);
  });
});
