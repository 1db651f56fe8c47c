/**
 * The leased Kinesis source: a native TypeScript KCL. Workers share a stream's shards through a
 * KCL 2.x lease table in DynamoDB, with no coordinator process: each worker syncs shards into
 * leases, renews what it holds, takes expired leases and balances by stealing one at a time, and
 * runs one `ShardConsumer` per held lease. Checkpoints are the runtime's durable positions, fenced by
 * the lease counter. On shutdown it drains, checkpoints and gives its leases back at once.
 */
import { hostname } from 'node:os';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient, Shard } from '@aws-sdk/client-kinesis';
import { z } from 'zod';
import {
  AsyncQueue,
  type Clock,
  errorMessage,
  type Logger,
  positionOfRecord,
  type RawRecord,
  type ShardHandle,
  type Source,
  type SourceContext,
  silentLogger,
} from '../../topology/index.ts';
import { createKinesisClient } from './client.ts';
import { type KinesisSourceConfigInput, kinesisSourceConfigSchema } from './config.ts';
import { createDynamoClient } from './dynamodb.ts';
import { LeaseCoordinator } from './leases/leaseCoordinator.ts';
import { LeaseRefresher } from './leases/leaseRefresher.ts';
import { syncShards } from './leases/shardSync.ts';
import { ShardConsumer } from './lifecycle/shardConsumer.ts';
import { type BackoffContext, KINESIS_BACKOFF } from './retrieval/backoff.ts';
import { initialPosition } from './retrieval/startPosition.ts';
import { hashKeyRangeOf, listShards } from './shardDetector.ts';

/** Configuration of lease management. */
export const leaseConfigSchema = z
  .object({
    tableName: z.string().min(3).max(255).describe('the DynamoDB lease table (created when missing)'),
    workerId: z
      .string()
      .min(1)
      .optional()
      .describe('this worker’s identity in the lease table; host-pid-random when absent'),
    region: z.string().min(1).optional().describe('region of the lease table; the stream’s when absent'),
    endpoint: z.url().optional().describe('DynamoDB-compatible endpoint (e.g. dynalite); AWS when absent'),
    failoverTimeMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('a lease not renewed for this long may be taken'),
    renewIntervalMs: z
      .number()
      .int()
      .min(10)
      .optional()
      .describe('how often held leases are renewed; failover / 3 when absent'),
    takeIntervalMs: z
      .number()
      .int()
      .min(10)
      .default(2000)
      .describe('how often the table is scanned to take or balance leases'),
    shardSyncIntervalMs: z
      .number()
      .int()
      .min(100)
      .default(30_000)
      .describe('how often new shards get leases'),
    parentPollMs: z
      .number()
      .int()
      .min(10)
      .default(500)
      .describe('how often a child checks whether its parents ended'),
  })
  .strict();
/** See {@link leaseConfigSchema}. */
export type LeaseConfigInput = z.input<typeof leaseConfigSchema>;

/** What the leased source is given besides its configuration. */
export interface KclSourceDeps {
  readonly clock: Clock;
  readonly log?: Logger;
  readonly kinesis?: KinesisClient;
  readonly dynamodb?: DynamoDBClient;
}

/** The leased source, with a view of its leases for metrics and tests. */
export interface KclSource extends Source<RawRecord> {
  readonly workerId: string;
  readonly leaseCount: () => number;
  readonly refresher: LeaseRefresher;
}

/** Reads a stream's shards that this worker holds leases for, among any number of workers. */
export function kclSource(
  streamInput: KinesisSourceConfigInput,
  leaseInput: LeaseConfigInput,
  deps: KclSourceDeps,
): KclSource {
  const stream = kinesisSourceConfigSchema.parse(streamInput);
  const leases = leaseConfigSchema.parse(leaseInput);
  const log = deps.log ?? silentLogger;
  const { clock } = deps;
  const workerId =
    leases.workerId ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const kinesis = deps.kinesis ?? createKinesisClient({ region: stream.region, endpoint: stream.endpoint });
  const dynamodb = deps.dynamodb ?? createDynamoClient(leases.region ?? stream.region, leases.endpoint);
  const refresher = new LeaseRefresher(dynamodb, leases.tableName);
  const initial = initialPosition(stream);
  const keepRenewing = new AbortController();
  const loops: Promise<void>[] = [];
  let openShards = 0;
  let coordinator: LeaseCoordinator | undefined;

  async function* shards(ctx: SourceContext): AsyncGenerator<ShardHandle<RawRecord>> {
    const backoff: BackoffContext = { clock, policy: KINESIS_BACKOFF, signal: ctx.signal, log };
    const ready = new AsyncQueue<ShardHandle<RawRecord>>();
    const consumers = new Map<string, ShardConsumer>();
    let syncSoon: (() => void) | undefined;
    /** The stream's shards at the last listing, by id. */
    let listed = new Map<string, Shard>();
    const remember = (shards: readonly Shard[]) => {
      listed = new Map(shards.map((shard) => [shard.ShardId!, shard]));
    };

    const sync = async () => {
      const result = await syncShards(kinesis, stream.streamName, refresher, initial, backoff);
      remember(result.shards);
      openShards = result.openShards;
      if (result.created.length > 0) log.info({ created: result.created }, 'leases created for new shards');
    };
    const listedHashKeyRange = async (shardId: string) => {
      // a shard newer than the last sync (an older worker made its lease): list the stream again
      if (!listed.has(shardId)) remember(await listShards(kinesis, stream.streamName, backoff));
      const shard = listed.get(shardId);
      return shard === undefined ? undefined : hashKeyRangeOf(shard);
    };
    const startConsumer = async (leaseKey: string) => {
      // A lease lost and taken back (a replay reset it, a pause cost it) may still have its old
      // pipeline draining here: the new consumer starts only once the old one has finished. Taken
      // back twice while it drains, the lease has two starts waiting: the first one starts it.
      const previous = consumers.get(leaseKey);
      await previous?.finished;
      if (consumers.get(leaseKey) !== previous) return;
      const lease = coordinator!.lease(leaseKey);
      if (lease === undefined) return;
      const consumer = new ShardConsumer(lease, {
        client: kinesis,
        refresher,
        coordinator: coordinator!,
        clock,
        log,
        streamName: stream.streamName,
        reader: stream,
        parentPollMs: leases.parentPollMs,
        defaultStartTimestamp: stream.startTimestamp,
        workerSignal: ctx.signal,
        onShardEnd: () => syncSoon?.(),
        listedHashKeyRange,
      });
      consumers.set(leaseKey, consumer);
      consumer.start().then(
        (handle) => {
          if (handle === undefined) consumers.delete(leaseKey);
          else if (ctx.signal.aborted) void handle.release(undefined);
          else ready.push(handle);
        },
        (error) =>
          log.error({ shardId: leaseKey, error: errorMessage(error) }, 'shard consumer failed to start'),
      );
    };

    await refresher.ensureTable(clock);
    await sync();
    coordinator = new LeaseCoordinator(
      refresher,
      workerId,
      {
        failoverTimeMs: leases.failoverTimeMs,
        renewIntervalMs: leases.renewIntervalMs ?? Math.floor(leases.failoverTimeMs / 3),
        takeIntervalMs: leases.takeIntervalMs,
      },
      clock,
      log,
      {
        acquired: (lease) => void startConsumer(lease.leaseKey),
        lost: (leaseKey, reason) => consumers.get(leaseKey)?.lost(reason),
      },
    );
    log.info({ workerId, table: leases.tableName, stream: stream.streamName }, 'lease coordinator started');
    // Renewals go on until close(): leases must stay ours while their batches drain.
    loops.push(coordinator.renewLoop(keepRenewing.signal));
    loops.push(coordinator.takeLoop(ctx.signal));
    loops.push(
      (async () => {
        while (!ctx.signal.aborted) {
          await new Promise<void>((resolve) => {
            syncSoon = resolve;
            void clock.sleep(leases.shardSyncIntervalMs, ctx.signal).then(resolve, resolve);
          });
          if (ctx.signal.aborted) return;
          await sync().catch((error) => log.warn({ error: errorMessage(error) }, 'shard sync failed'));
        }
      })(),
    );
    ctx.signal.addEventListener(
      'abort',
      () => {
        coordinator?.stopTaking();
        ready.end();
      },
      { once: true },
    );
    yield* ready;
  }

  return {
    type: 'kinesis-kcl',
    stores: [
      { name: `kinesis.${stream.streamName}`, kind: 'kinesis' },
      { name: `dynamodb.${leases.tableName}`, kind: 'dynamodb' },
    ],
    workerId,
    refresher,
    leaseCount: () => coordinator?.leaseCount ?? 0,
    shards,
    positionOf: positionOfRecord,
    gauges: () => [
      { name: 'leases_held', help: 'Shard leases this worker holds.', value: coordinator?.leaseCount ?? 0 },
      { name: 'open_shards', help: 'Open shards of the stream at the last shard sync.', value: openShards },
    ],
    close: async () => {
      keepRenewing.abort();
      await Promise.all(loops);
      if (deps.kinesis === undefined) kinesis.destroy();
      if (deps.dynamodb === undefined) dynamodb.destroy();
    },
  };
}
