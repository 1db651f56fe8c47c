/**
 * The worker's start-up checks: each service it needs answers, or the start stops naming the service,
 * the configuration key and the address (exit code 3, `ServiceUnavailableError`).
 */
import { DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { describeEndpoint, type WarmStore } from '../sinks/postgres/store.ts';
import { createKinesisClient } from '../sources/kinesis/client.ts';
import { connectRedis, redisClient } from '../state/redisConnection.ts';
import type { Clock, Logger } from '../topology/index.ts';
import type { WorkerConfig } from './config.ts';
import { ServiceUnavailableError } from './exitCodes.ts';
import { redisAuth } from './stateConfig.ts';
import type { WorkerStores } from './stores.ts';

export async function checkKinesis(config: WorkerConfig): Promise<void> {
  const { streamName, region, endpoint } = config.source.kinesis;
  const probe: KinesisClient = createKinesisClient({ region, endpoint, maxAttempts: 1 });
  const address = endpoint ?? `the AWS Kinesis endpoint of ${region}`;
  try {
    await probe.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw new ServiceUnavailableError(
        'Kinesis stream',
        'source.kinesis.streamName',
        address,
        `stream "${streamName}" does not exist`,
      );
    }
    throw new ServiceUnavailableError('Kinesis', 'source.kinesis.endpoint', address, error);
  } finally {
    probe.destroy();
  }
}

export async function checkPostgres(warm: WarmStore, config: WorkerConfig): Promise<void> {
  const endpoints: Array<[string, string, typeof warm.write]> = [
    ['warm.writeUrl', config.warm.writeUrl, warm.write],
  ];
  if (config.warm.readUrl !== undefined) endpoints.push(['warm.readUrl', config.warm.readUrl, warm.read]);
  for (const [key, url, client] of endpoints) {
    try {
      await client.query('SELECT 1');
    } catch (error) {
      throw new ServiceUnavailableError('PostgreSQL', key, describeEndpoint(url), error);
    }
  }
}

export async function checkRedis(config: WorkerConfig, log: Logger, clock: Clock): Promise<void> {
  if (config.state.backend !== 'redis') return;
  const state = config.state;
  const auth = await redisAuth(state)();
  const probe = redisClient(
    state,
    auth,
    { log, clock, client: 'start-up check' },
    { maxRetriesPerRequest: 0, connectTimeout: 5000 },
  );
  try {
    await connectRedis(probe);
    await probe.ping();
  } catch (error) {
    const { hostname, port } = new URL(state.redisUrl);
    throw new ServiceUnavailableError('Redis', 'state.redisUrl', `${hostname}:${port || '6379'}`, error);
  } finally {
    probe.disconnect();
  }
}

export async function prepareHot(stores: WorkerStores, config: WorkerConfig): Promise<void> {
  try {
    await stores.hot.prepare();
  } catch (error) {
    if (!config.hot) throw error;
    const url = config.hot.writeUrl;
    const address = config.hot.kind === 'mongodb' ? new URL(url).host : describeEndpoint(url);
    throw new ServiceUnavailableError(
      config.hot.kind === 'mongodb' ? 'MongoDB' : 'PostgreSQL',
      'hot.writeUrl',
      address,
      error,
    );
  }
}
