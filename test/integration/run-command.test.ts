/**
 * `shardflow run --config FILE` as an operator runs it: a real process against kinesalite and
 * PostgreSQL (and dynalite for leases), configured by YAML plus a SHARDFLOW_* override, stopped by
 * SIGTERM after it drained.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { simulatedFleet } from '../../gateways/simulator/fleet.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { LeaseRefresher } from '../../sources/kinesis/leases/leaseRefresher.ts';
import { systemClock } from '../../topology/index.ts';
import { type RunningCli, startCli } from '../support/cli.ts';
import { testDynamoClient, uniqueTable } from '../support/dynamodb.ts';
import { startFaultProxy } from '../support/faultProxy.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, storeTotals, type TestDatabase, testPool } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';

type LogLine = { msg: string; shardId?: string; url?: string };
const parseLogs = (stderr: string): LogLine[] =>
  stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);

describe('shardflow run', () => {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of databases) await db.drop();
  });

  /** Starts `shardflow run` on a new 2-shard stream, puts 500 records and waits until the stores hold all. */
  async function runUntilStored(extraYaml: string): Promise<{ worker: RunningCli; stream: string }> {
    const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
    const kinesis = createKinesisClient({ region: 'us-east-1', endpoint });
    const stream = uniqueStream('run');
    await createStream(kinesis, stream, 2);
    const db = await createTestDatabase('run');
    databases.push(db);
    const file = join(mkdtempSync(join(tmpdir(), 'shardflow-run-')), 'shardflow.yaml');
    writeFileSync(
      file,
      `source:\n  kinesis:\n    streamName: does-not-matter\n    endpoint: ${endpoint}\n    idleTimeBetweenReadsMs: 20\n${extraYaml}warm:\n  writeUrl: ${db.url}\nadmin:\n  port: 0\n`,
    );
    const worker = startCli(['run', '--config', file], { SHARDFLOW_SOURCE__KINESIS__STREAM_NAME: stream });
    const producer = kinesisProducer({ client: kinesis, clock: systemClock, streamName: stream });
    const produced = await producer.put(simulatedFleet({ devices: 30, seed: 5 }).batch(Date.now(), 500));
    const reader = testPool(db.url, 1);
    try {
      // the worker migrates the database when it starts: until then the tables are not there
      await waitFor('every record stored or dead-lettered', async () => {
        const t = await storeTotals(reader).catch(() => ({ stored: 0, dead: 0 }));
        return t.stored + t.dead === produced;
      });
    } finally {
      await reader.end();
      kinesis.destroy();
    }
    return { worker, stream };
  }

  it('processes a stream, logs JSON lines, and drains and exits 0 on SIGTERM', async () => {
    const { worker } = await runUntilStored('');
    worker.child.kill('SIGTERM');
    const result = await worker.exited;
    expect(result.code).toBe(0);
    const logs = parseLogs(result.stderr);
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

  it('with source.leases: holds leases, exports lease gauges, and gives the leases back on SIGTERM', async () => {
    const table = uniqueTable('run');
    const { worker } = await runUntilStored(
      `  leases:\n    tableName: ${table}\n    endpoint: ${testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT')}\n    takeIntervalMs: 200\n` +
        `state:\n  backend: redis\n  redisUrl: ${testEnv('SHARDFLOW_TEST_REDIS_URL')}\n`,
    );
    const dynamo = testDynamoClient();
    const refresher = new LeaseRefresher(dynamo, table);
    try {
      const held = await refresher.listLeases();
      expect(held).toHaveLength(2);
      expect(held.every((l) => l.leaseOwner !== undefined)).toBe(true);
      const url = parseLogs(worker.stderr()).find((l) => l.msg === 'admin server listening')?.url;
      const metrics = await (await fetch(`${url}metrics`)).text();
      expect(metrics).toContain('shardflow_leases_held{source="kinesis"} 2');
      expect(metrics).toContain('shardflow_open_shards{source="kinesis"} 2');

      worker.child.kill('SIGTERM');
      const result = await worker.exited;
      expect(result.code).toBe(0);
      const released = await refresher.listLeases();
      expect(released.every((l) => l.leaseOwner === undefined)).toBe(true);
      expect(released.every((l) => 'position' in l.checkpoint)).toBe(true);
    } finally {
      dynamo.destroy();
    }
  });

  it('stopped by SIGTERM while a shard is stalled on PostgreSQL, says which shard, node and error, and what is read again', async () => {
    const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
    const kinesis = createKinesisClient({ region: 'us-east-1', endpoint });
    const stream = uniqueStream('stall');
    await createStream(kinesis, stream, 1);
    const db = await createTestDatabase('stall');
    databases.push(db);
    const url = new URL(db.url);
    const proxy = await startFaultProxy(url.hostname, Number(url.port));
    url.host = `127.0.0.1:${proxy.port}`;
    const file = join(mkdtempSync(join(tmpdir(), 'shardflow-run-')), 'shardflow.yaml');
    writeFileSync(
      file,
      `source:\n  kinesis:\n    streamName: ${stream}\n    endpoint: ${endpoint}\n    idleTimeBetweenReadsMs: 20\n` +
        `warm:\n  writeUrl: ${url.toString()}\n  connectTimeoutMs: 300\n` +
        `runtime:\n  drainTimeoutMs: 2000\n  sinkRetry: { maxAttempts: 0, initialDelayMs: 50, maxDelayMs: 200 }\nadmin:\n  port: 0\n`,
    );
    const worker = startCli(['run', '--config', file]);
    const producer = kinesisProducer({ client: kinesis, clock: systemClock, streamName: stream });
    const fleet = simulatedFleet({ devices: 10, seed: 9 });
    const reader = testPool(db.url, 1);
    try {
      const first = await producer.put(fleet.batch(Date.now(), 50));
      await waitFor('the first records stored', async () => {
        const { rows } = await reader
          .query<{ n: number }>('SELECT count(*)::int AS n FROM hot_telemetry')
          .catch(() => ({ rows: [{ n: 0 }] }));
        return rows[0]!.n === first;
      });
      proxy.down();
      await producer.put(fleet.batch(Date.now(), 50));
      await waitFor('a failing batch', async () => worker.stderr().includes('"msg":"batch failed"'));
      worker.child.kill('SIGTERM');
      const result = await worker.exited;
      expect(result.code).toBe(1);
      const last = result.stderr.trim().split('\n').at(-1)!;
      expect(last).toMatch(
        /^shardflow: stopped before draining \(runtime\.drainTimeoutMs 2000 ms\): shard shardId-000000000000 of kinesis: stalled at node /,
      );
      expect(last).toMatch(
        /last error: .+; its records after (checkpoint \d+|its first record) were not checkpointed and are read again by its next owner/,
      );
      expect(last).not.toContain('AbortError');
    } finally {
      await reader.end();
      await proxy.close();
      kinesis.destroy();
    }
  });
});
