/**
 * A Kinesis source that reads every shard of a stream in one worker, without leases: the demo's and
 * the tests' source, and a single-worker deployment's. Children of a split or merge are read only
 * after their parents ended; when a shard ends the stream is listed again, so a reshard while
 * running is followed. Checkpoints are kept in memory: a second run of the same source object
 * resumes after them. The leased, multi-worker source (KCL) reuses `retrieval/`.
 */
import type { KinesisClient, Shard } from '@aws-sdk/client-kinesis';
import {
  type Clock,
  comparePositions,
  errorMessage,
  type Logger,
  maxPosition,
  type Position,
  positionOfRecord,
  type RawRecord,
  type ShardHandle,
  type Source,
  type SourceContext,
  silentLogger,
} from '../../topology/index.ts';
import { createKinesisClient } from './client.ts';
import { type KinesisSourceConfigInput, kinesisSourceConfigSchema } from './config.ts';
import { type BackoffContext, KINESIS_BACKOFF } from './retrieval/backoff.ts';
import { type ShardReader, shardReader } from './retrieval/shardReader.ts';
import { checkpointStart, initialPosition, type StartPosition } from './retrieval/startPosition.ts';
import { lineageOf, listShards } from './shardDetector.ts';
import { ShardLineage } from './shardLineage.ts';

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

/** Reads all shards of one Kinesis stream, parents before children, checkpointing in memory. */
export function kinesisAllShardsSource(
  input: KinesisSourceConfigInput,
  deps: KinesisSourceDeps,
): KinesisAllShardsSource {
  const config = kinesisSourceConfigSchema.parse(input);
  const stream = config.streamName;
  const initial = initialPosition(config);
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
      if (checkpoint !== undefined) return checkpointStart(shardId, { position: checkpoint }, undefined);
      // as in a lease table: a child of a shard read here starts at its beginning (`leases/shardSync.ts`)
      if (lineage.hasKnownParent(shardId))
        return checkpointStart(shardId, { sentinel: 'TRIM_HORIZON' }, undefined);
      return checkpointStart(shardId, initial.checkpoint, initial.startTimestamp);
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
      const origin = lineageOf(shard);
      return {
        shardId,
        ...(origin === undefined ? {} : { lineage: origin }),
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
    positionOf: positionOfRecord,
    checkpoints: () => checkpoints,
    close: () => {
      if (ownsClient) client.destroy();
    },
  };
}
