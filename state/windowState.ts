/**
 * The contract between the window operator and its state backend. The backend holds mergeable window
 * state in buckets (one bucket = one window of one scope and size; its fields = key × metric), the
 * per-shard applied positions and watermarks, and the global watermark. Bucket and field names are
 * opaque to the backend; only a bucket's end time matters to it (finality and retention).
 *
 * One `apply` call is one atomic step: the batch's partials are merged only if the batch's position is
 * beyond the shard's last applied position, the shard's watermark is published, the global watermark is
 * recomputed, and the windows due for emission are claimed (recorded under the batch's position, so a
 * redelivered batch re-emits what its first delivery claimed).
 */
import type { MetricStats, Position } from '../topology/index.ts';

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
  /** Ten statistics per column (`MetricStats` order) from the row's `at`. */
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

/** One batch of one shard, as the backend applies it. */
export interface ApplyRequest {
  readonly shardId: string;
  readonly position: Position;
  /** The global watermark the operator classified the batch's late records with. */
  readonly classifiedWith: number;
  /** Maximum event time of the batch (`-Infinity` when the batch had no usable record). */
  readonly maxEventTime: number;
  /** Processing time of the call (the operator's clock). */
  readonly now: number;
  readonly policy: WatermarkPolicy;
  readonly partials: readonly BucketPartial[];
  /** Also claim every window changed since the last flush (running values), not only due finals. */
  readonly flush: boolean;
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

/** What `apply` did. */
export type ApplyResult =
  | {
      /** Merged; `emissions` are the windows this call claimed. */
      readonly status: 'applied';
      readonly globalWatermark: number;
      readonly emissions: readonly Emission[];
    }
  | {
      /** At or below the shard's applied position: nothing merged; the first delivery's claim re-read. */
      readonly status: 'duplicate';
      readonly globalWatermark: number;
      /** The watermark the first delivery classified with, when still recorded. */
      readonly classifiedWith: number | undefined;
      readonly emissions: readonly Emission[];
    }
  | {
      /** A partial targets a window past retention under the current global watermark: reclassify. */
      readonly status: 'stale-watermark';
      readonly globalWatermark: number;
    };

/** A shard's published watermark. */
export interface ShardWatermark {
  readonly shardId: string;
  /** Maximum event time seen on the shard. */
  readonly maxEventTime: number;
  /** Processing time of the shard's last applied batch. */
  readonly activeAt: number;
  readonly position: Position | undefined;
}

/** One stored window of one field. */
export interface StoredWindow {
  readonly stats: MetricStats;
  /** Revision of the last emission (0: never emitted). */
  readonly revision: number;
  readonly final: boolean;
}

/** Raised when the backend lost its state (e.g. Redis restarted empty): numbers would be wrong. */
export class StateLostError extends Error {
  override readonly name = 'StateLostError';
  /** Retrying cannot bring the state back: the runtime stops instead (see `isFatal` in `topology/`). */
  readonly fatal = true;
}

/** A window state backend; implementations pass `test/support/stateConformance.ts`. */
export interface WindowStateBackend {
  readonly kind: 'redis' | 'embedded';
  /** Connects and joins (or creates) the state's epoch. */
  open(): Promise<void>;
  /** The atomic step of one batch (see the file comment). Throws `StateLostError`. */
  apply(request: ApplyRequest): Promise<ApplyResult>;
  /** One stored window of one field, if kept. */
  readWindow(bucket: string, field: string): Promise<StoredWindow | undefined>;
  /** The global watermark and every shard's published watermark. */
  watermarks(): Promise<{ readonly global: number; readonly shards: readonly ShardWatermark[] }>;
  close(): Promise<void>;
}

/** Orders positions the way the backends do (decimal strings: length, then text). */
export function positionAfter(a: Position, b: Position | undefined): boolean {
  if (b === undefined) return true;
  if (a.sequenceNumber.length !== b.sequenceNumber.length)
    return a.sequenceNumber.length > b.sequenceNumber.length;
  if (a.sequenceNumber !== b.sequenceNumber) return a.sequenceNumber > b.sequenceNumber;
  return a.subSequenceNumber > b.subSequenceNumber;
}
