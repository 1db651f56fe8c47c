/**
 * What the runtime does for a shard whose sub-topology has stateful operators: it claims and
 * restores the shard's keyed state before the first batch, hands each source batch on as a barrier
 * when one is due (cutting the batch that straddles a restored position), and writes the due
 * snapshots before each checkpoint. The snapshots themselves are `snapshots.ts`'s.
 */
import type { SourceNode } from '../builder.ts';
import type { Clock } from '../clock.ts';
import type { StateStore } from '../keyedState.ts';
import { errorMessage, type Logger } from '../logger.ts';
import { comparePositions, type Position } from '../records.ts';
import { isFatal, type RetryPolicy, withRetry } from './retry.ts';
import { deliver, type OperatorRunner, type Runner } from './runners.ts';
import type { ShardState } from './shardState.ts';
import { ShardSnapshots, STATE_DURABILITY } from './snapshots.ts';

/** What restoring a shard's keyed state needs. */
export interface KeyedStateDeps {
  readonly store: StateStore;
  readonly clock: Clock;
  /** Barriers at most this often (every batch with 0): the checkpoint interval. */
  readonly intervalMs: number;
  readonly log: Logger;
  /** How a store that does not answer is retried (as a sink's write). */
  readonly retry: RetryPolicy;
}

/** Claims and restores the shard's keyed state before its first batch (retried while the store is down). */
export async function openKeyedState(
  shard: ShardState,
  stateful: readonly OperatorRunner[],
  deps: KeyedStateDeps,
  hardStop: AbortSignal,
): Promise<void> {
  const nodes = new Map(stateful.map((r) => [r.node, r.stateOf(shard)!]));
  const snapshots = new ShardSnapshots(
    deps.store,
    shard.shardId,
    nodes,
    deps.clock,
    deps.intervalMs,
    deps.log,
  );
  shard.snapshots = snapshots;
  await withRetry(
    () => snapshots.restore(shard.handle.startPosition, shard.handle.lineage),
    deps.retry,
    deps.clock,
    hardStop,
    (error) =>
      deps.log.warn({ shardId: shard.shardId, error: errorMessage(error) }, 'keyed state restore failed'),
  );
  if (snapshots.restoredAt !== undefined)
    shard.checkpoints.markDurable(STATE_DURABILITY, snapshots.restoredAt);
}

/**
 * Hands a source batch to the pipeline: a barrier when one is due; and after a restore ahead of the
 * checkpoint, the batch that straddles the restored position is cut there, so that its records up to
 * it are known as held by the state.
 */
export function deliverKeyed(
  roots: readonly Runner[],
  shard: ShardState,
  snapshots: ShardSnapshots,
  records: readonly unknown[],
  position: Position,
  source: SourceNode,
): Promise<void> {
  const restoredAt = snapshots.restoredAt;
  let held: Promise<void> | undefined;
  let rest = records;
  if (restoredAt !== undefined && !snapshots.holds(position) && records.length > 0) {
    const positionOf = source.component.positionOf;
    if (positionOf === undefined)
      return Promise.reject(
        new Error(
          `source "${source.name}" gives no record positions (positionOf): a shard restored ahead of its checkpoint cannot resume`,
        ),
      );
    const cut = records.findIndex((r) => comparePositions(positionOf(r), restoredAt) > 0);
    if (cut > 0) {
      held = deliver(roots, shard, records.slice(0, cut), restoredAt);
      rest = records.slice(cut);
    }
  }
  const delivering = snapshots.admit(position);
  const delivery = deliver(roots, shard, rest, position);
  delivering?.(delivery);
  return held === undefined ? delivery : Promise.all([held, delivery]).then(() => undefined);
}

/**
 * A shard with no batch in flight gets a barrier at its last position when one is due
 * (`ShardSnapshots.quietBarrier`): each stateful operator captures in its lane, after what it is
 * running (a timer firing). Taken on the checkpoint interval; written by a later checkpoint.
 */
export function captureQuiet(
  shard: ShardState,
  snapshots: ShardSnapshots,
  stateful: readonly string[],
): void {
  if (shard.failure !== undefined || shard.metrics.inFlightBatches > 0) return;
  const position = snapshots.quietBarrier();
  if (position === undefined) return;
  // enqueued at once in every lane: a batch admitted later comes after the captures in each of them
  for (const node of stateful)
    void shard.lane(node).run(async () => snapshots.capture(node, position, shard.timerDeliveriesInFlight()));
}

/**
 * Writes the shard's due state captures (those every sink has made durable) as one snapshot; false
 * when the write failed (the checkpoint then waits). Throws when the store lost its state (fatal).
 */
export async function writeDueSnapshot(
  shard: ShardState,
  snapshots: ShardSnapshots,
  log: Logger,
): Promise<boolean> {
  try {
    const written = await snapshots.writeDue(shard.checkpoints.safePosition(STATE_DURABILITY));
    if (written !== undefined) shard.checkpoints.markDurable(STATE_DURABILITY, written);
    return true;
  } catch (error) {
    if (isFatal(error)) throw error;
    log.warn({ shardId: shard.shardId, error: errorMessage(error) }, 'state snapshot failed');
    return false;
  }
}
