/**
 * A Kinesis source that reads every shard of a stream in one worker, without leases: the demo's and
 * the tests' source, and a single-worker deployment's. Children of a split or merge are read only
 * after their parents ended; when a shard ends the stream is listed again, so a reshard while
 * running is followed. Checkpoints are kept in memory: a second run of the same source object
 * resumes after them. The leased, multi-worker source (KCL) reuses `retrieval/`.
 */
import type { KinesisClient, Shard } from '@aws-sdk/client-kinesis';
import { z } from 'zod';
import {
  type Clock,
  comparePositions,
  errorMessage,
  type Logger,
  maxPosition,
  type Position,
  type RawRecord,
  type ShardHandle,
  type Source,
  type SourceContext,
  silentLogger,
} from '../../topology/index.ts';
import { createKinesisClient } from './client.ts';
import { type BackoffContext, KINESIS_BACKOFF } from './retrieval/backoff.ts';
import { type ShardReader, type StartPosition, shardReader } from './retrieval/shardReader.ts';
import { listShards } from './shardDetector.ts';
import { ShardLineage } from './shardLineage.ts';

/** Configuration of the all-shards Kinesis source. */
export const kinesisSourceConfigSchema = z
  .object({
    streamName: z.string().min(1).max(128).describe('the Kinesis stream to read'),
    region: z.string().min(1).default('us-east-1').describe('AWS region of the stream'),
    endpoint: z.url().optional().describe('Kinesis-compatible endpoint (e.g. kinesalite); AWS when absent'),
    startPosition: z
      .enum(['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP'])
      .default('TRIM_HORIZON')
      .describe('where a shard with no checkpoint starts (children of a read parent start at its beginning)'),
    startTimestamp: z
      .union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })])
      .transform((t) => (typeof t === 'number' ? t : Date.parse(t)))
      .optional()
      .describe('for AT_TIMESTAMP: epoch ms or an ISO-8601 time'),
    maxRecords: z.number().int().min(1).max(10_000).default(10_000).describe('GetRecords page size'),
    idleTimeBetweenReadsMs: z
      .number()
      .int()
      .min(0)
      .default(200)
      .describe('wait after a page that was not full; doubles per empty page'),
    maxIdleTimeMs: z.number().int().min(0).default(1000).describe('cap on the wait between empty pages'),
  })
  .strict()
  .refine((c) => c.startPosition !== 'AT_TIMESTAMP' || c.startTimestamp !== undefined, {
    message: 'startTimestamp is required when startPosition is AT_TIMESTAMP',
    path: ['startTimestamp'],
  });
/** The source's configuration as written (defaults not yet applied). */
export type KinesisSourceConfigInput = z.input<typeof kinesisSourceConfigSchema>;
/** The source's validated configuration. */
export type KinesisSourceConfig = z.output<typeof kinesisSourceConfigSchema>;

/** What the source is given besides its configuration. */
export interface KinesisSourceDeps {
  readonly clock: Clock;
  /** A shared client; one is created (and closed with the source) from the config when absent. */
  readonly client?: KinesisClient;
  readonly log?: Logger;
}

/** The all-shards source, with its in-memory checkpoints. */
export interface KinesisAllShardsSource extends Source<RawRecord> {
  /** The last checkpoint (or final position) per shard. */
  checkpoints(): ReadonlyMap<string, Position>;
}

function configuredStart(config: KinesisSourceConfig): StartPosition {
  if (config.startPosition === 'AT_TIMESTAMP')
    return { type: 'AT_TIMESTAMP', timestamp: config.startTimestamp! };
  return { type: config.startPosition };
}

/** Reads all shards of one Kinesis stream, parents before children, checkpointing in memory. */
export function kinesisAllShardsSource(
  input: KinesisSourceConfigInput,
  deps: KinesisSourceDeps,
): KinesisAllShardsSource {
  const config = kinesisSourceConfigSchema.parse(input);
  const stream = config.streamName;
  const log = deps.log ?? silentLogger;
  const ownsClient = deps.client === undefined;
  const client = deps.client ?? createKinesisClient({ region: config.region, endpoint: config.endpoint });
  const checkpoints = new Map<string, Position>();
  // Shards read to their end survive across runs of this object, like SHARD_END in a lease table.
  const finished = new Set<string>();

  async function* kinesisShards(ctx: SourceContext): AsyncGenerator<ShardHandle<RawRecord>> {
    const { signal } = ctx;
    const lineage = new ShardLineage(finished);
    const backoff: BackoffContext = { clock: deps.clock, signal, log, policy: KINESIS_BACKOFF };
    let relist = true;
    let changed = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      changed = true;
      wake?.();
    };
    signal.addEventListener('abort', notify, { once: true });

    const startOf = (shardId: string): StartPosition => {
      const checkpoint = checkpoints.get(shardId);
      if (checkpoint !== undefined) return { type: 'AFTER_SEQUENCE_NUMBER', position: checkpoint };
      return lineage.hasKnownParent(shardId) ? { type: 'TRIM_HORIZON' } : configuredStart(config);
    };

    const open = (shard: Shard): ShardHandle<RawRecord> => {
      const shardId = shard.ShardId!;
      const start = startOf(shardId);
      const reader: ShardReader = shardReader({
        client,
        clock: deps.clock,
        streamName: stream,
        shardId,
        start,
        maxRecords: config.maxRecords,
        idleTimeBetweenReadsMs: config.idleTimeBetweenReadsMs,
        maxIdleTimeMs: config.maxIdleTimeMs,
        signal,
        log,
      });
      log.info({ stream, shardId, parent: shard.ParentShardId }, 'kinesis shard opened');
      const record = (position: Position) =>
        checkpoints.set(shardId, maxPosition(checkpoints.get(shardId), position));
      return {
        shardId,
        ...(start.type === 'AFTER_SEQUENCE_NUMBER' ? { startPosition: start.position } : {}),
        batches: reader,
        checkpoint: async (position) => {
          record(position);
        },
        release: async (finalPosition) => {
          if (finalPosition !== undefined) record(finalPosition);
          // Finished only when read to the end AND everything read is durable: a pipeline that
          // failed on a late batch must not let the children start before it is read again.
          const last = reader.lastPosition;
          const drained =
            last === undefined || (finalPosition !== undefined && comparePositions(finalPosition, last) >= 0);
          if (!reader.reachedEnd || !drained) return;
          log.info({ stream, shardId, position: finalPosition }, 'kinesis shard finished');
          finished.add(shardId);
          lineage.markFinished(shardId);
          relist = true; // its children may have appeared since the last listing
          notify();
        },
      };
    };

    try {
      while (!signal.aborted) {
        changed = false;
        if (relist) {
          relist = false;
          lineage.add(await listShards(client, stream, backoff));
        }
        for (const shard of lineage.takeReady()) yield open(shard);
        if (!changed && !signal.aborted) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      log.error({ stream, error: errorMessage(error) }, 'kinesis shard listing failed');
      throw error;
    } finally {
      signal.removeEventListener('abort', notify);
    }
  }

  return {
    type: 'kinesis',
    stores: [{ name: `kinesis.${stream}`, kind: 'kinesis' }],
    shards: kinesisShards,
    checkpoints: () => checkpoints,
    close: () => {
      if (ownsClient) client.destroy();
    },
  };
}
