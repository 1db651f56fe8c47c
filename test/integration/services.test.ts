import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';

// Proves each server started by services.setup.ts answers through the client the project uses with it.

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: is test/integration/services.setup.ts the global setup?`);
  return value;
}

// Unique per run, so the tests also pass against long-lived servers given through SHARDFLOW_TEST_*.
const suffix = `${Date.now()}_${Math.floor(Math.random() * 1e6)}`;

// kinesalite/dynalite speak HTTP/1.1 only: the SDK's default HTTP/2-capable handler fails against them.
const aws = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  requestHandler: new NodeHttpHandler(),
};

describe('local services', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  test('Redis answers SET/GET', async () => {
    const redis = new Redis(env('SHARDFLOW_TEST_REDIS_URL'), { maxRetriesPerRequest: 1 });
    cleanups.push(() => redis.quit());
    await redis.set(`shardflow:test:${suffix}`, 'hello');
    expect(await redis.get(`shardflow:test:${suffix}`)).toBe('hello');
  });

  test('PostgreSQL runs CREATE TABLE / INSERT / SELECT', async () => {
    const client = new pg.Client({ connectionString: env('SHARDFLOW_TEST_POSTGRES_URL') });
    await client.connect();
    cleanups.push(() => client.end());
    const table = `services_test_${suffix}`;
    await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL)`);
    await client.query(`INSERT INTO ${table} (id, name) VALUES ($1, $2), ($3, $4)`, [1, 'a', 2, 'b']);
    const { rows } = await client.query(`SELECT id, name FROM ${table} ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
    ]);
  });

  test('Kinesis (kinesalite) creates a 2-shard stream and returns a put record', async () => {
    const kinesis = new KinesisClient({ ...aws, endpoint: env('SHARDFLOW_TEST_KINESIS_ENDPOINT') });
    cleanups.push(() => kinesis.destroy());
    const StreamName = `services-test-${suffix}`;
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 2 }));
    await waitUntilStreamExists({ client: kinesis, maxWaitTime: 30, minDelay: 1 }, { StreamName });

    const put = await kinesis.send(
      new PutRecordCommand({ StreamName, PartitionKey: 'device-1', Data: Buffer.from('{"t":21.5}') }),
    );
    expect(put.ShardId).toMatch(/^shardId-/);
    const { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({ StreamName, ShardId: put.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    const got = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
    expect(got.Records?.map((r) => Buffer.from(r.Data ?? []).toString())).toEqual(['{"t":21.5}']);
    expect(got.Records?.[0]?.SequenceNumber).toBe(put.SequenceNumber);
  });

  test('DynamoDB (dynalite) rejects a conditional put with ConditionalCheckFailedException', async () => {
    const dynamo = new DynamoDBClient({ ...aws, endpoint: env('SHARDFLOW_TEST_DYNAMODB_ENDPOINT') });
    cleanups.push(() => dynamo.destroy());
    const TableName = `services-test-${suffix}`;
    await dynamo.send(
      new CreateTableCommand({
        TableName,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    // a new table is CREATING until dynalite's next turn makes it ACTIVE: a put before is refused
    await waitUntilTableExists({ client: dynamo, maxWaitTime: 30, minDelay: 1 }, { TableName });
    const put = (owner: string) =>
      dynamo.send(
        new PutItemCommand({
          TableName,
          Item: { pk: { S: 'lease#shard-0' }, owner: { S: owner } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await put('worker-a');
    await expect(put('worker-b')).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });
});
