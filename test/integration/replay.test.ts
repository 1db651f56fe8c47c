/**
 * Replay on a live worker, through the real `shardflow` command, against kinesalite and dynalite:
 * one in-process KCL worker reads a 2-shard stream while `shardflow savepoint` and `shardflow replay`
 * move its checkpoints; the worker loses each reset lease, takes it back, and delivers exactly the
 * records after the new checkpoint again.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, describe, expect, it } from 'vitest';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { runCli } from '../support/cli.ts';
import { testDynamoClient, uniqueTable } from '../support/dynamodb.ts';
import { startLeasedWorker } from '../support/kclInProcess.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const kinesisEndpoint = () => testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
const dynamoEndpoint = () => testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT');
const SHARD_0 = 'shardId-000000000000';
const SHARD_1 = 'shardId-000000000001';
/** Explicit hash keys that land in shard 0 and shard 1 of a 2-shard stream. */
const HASH_KEY = { [SHARD_0]: '0', [SHARD_1]: (2n ** 127n + 1n).toString() };

interface Delivered {
  readonly id: number;
  readonly shardId: string;
  readonly sequenceNumber: string;
}

function configFile(lines: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'shardflow-replay-')), 'shardflow.yaml');
  writeFileSync(file, lines);
  return file;
}

function workerConfig(stream: string, table: string): string {
  return configFile(
    `source:\n  kinesis:\n    streamName: ${stream}\n    endpoint: ${kinesisEndpoint()}\n` +
      `  leases:\n    tableName: ${table}\n    endpoint: ${dynamoEndpoint()}\n` +
      `warm:\n  writeUrl: embedded\nstate:\n  backend: redis\n  redisUrl: ${testEnv('SHARDFLOW_TEST_REDIS_URL')}\n`,
  );
}

function startWorker(stream: string, table: string, into: Delivered[]) {
  return startLeasedWorker(stream, table, 'worker-a', {
    type: 'collect',
    write: async (batch) => {
      for (const r of batch) {
        const { id } = JSON.parse(Buffer.from(r.data).toString('utf8')) as { id: number };
        into.push({ id, shardId: r.shardId, sequenceNumber: r.sequenceNumber });
      }
    },
  });
}

const sorted = (ids: Iterable<number>) => [...ids].sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('shardflow replay and savepoint (kinesalite + dynalite, live worker)', () => {
  const kinesis = createKinesisClient({ region: 'us-east-1', endpoint: kinesisEndpoint() });
  const dynamo = testDynamoClient();
  afterAll(() => {
    kinesis.destroy();
    dynamo.destroy();
  });

  it('re-delivers exactly the records after a savepoint, a timestamp, or a sequence number', async () => {
    const stream = uniqueStream('replay');
    const table = uniqueTable('replay');
    await createStream(kinesis, stream, 2);
    const config = workerConfig(stream, table);
    const delivered: Delivered[] = [];
    const puts: Delivered[] = [];
    const worker = startWorker(stream, table, delivered);

    /** Puts records `from..to-1`, even ids to shard 0 and odd ids to shard 1. */
    const put = async (from: number, to: number) => {
      const ids = range(from, to);
      const out = await kinesis.send(
        new PutRecordsCommand({
          StreamName: stream,
          Records: ids.map((id) => ({
            Data: Buffer.from(JSON.stringify({ id })),
            PartitionKey: `device-${id}`,
            ExplicitHashKey: HASH_KEY[id % 2 === 0 ? SHARD_0 : SHARD_1],
          })),
        }),
      );
      expect(out.FailedRecordCount ?? 0).toBe(0);
      for (const [i, r] of out.Records!.entries())
        puts.push({ id: ids[i]!, shardId: r.ShardId!, sequenceNumber: r.SequenceNumber! });
    };
    /** Waits until every put record was delivered since `mark` and each shard is checkpointed at its last record. */
    const settle = async (mark: number, expected: number[]) => {
      await waitFor(`${expected.length} records`, () => delivered.length - mark >= expected.length);
      const last = new Map(puts.map((p) => [p.shardId, p.sequenceNumber]));
      await waitFor('checkpoints at the last records', async () => {
        const leases = await worker.source.refresher.listLeases();
        return leases.every(
          (l) =>
            l.leaseOwner === 'worker-a' &&
            'position' in l.checkpoint &&
            l.checkpoint.position.sequenceNumber === last.get(l.leaseKey),
        );
      });
      await new Promise((r) => setTimeout(r, 300)); // nothing more arrives
      expect(sorted(delivered.slice(mark).map((d) => d.id))).toEqual(expected);
    };
    const cli = async (args: string[]) => {
      const result = await runCli([...args, '--config', config]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      return result.stdout;
    };

    try {
      await waitFor('both leases', () => worker.source.leaseCount() === 2, 15_000);
      await put(0, 20);
      await settle(0, range(0, 20));

      // (a) a savepoint after the first 20 records
      expect(await cli(['savepoint', 'create', 'after-20'])).toContain('savepoint after-20: 2 shards');
      expect(await cli(['savepoint', 'list'])).toMatch(/after-20\s+it-replay-\S+\s+\S+Z\s+2/);
      const shown = await cli(['savepoint', 'show', 'after-20']);
      for (const shard of [SHARD_0, SHARD_1]) {
        const last = puts.filter((p) => p.shardId === shard).at(-1)!.sequenceNumber;
        expect(shown).toContain(`${shard}  ${last}:0`);
      }

      await put(20, 40);
      await new Promise((r) => setTimeout(r, 500));
      const between = Date.now();
      await new Promise((r) => setTimeout(r, 500));
      await put(40, 60);
      await settle(0, range(0, 60));

      // a dry run changes nothing
      const checkpoints = async () =>
        new Map((await worker.source.refresher.listLeases()).map((l) => [l.leaseKey, l.checkpoint]));
      const before = await checkpoints();
      const dry = await cli(['replay', '--from-savepoint', 'after-20', '--dry-run']);
      expect(dry).toContain('dry run: nothing changed');
      expect(await checkpoints()).toEqual(before);

      let mark = delivered.length;
      const restored = await cli(['replay', '--from-savepoint', 'after-20']);
      expect(restored).toContain('moved 2 of 2 shards');
      await settle(mark, range(20, 60));

      // (b) from a timestamp between the second and third puts
      mark = delivered.length;
      expect(await cli(['replay', '--from-timestamp', new Date(between).toISOString()])).toContain(
        'AT_TIMESTAMP',
      );
      await settle(mark, range(40, 60));

      // (c) from a sequence number of shard 1: its records after that one
      const shard1 = puts.filter((p) => p.shardId === SHARD_1);
      const n = shard1[4]!;
      mark = delivered.length;
      const moved = await cli(['replay', '--shards', SHARD_1, '--from-sequence', n.sequenceNumber]);
      expect(moved).toContain(`${SHARD_1}  `);
      expect(moved).toContain(`${n.sequenceNumber}:0`);
      await settle(mark, sorted(shard1.slice(5).map((p) => p.id)));
      expect(delivered.slice(mark).every((d) => d.shardId === SHARD_1)).toBe(true);
    } finally {
      await worker.runtime.stop();
      await worker.done;
    }
  });

  it('exits 2 for bad requests and 3 when the lease table cannot be reached', async () => {
    const stream = uniqueStream('replay-err');
    const table = uniqueTable('replay-err');
    await createStream(kinesis, stream, 1);
    const config = workerConfig(stream, table);
    const worker = startWorker(stream, table, []);
    try {
      await waitFor('the lease', () => worker.source.leaseCount() === 1, 15_000);

      const noLeases = configFile(
        `source:\n  kinesis:\n    streamName: ${stream}\n    endpoint: ${kinesisEndpoint()}\nwarm:\n  writeUrl: embedded\n`,
      );
      // independent refusals: run side by side (each is a CLI process of its own)
      const [missing, noSavepoint, unknownShard, none, two, badTime] = await Promise.all([
        runCli(['replay', '-c', noLeases, '--from-timestamp', '2024-01-01T00:00:00Z']),
        runCli(['replay', '-c', config, '--shards', 'shardId-000000000042', '--from-savepoint', 'x']),
        runCli([
          ...['replay', '-c', config, '--shards', 'shardId-000000000042,shardId-000000000000'],
          ...['--from-timestamp', '2024-01-01T00:00:00Z', '--dry-run'],
        ]),
        runCli(['replay', '-c', config]),
        runCli(['replay', '-c', config, '--from-sequence', '1', '--from-savepoint', 'x']),
        runCli(['replay', '-c', config, '--from-timestamp', 'yesterday']),
      ]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('source.leases: is required by replay');
      expect(noSavepoint.code).toBe(2);
      expect(noSavepoint.stderr).toContain('no savepoint named "x"');
      expect(unknownShard.code).toBe(2);
      expect(unknownShard.stderr).toContain('unknown shard shardId-000000000042');
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('give one of --from-timestamp, --from-sequence or --from-savepoint');
      expect(two.code).toBe(2);
      expect(badTime.code).toBe(2);
      expect(badTime.stderr).toContain('expected an ISO 8601 time');

      expect((await runCli(['savepoint', 'create', 'one', '-c', config])).code).toBe(0);
      const again = await runCli(['savepoint', 'create', 'one', '-c', config]);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain('a savepoint named "one" exists already');
      const other = await runCli([
        'replay',
        '-c',
        config,
        '--stream',
        'another-stream',
        '--from-savepoint',
        'one',
      ]);
      expect(other.code).toBe(2);
      expect(other.stderr).toContain(`was taken on stream ${stream}, not another-stream`);

      const unreachable = configFile(
        `source:\n  kinesis:\n    streamName: ${stream}\n    endpoint: ${kinesisEndpoint()}\n` +
          `  leases:\n    tableName: ${table}\n    endpoint: http://127.0.0.1:9\nwarm:\n  writeUrl: embedded\n` +
          `state:\n  backend: redis\n  redisUrl: ${testEnv('SHARDFLOW_TEST_REDIS_URL')}\n`,
      );
      const down = await runCli(['savepoint', 'list', '-c', unreachable]);
      expect(down.code).toBe(3);
      expect(down.stderr).toContain('cannot reach DynamoDB (source.leases.endpoint) at http://127.0.0.1:9');
    } finally {
      await worker.runtime.stop();
      await worker.done;
    }
  });
});
