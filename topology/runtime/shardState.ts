/**
 * The runtime's state for one shard: its lanes (one per node), its window of batches in flight,
 * its operators' timers and their deliveries in flight, its metrics and checkpoints, and whether a
 * batch of it has failed for good.
 */
import type { Clock } from '../clock.ts';
import type { ShardHandle, ShardReaderStatus } from '../components.ts';
import type { Logger } from '../logger.ts';
import type { Position } from '../records.ts';
import { ShardCheckpoints } from './checkpoints.ts';
import { Lane } from './lane.ts';
import { ShardMetrics } from './metrics.ts';
import type { NodeState } from './nodeState.ts';
import { Permits } from './permits.ts';
import { RetryWatch } from './retryWatch.ts';
import type { ShardScope } from './runners.ts';
import type { ShardSnapshots } from './snapshots.ts';
import type { NodeTimers } from './timers.ts';

/** Where a shard's loop is: what a stop that takes long is waiting for. */
export type ShardPhase =
  | 'waiting for a permit (batches in flight)'
  | 'waiting for the source'
  | 'held by an operator (watermark alignment)'
  | 'draining batches in flight'
  | 'waiting for timer deliveries'
  | 'flushing sinks'
  | 'checkpointing';

/** One shard assigned to this worker, as the runtime tracks it. */
export class ShardState implements ShardScope {
  readonly lanes = new Map<string, Lane>();
  readonly permits: Permits;
  readonly metrics: ShardMetrics;
  readonly checkpoints: ShardCheckpoints;
  readonly checkpointLane = new Lane();
  readonly retries: RetryWatch;
  failure: { readonly error: unknown } | undefined;
  phase: ShardPhase = 'waiting for a permit (batches in flight)';
  /** The keyed state's snapshots, when an operator of the shard's sub-topology declares state. */
  snapshots: ShardSnapshots | undefined;
  private readonly nodeTimers = new Map<string, NodeTimers>();
  private readonly nodeStates = new Map<string, NodeState>();
  private readonly timerDeliveries = new Set<Promise<void>>();

  /** @param failWorker stops the worker when a timer's delivery fails (a batch's failure is seen by the loop). */
  constructor(
    readonly source: string,
    readonly handle: ShardHandle<unknown>,
    sinks: readonly string[],
    window: number,
    retryWatch: { clock: Clock; log: Logger; maxRetryAgeMs: number },
    private readonly failWorker: (error: unknown) => void = () => {},
  ) {
    this.retries = new RetryWatch(handle.shardId, retryWatch.clock, retryWatch.log, retryWatch.maxRetryAgeMs);
    this.permits = new Permits(window);
    this.metrics = new ShardMetrics(source, handle.shardId);
    this.checkpoints = new ShardCheckpoints(sinks, handle.startPosition);
  }

  get shardId(): string {
    return this.handle.shardId;
  }

  /** The shard's reader as it stands whenever it is read (see `BatchContext.reader`). */
  readonly reader: ShardReaderStatus = readerOf(this);

  lane(node: string): Lane {
    let lane = this.lanes.get(node);
    if (lane === undefined) {
      lane = new Lane();
      this.lanes.set(node, lane);
    }
    return lane;
  }

  timers(node: string, create: () => NodeTimers): NodeTimers {
    let timers = this.nodeTimers.get(node);
    if (timers === undefined) {
      timers = create();
      timers.position = this.handle.startPosition;
      this.nodeTimers.set(node, timers);
    }
    return timers;
  }

  nodeState(node: string, create: () => NodeState): NodeState {
    let state = this.nodeStates.get(node);
    if (state === undefined) {
      state = create();
      this.nodeStates.set(node, state);
    }
    return state;
  }

  /** The timer firings still delivering their outputs. */
  timerDeliveriesInFlight(): Promise<void>[] {
    return [...this.timerDeliveries];
  }

  track(delivery: Promise<void>): void {
    this.metrics.inFlightTimers++;
    this.timerDeliveries.add(delivery);
    delivery
      .catch((error) => this.failWorker(this.failure?.error ?? error))
      .finally(() => {
        this.metrics.inFlightTimers--;
        this.timerDeliveries.delete(delivery);
      });
  }

  /** Cancels every timer of the shard and waits for the deliveries of those that already fired. */
  async closeTimers(): Promise<void> {
    for (const timers of this.nodeTimers.values()) timers.close();
    await Promise.allSettled([...this.timerDeliveries]);
  }

  markDurable(sink: string, position: Position): void {
    if (this.failure === undefined) this.checkpoints.markDurable(sink, position);
  }

  fail(error: unknown): void {
    this.failure ??= { error };
  }
}

/** A live view of a shard's reader: its latest lag figure, and whether it is held back. */
function readerOf(shard: ShardState): ShardReaderStatus {
  return {
    get millisBehindLatest() {
      return shard.metrics.millisBehindLatest;
    },
    get heldBack() {
      return shard.permits.blocked || shard.phase === 'held by an operator (watermark alignment)';
    },
  };
}
