/** What the REST gateway's integration tests share: a gateway on an ingest, raw HTTP, and reading the stream back. */
import { connect as rawConnect } from 'node:net';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { type DurableIngest, durableIngest, type IngestLimits } from '../../gateways/ingest/durableIngest.ts';
import { type RestGatewayConfigInput, restGatewayConfigSchema } from '../../gateways/rest/config.ts';
import { type RestGateway, startRestGateway } from '../../gateways/rest/gateway.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { deaggregate } from '../../sources/kinesis/retrieval/kpl.ts';
import { type IngestEnvelope, systemClock } from '../../topology/index.ts';

/** A gateway and the ingest under it. */
export interface RestUnderTest {
  readonly gateway: RestGateway;
  readonly ingest: DurableIngest;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts an ingest onto `streamName` at `endpoint` and a REST gateway on it, on a free loopback port. */
export async function startRest(
  endpoint: string,
  streamName: string,
  config: Partial<RestGatewayConfigInput>,
  options: { limits?: Partial<IngestLimits>; env?: NodeJS.ProcessEnv } = {},
): Promise<RestUnderTest> {
  const client = createKinesisClient({ region: 'us-east-1', endpoint, maxAttempts: 1 });
  const ingest = durableIngest({
    client,
    streamName,
    clock: systemClock,
    limits: { lingerMs: 5, initialRetryDelayMs: 50, maxRetryDelayMs: 500, ...options.limits },
  });
  const gateway = await startRestGateway({
    config: restGatewayConfigSchema.parse({ port: 0, host: '127.0.0.1', auth: 'none', ...config }),
    ingest,
    clock: systemClock,
    ...(options.env !== undefined ? { env: options.env } : {}),
  });
  const tls = typeof config.auth === 'object' && config.auth.mtls !== undefined;
  return {
    gateway,
    ingest,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${gateway.port}`,
    async close() {
      await gateway.close();
      await ingest.close(0);
      client.destroy();
    },
  };
}

/** A record read back from the stream: its partition key and envelope. */
export interface Landed {
  readonly partitionKey: string;
  readonly envelope: IngestEnvelope;
}

const decoder = new TextDecoder();

/** Every user record on the stream, de-aggregated, in shard order. */
export async function readStream(client: KinesisClient, streamName: string): Promise<Landed[]> {
  const landed: Landed[] = [];
  const shards = (await client.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
  for (const shard of shards) {
    let iterator = (
      await client.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    while (iterator !== undefined) {
      const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const record of out.Records ?? []) {
        const result = deaggregate(record.Data!);
        const users =
          result.kind === 'aggregate'
            ? result.records
            : [{ partitionKey: record.PartitionKey!, data: record.Data! }];
        for (const user of users)
          landed.push({ partitionKey: user.partitionKey, envelope: JSON.parse(decoder.decode(user.data)) });
      }
      if ((out.Records ?? []).length === 0 || out.MillisBehindLatest === 0) break;
      iterator = out.NextShardIterator;
    }
  }
  return landed;
}

/** Sends `bytes` as they are on a fresh connection and returns the status of the answer (0: none). */
export function rawRequest(
  port: number,
  bytes: Buffer | string,
  timeoutMs = 5_000,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const socket = rawConnect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const finish = () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text });
    };
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', finish);
    socket.write(bytes);
  });
}
