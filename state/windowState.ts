/**
 * The window state backends' side of the contract in `topology/windowState.ts`: what the backends add
 * (reading stored windows and watermarks, the lost-state error) and the helpers they share.
 */
import type { FlushSelection, MetricStats, Position, WindowBackend } from '../topology/index.ts';

export type {
  ApplyRequest,
  ApplyResult,
  BucketPartial,
  Classification,
  Emission,
  FlushSelection,
  PartialRows,
  TickRequest,
  TickResult,
  WatermarkPolicy,
} from '../topology/index.ts';

/** A flush selection as one script argument: `0` none, `1` all, else `p` and newline-separated prefixes. */
export function flushArgument(selection: FlushSelection): string {
  if (typeof selection === 'boolean') return selection ? '1' : '0';
  if (selection.length === 0) return '0';
  if (selection.includes('')) return '1';
  for (const prefix of selection)
    if (prefix.includes('\n')) throw new Error(`flush prefix ${JSON.stringify(prefix)} contains a newline`);
  return `p${selection.join('\n')}`;
}

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
export interface WindowStateBackend extends WindowBackend {
  readonly kind: 'redis' | 'embedded';
  /** One stored window of one field, if kept. */
  readWindow(bucket: string, field: string): Promise<StoredWindow | undefined>;
  /** The global watermark and every shard's published watermark. */
  watermarks(): Promise<{ readonly global: number; readonly shards: readonly ShardWatermark[] }>;
}

/** Orders positions the way the backends do (decimal strings: length, then text), `a` after `b`. */
export function positionAfter(a: Position, b: Position | undefined): boolean {
  if (b === undefined) return true;
  if (a.sequenceNumber.length !== b.sequenceNumber.length)
    return a.sequenceNumber.length > b.sequenceNumber.length;
  if (a.sequenceNumber !== b.sequenceNumber) return a.sequenceNumber > b.sequenceNumber;
  return a.subSequenceNumber > b.subSequenceNumber;
}
