/**
 * The contract between the window operator (`operators/windows/`) and its state backend
 * (`state/`: Redis and embedded, which add reading and pass `test/support/stateConformance.ts`).
 * It lives here because operators may not import `state/`. The backend holds mergeable window
 * state in buckets (one bucket = one window of one scope and size; its fields = key × metric), the
 * per-shard applied positions and watermarks, and the global watermark. Bucket and field names are
 * opaque to the backend; only a bucket's end time matters to it (finality and retention).
 *
 * One `apply` call is one atomic step: the batch's partials are merged only if the batch's first
 * position is beyond the shard's last applied position, the shard's watermark is published, the global
 * watermark is recomputed, and the windows due for emission are claimed (recorded under the batch's
 * position, so a redelivered batch re-emits what its first delivery claimed). A batch wholly at or
 * below the applied position is a `duplicate`; one that straddles it is an `overlap`: nothing changes
 * and the caller applies the part beyond it again. One `tick` is the same step without a batch, for a
 * shard that is idle.
 */
import type { MetricStats, Position } from './records.ts';

/** The merged statistics of one batch for one bucket. */
export interface BucketPartial {
  /** Opaque bucket id (scope, window size, window start). */
  readonly bucket: string;
  /** Window end (epoch ms, exclusive): decides finality and retention. */
  readonly windowEnd: number;
  /** Field (key × metric) → the batch's statistics. */
  readonly fields: ReadonlyMap<string, MetricStats>;
  /** The same statistics by row, if the caller keeps them so (the Redis backend then packs no field). */
  readonly rows?: PartialRows;
}

/**
 * A partial's statistics by row: a field is its row's name (up to and including its last unit
 * separator, `\x1f`) followed by a column (the metric), as in `windowRows.ts`.
 */
export interface PartialRows {
  readonly byRow: ReadonlyMap<string, { readonly columns: readonly string[]; readonly at: number }>;
  /** The statistics of each column (`STATS_STRIDE` slots each, see `metricStats.ts`) from the row's `at`. */
  readonly data: Float64Array;
}

/** Event-time policy of the window operator, passed with every call (the backend keeps no config). */
export interface WatermarkPolicy {
  readonly outOfOrdernessMs: number;
  readonly allowedLatenessMs: number;
  /** How long after its end (in watermark time) a window's state is kept for late records. */
  readonly retentionMs: number;
  /** A shard without batches for this long (processing time) stops holding the global watermark back. */
  readonly idleTimeoutMs: number;
}

/**
 * Which changed open windows a call claims with their running values: all (`true`), none (`false`),
 * or those of the buckets whose ids begin with one of the given prefixes (e.g. a scope's, so device
 * windows can be flushed less often than product windows), claimed prefix by prefix in the order
 * given: under a flush limit the first prefixes' windows go out first.
 */
export type FlushSelection = boolean | readonly string[];

/** One batch of one shard, as the backend applies it. */
export interface ApplyRequest {
  readonly shardId: string;
  /** The position of the batch's last record (stored as the shard's applied position). */
  readonly position: Position;
  /**
   * The position of the batch's first record (a Kinesis record's: sub-sequence 0), when the caller
   * knows it; defaults to `position`. A batch whose first position is at or below the applied one and
   * whose last is beyond is refused as an `overlap`.
   */
  readonly firstPosition?: Position;
  /** The global watermark the operator classified the batch's late records with. */
  readonly classifiedWith: number;
  /** Maximum event time of the batch (`-Infinity` when the batch had no usable record). */
  readonly maxEventTime: number;
  /** Processing time of the call (the operator's clock). */
  readonly now: number;
  readonly policy: WatermarkPolicy;
  readonly partials: readonly BucketPartial[];
  /** Also claim windows changed since the last flush (running values), not only due finals. */
  readonly flush: FlushSelection;
  /** The most keys (rows) whose changed windows one flush claims; the rest stay for later calls. */
  readonly flushLimit?: number;
}

/** One window of one field to emit. */
export interface Emission {
  readonly bucket: string;
  readonly windowEnd: number;
  readonly field: string;
  readonly stats: MetricStats;
  readonly revision: number;
  readonly final: boolean;
}

/**
 * An applied batch's position and the watermark it classified its late records with. A record at
 * position `q` was applied by the batch at the lowest recorded position at or above `q` (the batches
 * of a shard are applied in order, each covering the records after its predecessor up to its own).
 */
export interface Classification {
  readonly position: Position;
  readonly watermark: number;
}

/**
 * What `apply` answers for records applied before (a `duplicate`, or the applied part of an
 * `overlap`): `classified` lists the batches that applied them (still recorded, ascending),
 * `emissions` those batches' claims (still kept, oldest first), so a redelivery gives the outputs the
 * first delivery gave.
 */
export interface AppliedBefore {
  readonly globalWatermark: number;
  readonly classified: readonly Classification[];
  readonly emissions: readonly Emission[];
}

/** What `apply` did. */
export type ApplyResult =
  | {
      /**
       * Merged; `emissions` are the windows this call claimed, and the final windows the shard's
       * last ticks claimed (see `tick`), which this batch's claim now keeps.
       */
      readonly status: 'applied';
      readonly globalWatermark: number;
      readonly emissions: readonly Emission[];
      /**
       * Set when the flush limit left windows of the selection's current flush rounds for the next
       * calls: the first prefix of the selection they are under (`''` for a selection of all). A
       * prefix flushes in rounds: a call that finds none of its windows flushing starts a round with
       * the windows changed so far; those changed later wait for the next round, so under a flush
       * limit every changed window goes out within about two rounds.
       */
      readonly moreToFlush?: string;
    }
  /** Wholly at or below the shard's applied position: nothing merged. */
  | (AppliedBefore & { readonly status: 'duplicate' })
  /**
   * The first position is at or below the applied one, the last beyond: nothing changed. The records
   * up to `applied` were applied before; the caller applies the rest as a batch of its own.
   */
  | (AppliedBefore & { readonly status: 'overlap'; readonly applied: Position })
  | {
      /** A partial targets a window past retention under the current global watermark: reclassify. */
      readonly status: 'stale-watermark';
      readonly globalWatermark: number;
    };

/** A tick of an idle shard: no batch, no position moved. */
export interface TickRequest {
  readonly shardId: string;
  /** Processing time of the call. The shard's activity is not refreshed by a tick. */
  readonly now: number;
  readonly policy: WatermarkPolicy;
  /** Also claim open windows changed since the last flush. */
  readonly flush: FlushSelection;
  /** As for `ApplyRequest.flushLimit`. */
  readonly flushLimit?: number;
  /**
   * Who ticks: one id per opening of the shard's pipeline (`session`) and a number that grows by one
   * per acknowledged tick (`sequence`; a retried tick repeats it). See `tick`.
   */
  readonly session: string;
  readonly sequence: number;
}

/** What `tick` claimed. */
export interface TickResult {
  readonly globalWatermark: number;
  readonly emissions: readonly Emission[];
  /** As for the applied `ApplyResult.moreToFlush`. */
  readonly moreToFlush?: string;
}

/** The window state backend as the window operator uses it. */
export interface WindowBackend {
  readonly kind: string;
  /** Connects and joins (or creates) the state's epoch. */
  open(): Promise<void>;
  /** The atomic step of one batch (see the file comment). Throws when the state was lost. */
  apply(request: ApplyRequest): Promise<ApplyResult>;
  /**
   * The atomic step of an idle shard: recomputes the global watermark at `now` (the shard's own
   * activity is not refreshed, so an idle shard still stops holding it back), claims due finals and,
   * when flushing, changed open windows, and expires windows past retention. Its final claims stay
   * pending for the shard until they are surely delivered: the shard's next applied batch returns them
   * again and keeps them in its claim; a tick returns them again unless it directly follows, in the
   * same session, the tick that claimed them (the runtime fires the next tick only once the outputs of
   * the previous one have left the pipeline). Throws when the state was lost.
   */
  tick(request: TickRequest): Promise<TickResult>;
  /**
   * What a shard held back for running ahead of the others polls: marks the shard active at `now`
   * (it has data, it is not idle, so it keeps counting once the shards it waits for went idle),
   * recomputes the global watermark as `apply` and `tick` do, and returns it; claims and expires
   * nothing. Throws when the state was lost.
   */
  advanceGlobal(shardId: string, now: number, policy: WatermarkPolicy): Promise<number>;
  close(): Promise<void>;
}
