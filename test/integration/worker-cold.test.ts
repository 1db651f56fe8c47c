/**
 * The worker with a Cold table configured, end to end on real servers: kinesalite → the worker's
 * topology → the Iceberg table (local directory, JDBC catalog in PostgreSQL). Every decoded record is
 * committed once, with each shard's position in the snapshot summary, and `shardflow iceberg inspect`
 * reads the same table from the same configuration.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseWorkerConfig } from '../../cli/config.ts';
import { startWorker } from '../../cli/worker.ts';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { simulatedFleet } from '../../gateways/simulator/fleet.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { silentLogger, systemClock } from '../../topology/index.ts';
import { runCli } from '../support/cli.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';

describe('worker with the Cold table', () => {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of databases) await db.drop();
  });

  it('commits every decoded record once, with shard positions, and iceberg inspect reads it', async () => {
    const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
    const kinesis = createKinesisClient({ region: 'us-east-1', endpoint });
    const stream = uniqueStream('cold');
    await createStream(kinesis, stream, 2);
    const db = await createTestDatabase('cold');
    databases.push(db);
    const warehouse = mkdtempSync(join(tmpdir(), 'shardflow-warehouse-'));
    const raw = {
      source: { kinesis: { streamName: stream, endpoint, idleTimeBetweenReadsMs: 20, maxIdleTimeMs: 100 } },
      warm: { writeUrl: db.url },
      cold: {
        storage: { kind: 'local', directory: warehouse },
        sink: { commitIntervalMs: 1000, metricColumns: [{ name: 'temperature', type: 'double' }] },
      },
      admin: { enabled: false },
    };
    const worker = await startWorker(parseWorkerConfig(raw, {}), { log: silentLogger, clock: systemClock });
    const produced = await kinesisProducer({ client: kinesis, clock: systemClock, streamName: stream }).put(
      simulatedFleet({ devices: 20, seed: 3 }).batch(Date.now(), 300),
    );
    const decoded = () => worker.runtime.metrics().nodes.find((n) => n.node === 'cold-telemetry')!.recordsIn;
    await waitFor('every record at the Cold sink', () => decoded() >= produced, 60_000);
    await worker.stop(); // flushes the Cold sink's buffer in a last commit
    await worker.done;
    kinesis.destroy();

    const file = join(warehouse, 'shardflow.yaml');
    writeFileSync(file, JSON.stringify(raw)); // JSON is YAML
    const inspected = await runCli(['iceberg', 'inspect', '--config', file, '--json']);
    expect(inspected.stderr).toBe('');
    expect(inspected.code).toBe(0);
    const table = JSON.parse(inspected.stdout) as {
      records: number;
      checkpoints: Record<string, string>;
      columns: { name: string }[];
    };
    expect(table.records).toBe(produced);
    expect(Object.keys(table.checkpoints).sort()).toEqual(['shardId-000000000000', 'shardId-000000000001']);
    expect(table.columns.map((c) => c.name)).toContain('temperature');

    // DuckDB over the current snapshot's files, through the table's view
    const queried = await runCli([
      'query',
      '--config',
      file,
      '--json',
      'SELECT shard_id, count(*)::INTEGER AS n, count(DISTINCT (sequence_number, sub_sequence_number))::INTEGER AS positions FROM telemetry GROUP BY 1 ORDER BY 1',
    ]);
    expect(queried.stderr).toBe('');
    expect(queried.code).toBe(0);
    const perShard = queried.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { shard_id: string; n: number; positions: number });
    expect(perShard.map((r) => r.shard_id)).toEqual(['shardId-000000000000', 'shardId-000000000001']);
    expect(perShard.reduce((sum, r) => sum + r.n, 0)).toBe(produced);
    for (const r of perShard) expect(r.positions).toBe(r.n);
    const bad = await runCli(['query', '--config', file, 'SELECT nope FROM telemetry']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/nope/);
  });
});
