/**
 * What a stop that ran out of drain time leaves behind, said plainly: which shards were still busy,
 * which node of each was retrying what, and from where their records will be read again. Nothing is
 * lost (a shard is never checkpointed past what its sinks made durable), but an operator must be
 * told which records the next owner of each shard reads a second time, and why.
 */
import type { Position } from '../records.ts';
import type { RetryingNode } from './retryWatch.ts';

/** A shard that was not drained when the drain timeout ran out. */
export interface UndrainedShard {
  readonly source: string;
  readonly shardId: string;
  /** Where the shard's loop was. */
  readonly phase: string;
  readonly inFlightBatches: number;
  /** The nodes retrying a batch of it, oldest first. */
  readonly retrying: readonly RetryingNode[];
  /** The last checkpoint the source accepted; records after it are read again. */
  readonly checkpoint: Position | undefined;
}

function describeShard(s: UndrainedShard): string {
  const [oldest] = s.retrying;
  const why =
    oldest === undefined
      ? `${s.inFlightBatches} batch(es) in flight, ${s.phase}`
      : `stalled at node ${oldest.node} for ${(oldest.retryingForMs / 1000).toFixed(1)} s (${oldest.attempts} attempts; last error: ${oldest.error})`;
  const from = s.checkpoint === undefined ? 'its first record' : `checkpoint ${s.checkpoint.sequenceNumber}`;
  return `shard ${s.shardId} of ${s.source}: ${why}; its records after ${from} were not checkpointed and are read again by its next owner`;
}

/** The runtime stopped before every shard drained (see the file comment). */
export class DrainTimeoutError extends Error {
  override readonly name = 'DrainTimeoutError';

  constructor(
    readonly drainTimeoutMs: number,
    readonly shards: readonly UndrainedShard[],
  ) {
    super(
      `stopped before draining (runtime.drainTimeoutMs ${drainTimeoutMs} ms): ${shards.map(describeShard).join('; ')}`,
    );
  }
}
