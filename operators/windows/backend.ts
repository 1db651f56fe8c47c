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

/** The event-time policy passed with every call. */
export interface WindowBackendPolicy {
  readonly outOfOrdernessMs: number;
  readonly allowedLatenessMs: number;
  readonly retentionMs: number;
  readonly idleTimeoutMs: number;
}

/** An applied batch's position and the watermark it classified its late records with. */
export interface WindowBackendClassification {
  readonly position: Position;
  readonly watermark: number;
}

/** What the backend did with a batch. */
export type WindowBackendApplied =
  | {
      readonly status: 'applied';
      readonly globalWatermark: number;
      readonly emissions: readonly WindowEmission[];
      /** The flush limit left changed windows for later calls. */
      readonly moreToFlush?: true;
    }
  | {
      readonly status: 'duplicate';
      readonly globalWatermark: number;
      readonly classified: readonly WindowBackendClassification[];
      readonly emissions: readonly WindowEmission[];
    }
  | {
      readonly status: 'overlap';
      readonly globalWatermark: number;
      readonly applied: Position;
      readonly classified: readonly WindowBackendClassification[];
      readonly emissions: readonly WindowEmission[];
    }
  | { readonly status: 'stale-watermark'; readonly globalWatermark: number };

/** The state backend as the window operator uses it. */
export interface WindowBackend {
  readonly kind: string;
  open(): Promise<void>;
  apply(request: {
    readonly shardId: string;
    readonly position: Position;
    readonly firstPosition?: Position;
    readonly classifiedWith: number;
    readonly maxEventTime: number;
    readonly now: number;
    readonly policy: WindowBackendPolicy;
    readonly partials: readonly WindowBackendPartial[];
    /** Changed open windows to claim: all, none, or those of buckets whose ids begin with a prefix. */
    readonly flush: boolean | readonly string[];
    /** The most keys (rows) one flush claims; the rest stay changed for later calls. */
    readonly flushLimit?: number;
  }): Promise<WindowBackendApplied>;
  tick(request: {
    readonly shardId: string;
    readonly now: number;
    readonly policy: WindowBackendPolicy;
    readonly flush: boolean | readonly string[];
    readonly flushLimit?: number;
    readonly session: string;
    readonly sequence: number;
  }): Promise<{
    readonly globalWatermark: number;
    readonly emissions: readonly WindowEmission[];
    readonly moreToFlush?: true;
  }>;
  close(): Promise<void>;
}
