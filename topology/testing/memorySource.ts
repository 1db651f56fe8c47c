/**
 * A source whose shards and batches are pushed in by code: the test driver's input, and a way to
 * feed a topology from files or generators. Sequence numbers count up from 1 per shard.
 */
import type { ShardHandle, Source, SourceBatch, SourceContext } from '../components.ts';
import type { Position } from '../records.ts';
import { AsyncQueue } from './asyncQueue.ts';

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

  /** Adds a batch to a shard (opening the shard on first use) and returns its position. */
  push(shardId: string, records: readonly T[]): Position {
    const shard = this.shard(shardId);
    shard.nextSequence += BigInt(Math.max(1, records.length));
    const position: Position = { sequenceNumber: shard.nextSequence.toString(), subSequenceNumber: 0 };
    shard.batches.push({ records, position });
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

  private shard(shardId: string): MemoryShard<T> {
    let shard = this.shardsById.get(shardId);
    if (shard === undefined) {
      shard = { batches: new AsyncQueue(), nextSequence: 0n };
      this.shardsById.set(shardId, shard);
      this.shardQueue.push(this.handle(shardId, shard));
    }
    return shard;
  }

  private handle(shardId: string, shard: MemoryShard<T>): ShardHandle<T> {
    return {
      shardId,
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
