/** Puts records on the worker's telemetry stream (`source.kinesis`), for the commands that write to it. */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { kinesisProducer, type ProducerRecord } from '../../gateways/kinesis/producer.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { systemClock } from '../../topology/index.ts';
import type { WorkerConfig } from '../config.ts';
import { ServiceUnavailableError } from '../exitCodes.ts';

/** Puts records on the stream, turning "no answer" or "no such stream" into exit 3. */
export async function putOnStream(config: WorkerConfig, records: readonly ProducerRecord[]): Promise<void> {
  const { streamName, region, endpoint } = config.source.kinesis;
  const client: KinesisClient = createKinesisClient({ region, endpoint, maxAttempts: 3 });
  const address = endpoint ?? `the AWS Kinesis endpoint of ${region}`;
  try {
    await kinesisProducer({ client, clock: systemClock, streamName }).putRecords(records);
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException')
      throw new ServiceUnavailableError(
        'Kinesis stream',
        'source.kinesis.streamName',
        address,
        `stream "${streamName}" does not exist`,
      );
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== undefined)
      throw error;
    throw new ServiceUnavailableError('Kinesis', 'source.kinesis.endpoint', address, error);
  } finally {
    client.destroy();
  }
}
