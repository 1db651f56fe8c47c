/**
 * DynamoDB plumbing shared by the lease table and the savepoint table: the client (HTTP/1.1 and
 * dummy credentials for a local endpoint, as for Kinesis) and idempotent table creation.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Clock } from '../../topology/index.ts';

/** A DynamoDB client like the Kinesis one: HTTP/1.1, dummy credentials for a local endpoint. */
export function createDynamoClient(region: string, endpoint?: string): DynamoDBClient {
  const local = endpoint !== undefined && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE;
  return new DynamoDBClient({
    region,
    requestHandler: new NodeHttpHandler(),
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(local ? { credentials: { accessKeyId: 'shardflow-local', secretAccessKey: 'shardflow-local' } } : {}),
  });
}

/** Creates a table keyed by one string attribute (on-demand) unless it exists; waits until active. */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  hashKey: string,
  clock: Clock,
): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: [{ AttributeName: hashKey, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: hashKey, AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await clock.sleep(100);
  }
}
