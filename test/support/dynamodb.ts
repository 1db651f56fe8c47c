/** DynamoDB (dynalite) clients and table names for integration tests. */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { testEnv } from './wait.ts';

/** A client for the test DynamoDB endpoint. */
export function testDynamoClient(): DynamoDBClient {
  return new DynamoDBClient({
    region: 'us-east-1',
    endpoint: testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT'),
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
  });
}

/** A table name no other test uses. */
export function uniqueTable(label: string): string {
  return `it-${label}-${randomUUID().slice(0, 8)}`;
}
