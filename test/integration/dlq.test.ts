/**
 * `shardflow dlq` on real servers: a worker dead-letters 1 % of a fleet's readings under a spec
 * that is too strict; the spec is fixed and hot-reloaded; `dlq replay` re-decodes the dead letters
 * with it and puts them back on the stream, where the worker stores them. Replay is idempotent, and
 * `list` and `show` print what the table holds.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWorkerConfig } from '../../cli/config.ts';
import { BUNDLED_SPECS, loadSpecs, startWorker, type Worker } from '../../cli/worker.ts';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { simulatedFleet } from '../../gateways/simulator/fleet.ts';
import type { SpecRegistry } from '../../operators/decode/registry.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { silentLogger, systemClock } from '../../topology/index.ts';
import type { IngestEnvelope } from '../../topology/records.ts';
import { runCli } from '../support/cli.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, storeTotals, type TestDatabase, testPool } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';

// 2,000 records, 1 % of them bad for a reason a spec fix removes
const GOOD = 1980;
const BAD = 20;
const BUNDLED_THERMO = readFileSync(join(BUNDLED_SPECS, 'thermo-t1.yaml'), 'utf8');
// too strict: humidity must be present and a reading over 100 % rejects the whole record
const STRICT_THERMO = BUNDLED_THERMO.replace(
  /humidity: \{[^}]*\}/,
  'humidity: { type: number, unit: "%", required: true, min: 0, max: 100, onViolation: reject }',
);
// the fix: the bundled contract (drop the metric), as a new version
const FIXED_THERMO = BUNDLED_THERMO.replace(/^version: 1$/m, 'version: 2');

describe('shardflow dlq', () => {
  let kinesis: KinesisClient;
  let db: TestDatabase;
  let reader: pg.Pool;
  let worker: Worker;
  let specs: SpecRegistry;
  let specDir: string;
  let configFile: string;
  let stream: string;

  const totals = () => storeTotals(reader);
  const dlq = (...args: string[]) => runCli(['dlq', ...args, '-c', configFile]);

  beforeAll(async () => {
    const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
    kinesis = createKinesisClient({ region: 'us-east-1', endpoint });
    stream = uniqueStream('dlq');
    await createStream(kinesis, stream, 2);
    db = await createTestDatabase('dlq');
    reader = testPool(db.url, 1);

    specDir = mkdtempSync(join(tmpdir(), 'shardflow-dlq-specs-'));
    cpSync(BUNDLED_SPECS, specDir, { recursive: true });
    expect(STRICT_THERMO).not.toBe(BUNDLED_THERMO);
    writeFileSync(join(specDir, 'thermo-t1.yaml'), STRICT_THERMO);

    const config = parseWorkerConfig(
      {
        source: { kinesis: { streamName: stream, endpoint, idleTimeBetweenReadsMs: 20, maxIdleTimeMs: 100 } },
        decode: { specDir, reloadIntervalMs: 200 },
        warm: { writeUrl: db.url },
        runtime: { checkpointIntervalMs: 100 },
        admin: { enabled: false },
      },
      {},
    );
    specs = loadSpecs(config, silentLogger);
    worker = await startWorker(config, { log: silentLogger, clock: systemClock, specs });

    configFile = join(mkdtempSync(join(tmpdir(), 'shardflow-dlq-')), 'shardflow.yaml');
    writeFileSync(
      configFile,
      `source:\n  kinesis:\n    streamName: ${stream}\n    endpoint: ${endpoint}\ndecode:\n  specDir: ${specDir}\nwarm:\n  writeUrl: ${db.url}\n`,
    );
  });

  afterAll(async () => {
    await worker?.stop();
    await reader?.end();
    await db?.drop();
    kinesis?.destroy();
  });

  it('dead-letters exactly the readings the strict spec rejects', async () => {
    const fleet = simulatedFleet({ devices: 60, seed: 3, malformedFraction: 0 });
    const now = Date.now();
    const thermostats = fleet.devices.filter((d) => d.productId === 'thermo-t1');
    const bad: IngestEnvelope[] = Array.from({ length: BAD }, (_, i) => {
      const deviceId = thermostats[i % thermostats.length]!.deviceId;
      return {
        v: 1,
        protocol: 'mqtt',
        topic: `devices/${deviceId}/telemetry`,
        receivedAt: now,
        productId: 'thermo-t1',
        encoding: 'utf8',
        payload: JSON.stringify({
          device_id: deviceId,
          ts: now - i,
          metrics: { temperature: 21.5, humidity: 140 },
        }),
      };
    });
    const put = kinesisProducer({ client: kinesis, clock: systemClock, streamName: stream });
    const produced = await put.put([...fleet.batch(now, GOOD / 2), ...bad, ...fleet.batch(now, GOOD / 2)]);
    expect(produced).toBe(GOOD + BAD);
    await waitFor('every record stored or dead-lettered', async () => {
      const t = await totals();
      return t.stored + t.dead >= GOOD + BAD;
    });
    expect(await totals()).toEqual({ stored: GOOD, dead: BAD });
    const { rows } = await reader.query<{ code: string; spec_id: string; n: string }>(
      'SELECT code, spec_id, count(*)::text AS n FROM dead_letters GROUP BY code, spec_id',
    );
    expect(rows).toEqual([{ code: 'contract-range', spec_id: 'thermo-t1', n: String(BAD) }]);
  });

  it('lists and shows the dead letters', async () => {
    const table = await dlq('list', '--reason', 'contract-range', '--limit', '5');
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id\s+failed_at\s+code\s+spec\s+stream\/shard\/sequence\s+reason$/);
    expect(lines).toHaveLength(6);
    expect(lines[1]).toMatch(
      /contract-range\s+thermo-t1@1\s+it-dlq-\S+\/shardId-\d+\/\d+\s+metric "humidity"/,
    );

    const none = await dlq('list', '--product', 'meter-m2', '--json');
    expect(none.code).toBe(0);
    expect(JSON.parse(none.stdout)).toEqual([]);

    const id = lines[1]!.split(/\s+/)[0]!;
    const shown = await dlq('show', id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^id:\\s+${id}$`, 'm'));
    expect(shown.stdout).toMatch(/^code:\s+contract-range$/m);
    expect(shown.stdout).toMatch(/^replayed_at:\s+-$/m);
    expect(shown.stdout).toContain('payload (utf-8):\n{"v":1,');
    expect(shown.stdout).toContain('envelope:\n{\n  "v": 1,');
    expect(shown.stdout).toContain('"productId": "thermo-t1"');
  });

  it('refuses bad ids and flags with exit 2', async () => {
    const word = await dlq('show', 'abc');
    expect(word.code).toBe(2);
    expect(word.stderr).toContain('"abc" is not a dead-letter id');
    const missing = await dlq('show', '987654321');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no dead letter with id 987654321');
    const reason = await dlq('list', '--reason', 'no-such-reason');
    expect(reason.code).toBe(2);
    expect(reason.stderr).toContain('unknown reason code');
  });

  it('replays nothing while the spec is still wrong (dry run, exit 1)', async () => {
    const dry = await dlq('replay', '--reason', 'contract-range', '--dry-run');
    expect(dry.code).toBe(1);
    expect(dry.stdout.match(/^\d+\s+contract-range\s/gm)).toHaveLength(BAD);
    expect(dry.stdout).toContain(`0 of ${BAD} recovered, ${BAD} still failing`);
  });

  it('after the spec fix, replays the dead letters into the Hot store exactly once', async () => {
    writeFileSync(join(specDir, 'thermo-t1.yaml'), FIXED_THERMO);
    await waitFor('the worker to reload thermo-t1 v2', () =>
      specs.specs.some((s) => s.spec.id === 'thermo-t1' && s.spec.version === 2),
    );

    const replay = await dlq('replay', '--reason', 'contract-range');
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    expect(replay.stdout.match(/^\d+\s+recovered$/gm)).toHaveLength(BAD);
    expect(replay.stdout).toContain(`${BAD} of ${BAD} recovered, 0 still failing`);
    await waitFor('the replayed records to be stored', async () => (await totals()).stored >= GOOD + BAD);
    expect(await totals()).toEqual({ stored: GOOD + BAD, dead: BAD });
    const { rows } = await reader.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM dead_letters WHERE replayed_at IS NOT NULL',
    );
    expect(rows[0]!.n).toBe(String(BAD));

    const again = await dlq('replay', '--reason', 'contract-range');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing to replay');
    await new Promise((r) => setTimeout(r, 500));
    expect(await totals()).toEqual({ stored: GOOD + BAD, dead: BAD });

    const listed = await dlq('list', '--reason', 'contract-range', '--json');
    expect(listed.code).toBe(0);
    const json = JSON.parse(listed.stdout) as Array<{ code: string; product: string; replayedAt: string }>;
    expect(json).toHaveLength(BAD);
    for (const row of json) {
      expect(row.code).toBe('contract-range');
      expect(row.product).toBe('thermo-t1');
      expect(Date.parse(row.replayedAt)).not.toBeNaN();
    }
  });

  it('exits 3 naming the key and address when PostgreSQL does not answer', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'shardflow-dlq-down-')), 'shardflow.yaml');
    writeFileSync(
      file,
      'source:\n  kinesis:\n    streamName: s\nwarm:\n  writeUrl: postgres://127.0.0.1:1/none\n  connectTimeoutMs: 500\n',
    );
    const result = await runCli(['dlq', 'list', '-c', file]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('cannot reach PostgreSQL (warm.writeUrl) at 127.0.0.1:1/none');
  });
});
