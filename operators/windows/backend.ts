/**
 * What the window operator needs from a state backend, declared here because operators may not import
 * `state/`: the backends there (`state/windowState.ts`, Redis and embedded) satisfy it structurally,
 * and the CLI hands one in. Semantics (atomic apply, positions, watermarks, claims) are specified and
 * tested by `state/windowState.ts` and its conformance suite.
 */
import type { MetricStats, Position } from '../../topology/index.ts';

/** One batch's merged statistics for one bucket (window of one scope and size). */
export interface WindowBackendPartial {
  readonly bucket: string;
  readonly windowEnd: number;
  readonly fields: ReadonlyMap<string, MetricStats>;
  /** The same statistics by row, for a backend that stores rows (optional: `fields` alone suffices). */
  readonly rows?: WindowBackendRows;
}

/** A partial's statistics by row: a field is its row's name (up to its last unit separator) + a column. */
export interface WindowBackendRows {
  readonly byRow: ReadonlyMap<string, { readonly columns: readonly string[]; readonly at: number }>;
  /** Ten statistics per column (`MetricStats` order) from the row's `at`. */
  readonly data: Float64Array;
}

/** A window of one field the backend claimed for emission. */
export interface WindowEmission {
  readonly bucket: string;
  readonly windowEnd: number;
  readonly field: string;
  readonly stats: MetricStats;
  readonly revision: number;
  readonly final: boolean;
}

/** The state backend as the window operator uses it. */
export interface WindowBackend {
  readonly kind: string;
  open(): Promise<void>;
  apply(request: {
    readonly shardId: string;
    readonly position: Position;
    readonly classifiedWith: number;
    readonly maxEventTime: number;
    readonly now: number;
    readonly policy: {
      readonly outOfOrdernessMs: number;
      readonly allowedLatenessMs: number;
      readonly retentionMs: number;
      readonly idleTimeoutMs: number;
    };
    readonly partials: readonly WindowBackendPartial[];
    readonly flush: boolean;
  }): Promise<
    | {
        readonly status: 'applied';
        readonly globalWatermark: number;
        readonly emissions: readonly WindowEmission[];
      }
    | {
        readonly status: 'duplicate';
        readonly globalWatermark: number;
        readonly classifiedWith: number | undefined;
        readonly emissions: readonly WindowEmission[];
      }
    | { readonly status: 'stale-watermark'; readonly globalWatermark: number }
  >;
  close(): Promise<void>;
}
