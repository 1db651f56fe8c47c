/**
 * `shardflow run --config FILE` as an operator runs it: a real process against kinesalite and
 * PostgreSQL, configured by YAML plus a SHARDFLOW_* override, stopped by SIGTERM after it drained.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { simulatedFleet } from '../../gateways/simulator/fleet.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { systemClock } from '../../topology/index.ts';
import { startCli } from '../support/cli.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';

describe('shardflow run', () => {
  let db: TestDatabase | undefined;
  afterAll(() => db?.drop());

  it('processes a stream, logs JSON lines, and drains and exits 0 on SIGTERM', async () => {
    const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
    const kinesis = createKinesisClient({ region: 'us-east-1', endpoint });
    const stream = uniqueStream('run');
    await createStream(kinesis, stream, 2);
    db = await createTestDatabase('run');
    const dir = mkdtempSync(join(tmpdir(), 'shardflow-run-'));
    const file = join(dir, 'shardflow.yaml');
    writeFileSync(
      file,
      `source:\n  kinesis:\n    streamName: does-not-matter\n    endpoint: ${endpoint}\n    idleTimeBetweenReadsMs: 20\nwarm:\n  writeUrl: ${db.url}\nadmin:\n  port: 0\n`,
    );

    const worker = startCli(['run', '--config', file], { SHARDFLOW_SOURCE__KINESIS__STREAM_NAME: stream });
    const producer = kinesisProducer({ client: kinesis, clock: systemClock, streamName: stream });
    const produced = await producer.put(simulatedFleet({ devices: 30, seed: 5 }).batch(Date.now(), 500));
    const reader = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await waitFor('the counts', async () => {
        const { rows } = await reader
          .query<{ n: string }>('SELECT coalesce(sum(record_count), 0)::text AS n FROM product_hourly_counts')
          .catch(() => ({ rows: [{ n: '0' }] }));
        return Number(rows[0]!.n) === produced;
      });
    } finally {
      await reader.end();
      kinesis.destroy();
    }

    worker.child.kill('SIGTERM');
    const result = await worker.exited;
    expect(result.code).toBe(0);
    const logs = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; shardId?: string });
    const messages = logs.map((l) => l.msg);
    expect(messages).toContain('worker started');
    expect(messages).toContain('admin server listening');
    expect(
      logs
        .filter((l) => l.msg === 'shard-released')
        .map((l) => l.shardId)
        .sort(),
    ).toEqual(['shardId-000000000000', 'shardId-000000000001']);
    expect(messages.at(-1)).toBe('worker stopped');
  });
});
