/**
 * A source whose shards and batches are pushed in by code: the test driver's input, and a way to
 * feed a topology from files or generators. Sequence numbers count up from 1 per shard: the records
 * of a batch pushed after position `p` are at `p + 1`, `p + 2`, …, and the batch's position is its
 * last record's (an empty batch takes one number).
 */
import type { ShardHandle, ShardLineage, Source, SourceBatch, SourceContext } from '../components.ts';
import type { Position } from '../records.ts';
import { AsyncQueue } from './asyncQueue.ts';

/** What a memory source knows of its records besides their order. */
export interface MemorySourceOptions<T> {
  /**
   * The position of one record (`Source.positionOf`), for topologies with keyed state. It should
   * agree with the numbering above, e.g. read a sequence number the test put in the record.
   */
  readonly positionOf?: (record: T) => Position;
}

interface MemoryShard<T> {
  readonly batches: AsyncQueue<SourceBatch<T>>;
  nextSequence: bigint;
}

/** An in-memory source: `push` batches into shards, `end` shards, `endAll` to finish. */
export class MemorySource<T> implements Source<T> {
  readonly type = 'memory';
  private readonly shardQueue = new AsyncQueue<ShardHandle<T>>();
  private readonly shardsById = new Map<string, MemoryShard<T>>();
  /** Every checkpoint the runtime handed over, per shard, in order. */
  readonly checkpoints = new Map<string, Position[]>();
  /** The final position per released shard. */
  readonly released = new Map<string, Position | undefined>();
  readonly positionOf?: (record: T) => Position;

  constructor(options: MemorySourceOptions<T> = {}) {
    if (options.positionOf !== undefined) this.positionOf = options.positionOf;
  }

  /**
   * Opens a shard before its first batch, with where it came from (a split or merge child, say). A
   * shard opened by `push` has no lineage.
   */
  open(shardId: string, lineage?: ShardLineage): void {
    if (this.shardsById.has(shardId)) throw new Error(`shard ${shardId} is open already`);
    this.shard(shardId, lineage);
  }

  /**
   * Adds a batch to a shard (opening the shard on first use) and returns its position. With
   * `millisBehindLatest`, the batch says how far behind the stream's tip it was read (a backlog).
   */
  push(shardId: string, records: readonly T[], millisBehindLatest?: number): Position {
    const shard = this.shard(shardId);
    shard.nextSequence += BigInt(Math.max(1, records.length));
    const position: Position = { sequenceNumber: shard.nextSequence.toString(), subSequenceNumber: 0 };
    shard.batches.push({
      records,
      position,
      ...(millisBehindLatest === undefined ? {} : { millisBehindLatest }),
    });
    return position;
  }

  /** Batches the runtime has pulled from a shard so far. */
  pulled(shardId: string): number {
    return this.shardsById.get(shardId)?.batches.taken ?? 0;
  }

  /** Ends one shard: the runtime drains it and releases it. */
  end(shardId: string): void {
    this.shard(shardId).batches.end();
  }

  /** Ends every shard and the source itself. */
  endAll(): void {
    for (const shard of this.shardsById.values()) shard.batches.end();
    this.shardQueue.end();
  }

  private shard(shardId: string, lineage?: ShardLineage): MemoryShard<T> {
    let shard = this.shardsById.get(shardId);
    if (shard === undefined) {
      shard = { batches: new AsyncQueue(), nextSequence: 0n };
      this.shardsById.set(shardId, shard);
      this.shardQueue.push(this.handle(shardId, shard, lineage));
    }
    return shard;
  }

  private handle(shardId: string, shard: MemoryShard<T>, lineage: ShardLineage | undefined): ShardHandle<T> {
    return {
      shardId,
      ...(lineage === undefined ? {} : { lineage }),
      batches: shard.batches,
      checkpoint: async (position) => {
        const list = this.checkpoints.get(shardId) ?? [];
        list.push(position);
        this.checkpoints.set(shardId, list);
      },
      release: async (finalPosition) => {
        this.released.set(shardId, finalPosition);
      },
    };
  }

  shards(ctx: SourceContext): AsyncIterable<ShardHandle<T>> {
    // Stopping means "fetch no more": batches still queued stay unread, as they would in a stream.
    ctx.signal.addEventListener(
      'abort',
      () => {
        for (const shard of this.shardsById.values()) shard.batches.abort();
        this.shardQueue.abort();
      },
      { once: true },
    );
    return this.shardQueue;
  }
}
