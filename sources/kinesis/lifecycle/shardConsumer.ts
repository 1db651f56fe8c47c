/**
 * The life of one leased shard in this worker, as an explicit state machine (KCL's `ShardConsumer`):
 *
 *   WAITING_ON_PARENT_SHARDS → INITIALIZING → PROCESSING → SHUTTING_DOWN → SHUTDOWN_COMPLETE
 *
 * It waits until every parent lease is at SHARD_END (so records of a partition key stay in order
 * across a reshard), starts reading at the lease's checkpoint, hands the runtime a `ShardHandle`
 * with the shard's lineage (its parents and hash key range, from the lease), and at the end records
 * SHARD_END (the shard was read to its end and all of it is durable) or gives the lease back
 * (shutdown), or does nothing at all (the lease was lost: no checkpoint is written).
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import {
  type Clock,
  comparePositions,
  errorMessage,
  type HashKeyRange,
  type Logger,
  type Position,
  type RawRecord,
  type ShardHandle,
  type ShardLineage,
  type SourceBatch,
} from '../../../topology/index.ts';
import { isShardEnd, type Lease } from '../leases/lease.ts';
import type { LeaseCoordinator } from '../leases/leaseCoordinator.ts';
import type { LeaseRefresher } from '../leases/leaseRefresher.ts';
import { type ShardReader, shardReader } from '../retrieval/shardReader.ts';
import { checkpointStart } from '../retrieval/startPosition.ts';

/** States of a shard consumer. */
export type ShardConsumerState =
  | 'WAITING_ON_PARENT_SHARDS'
  | 'INITIALIZING'
  | 'PROCESSING'
  | 'SHUTTING_DOWN'
  | 'SHUTDOWN_COMPLETE';

const NEXT: Record<ShardConsumerState, readonly ShardConsumerState[]> = {
  WAITING_ON_PARENT_SHARDS: ['INITIALIZING', 'SHUTTING_DOWN'],
  INITIALIZING: ['PROCESSING', 'SHUTTING_DOWN'],
  PROCESSING: ['SHUTTING_DOWN'],
  SHUTTING_DOWN: ['SHUTDOWN_COMPLETE'],
  SHUTDOWN_COMPLETE: [],
};

/** What a shard consumer needs. */
export interface ShardConsumerDeps {
  readonly client: KinesisClient;
  readonly refresher: LeaseRefresher;
  readonly coordinator: LeaseCoordinator;
  readonly clock: Clock;
  readonly log: Logger;
  readonly streamName: string;
  readonly reader: {
    readonly maxRecords: number;
    readonly idleTimeBetweenReadsMs: number;
    readonly maxIdleTimeMs: number;
  };
  readonly parentPollMs: number;
  /** The start time of `AT_TIMESTAMP` leases that carry none. */
  readonly defaultStartTimestamp?: number;
  /** Aborted when the worker stops: the consumer finishes its batches and gives the lease back. */
  readonly workerSignal: AbortSignal;
  /** Called when a shard was finished, so the children's leases get created soon. */
  readonly onShardEnd: (shardId: string) => void;
  /** The shard's hash key range as the stream lists it, for a lease written without one. */
  readonly listedHashKeyRange: (shardId: string) => Promise<HashKeyRange | undefined>;
}

/** One leased shard, from waiting on its parents to giving its lease back. */
export class ShardConsumer {
  private current: ShardConsumerState = 'WAITING_ON_PARENT_SHARDS';
  private readonly stop = new AbortController();
  private lostReason: string | undefined;
  private reader: ShardReader | undefined;
  private complete!: () => void;
  /** Settles when the consumer reached SHUTDOWN_COMPLETE (its pipeline drained, its lease handled). */
  readonly finished = new Promise<void>((resolve) => {
    this.complete = resolve;
  });

  constructor(
    private readonly lease: Lease,
    private readonly deps: ShardConsumerDeps,
  ) {
    const { workerSignal } = deps;
    if (workerSignal.aborted) this.stop.abort(workerSignal.reason);
    else workerSignal.addEventListener('abort', () => this.stop.abort(workerSignal.reason), { once: true });
  }

  get shardId(): string {
    return this.lease.leaseKey;
  }

  get state(): ShardConsumerState {
    return this.current;
  }

  private moveTo(next: ShardConsumerState): void {
    if (!NEXT[this.current].includes(next))
      throw new Error(`shard ${this.shardId}: ${this.current} → ${next} is not allowed`);
    this.deps.log.debug({ shardId: this.shardId, from: this.current, to: next }, 'shard consumer state');
    this.current = next;
    if (next === 'SHUTDOWN_COMPLETE') this.complete();
  }

  /** The lease was lost: stop reading at once; nothing more is checkpointed. */
  lost(reason: string): void {
    this.lostReason ??= reason;
    this.stop.abort(new Error(reason));
  }

  /**
   * Waits for the parents and initialises; resolves with the handle for the runtime, or with
   * `undefined` when the consumer was stopped first (its lease is then given back or was lost).
   */
  async start(): Promise<ShardHandle<RawRecord> | undefined> {
    try {
      return await this.initialize();
    } catch (error) {
      // e.g. the lease table or the stream did not answer: give the lease back for a later try
      this.deps.log.warn(
        { shardId: this.shardId, error: (error as Error).message },
        'shard consumer could not start',
      );
      return this.finishEarly();
    }
  }

  private async initialize(): Promise<ShardHandle<RawRecord> | undefined> {
    if (!(await this.waitForParents())) return this.finishEarly();
    this.moveTo('INITIALIZING');
    const lease = this.deps.coordinator.lease(this.shardId) ?? this.lease;
    if (isShardEnd(lease)) return this.finishEarly();
    const lineage = await this.lineageOf(lease);
    const start = checkpointStart(
      lease.leaseKey,
      lease.checkpoint,
      lease.startTimestamp ?? this.deps.defaultStartTimestamp,
    );
    this.reader = shardReader({
      client: this.deps.client,
      clock: this.deps.clock,
      streamName: this.deps.streamName,
      shardId: this.shardId,
      start,
      ...this.deps.reader,
      signal: this.stop.signal,
      log: this.deps.log,
    });
    if (this.stop.signal.aborted) return this.finishEarly();
    this.moveTo('PROCESSING');
    return {
      shardId: this.shardId,
      ...(lineage === undefined ? {} : { lineage }),
      // a resumed shard has a position before its first batch: operators' timers may fire from it
      ...(start.type === 'AFTER_SEQUENCE_NUMBER' ? { startPosition: start.position } : {}),
      batches: this.leasedBatches(this.reader),
      checkpoint: (position) => this.checkpoint(position),
      release: (finalPosition) => this.shutdown(finalPosition),
    };
  }

  /**
   * The shard's parents and hash key range. A lease written without the range (by an older writer)
   * gets it from ListShards here, and has it written to the table so that this happens once.
   */
  private async lineageOf(lease: Lease): Promise<ShardLineage | undefined> {
    let hashKeyRange = lease.hashKeyRange;
    if (hashKeyRange === undefined) {
      hashKeyRange = await this.deps.listedHashKeyRange(this.shardId);
      if (hashKeyRange === undefined) {
        this.deps.log.warn({ shardId: this.shardId }, 'shard not listed by the stream: no lineage');
        return undefined;
      }
      // not fenced and not needed for reading: a failed write is tried again by the next consumer
      await this.deps.refresher
        .updateHashKeyRange(this.shardId, hashKeyRange)
        .catch((error) =>
          this.deps.log.warn(
            { shardId: this.shardId, error: errorMessage(error) },
            'could not store the lease hash key range',
          ),
        );
    }
    return { parentShardIds: lease.parentShardIds, hashKeyRange };
  }

  /** The reader's batches, each handed on only if the lease is still fresh in this worker's view. */
  private async *leasedBatches(reader: ShardReader): AsyncGenerator<SourceBatch<RawRecord>> {
    for await (const batch of reader) {
      if (!this.deps.coordinator.holdsFresh(this.shardId)) {
        this.lost('lease not renewed within the failover time');
        return;
      }
      yield batch;
    }
  }

  private async waitForParents(): Promise<boolean> {
    const parents = this.lease.parentShardIds;
    while (parents.length > 0 && !this.stop.signal.aborted) {
      const leases = await this.deps.refresher.listLeases();
      const open = parents.filter((p) => {
        const parent = leases.find((l) => l.leaseKey === p);
        return parent !== undefined && !isShardEnd(parent);
      });
      if (open.length === 0) return true;
      await this.deps.clock.sleep(this.deps.parentPollMs, this.stop.signal).catch(() => {});
    }
    return !this.stop.signal.aborted;
  }

  private async checkpoint(position: Position): Promise<void> {
    try {
      await this.deps.coordinator.checkpoint(this.shardId, { position });
    } catch (error) {
      this.lost(`checkpoint refused: ${(error as Error).message}`);
      throw error;
    }
  }

  private async finishEarly(): Promise<undefined> {
    this.moveTo('SHUTTING_DOWN');
    if (this.lostReason === undefined) await this.deps.coordinator.release(this.shardId);
    this.moveTo('SHUTDOWN_COMPLETE');
    return undefined;
  }

  private async shutdown(finalPosition: Position | undefined): Promise<void> {
    this.moveTo('SHUTTING_DOWN');
    try {
      if (this.lostReason !== undefined) return; // another worker owns it: write nothing
      const reader = this.reader!;
      const last = reader.lastPosition;
      const drained =
        last === undefined || (finalPosition !== undefined && comparePositions(finalPosition, last) >= 0);
      if (reader.reachedEnd && drained) {
        await this.deps.coordinator.checkpoint(this.shardId, { sentinel: 'SHARD_END' });
        this.deps.log.info({ shardId: this.shardId }, 'shard finished (SHARD_END)');
        this.deps.onShardEnd(this.shardId);
      }
      await this.deps.coordinator.release(this.shardId);
    } catch (error) {
      this.deps.log.warn(
        { shardId: this.shardId, error: (error as Error).message },
        'shard shutdown incomplete',
      );
    } finally {
      this.moveTo('SHUTDOWN_COMPLETE');
    }
  }
}
