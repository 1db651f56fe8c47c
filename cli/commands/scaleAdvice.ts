/**
 * `shardflow scale-advice`: how many workers (ECS tasks) a stream needs, one per `K` open shards,
 * rounded up. Closed shards (a parent after a reshard) need no worker once read.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { KINESIS_BACKOFF } from '../../sources/kinesis/retrieval/backoff.ts';
import { listShards } from '../../sources/kinesis/shardDetector.ts';
import { systemClock } from '../../topology/index.ts';
import { ServiceUnavailableError } from '../exitCodes.ts';
import {
  type CommonOptions,
  exitWithError,
  loadCommandConfig,
  serviceCall,
  withCommonOptions,
} from './shared.ts';

interface ScaleAdviceOptions extends CommonOptions {
  readonly shardsPerWorker: number;
  readonly json?: boolean;
}

/** The advice, as `--json` prints it. */
interface ScaleAdvice {
  readonly stream: string;
  readonly openShards: number;
  readonly closedShards: number;
  readonly shardsPerWorker: number;
  readonly desiredTasks: number;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer of at least 1');
  return n;
}

/** Registers `scale-advice` on the program. */
export function registerScaleAdviceCommand(program: Command): void {
  withCommonOptions(
    program
      .command('scale-advice')
      .description('print the desired worker (task) count: open shards / shards per worker, rounded up'),
  )
    .requiredOption('-k, --shards-per-worker <k>', 'open shards one worker reads', positiveInteger)
    .option('--json', 'print a JSON object')
    .action(async (opts: ScaleAdviceOptions) => {
      try {
        const advice = await scaleAdvice(opts);
        console.log(
          opts.json
            ? JSON.stringify(advice)
            : `open shards: ${advice.openShards}, shards per worker: ${advice.shardsPerWorker} → desired tasks: ${advice.desiredTasks}`,
        );
      } catch (error) {
        exitWithError(error);
      }
    });
}

async function scaleAdvice(opts: ScaleAdviceOptions): Promise<ScaleAdvice> {
  const { streamName, region, endpoint } = loadCommandConfig(opts).source.kinesis;
  const client = createKinesisClient({ region, endpoint });
  const address = endpoint ?? `the AWS Kinesis endpoint of ${region}`;
  try {
    const shards = await serviceCall(
      () => listShards(client, streamName, { clock: systemClock, policy: KINESIS_BACKOFF }),
      (error, missing) =>
        missing
          ? new ServiceUnavailableError(
              'Kinesis stream',
              'source.kinesis.streamName',
              address,
              `stream "${streamName}" does not exist`,
            )
          : new ServiceUnavailableError('Kinesis', 'source.kinesis.endpoint', address, error),
    );
    const openShards = shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined).length;
    return {
      stream: streamName,
      openShards,
      closedShards: shards.length - openShards,
      shardsPerWorker: opts.shardsPerWorker,
      desiredTasks: Math.ceil(openShards / opts.shardsPerWorker),
    };
  } finally {
    client.destroy();
  }
}
