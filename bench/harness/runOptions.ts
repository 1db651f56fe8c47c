/**
 * What every run of a point is given: timing, pacing, the specs, the stores, and where progress goes.
 */
import type { SpecRegistry } from '../../operators/decode/registry.ts';
import type { Logger } from '../../topology/index.ts';

/** Options shared by the runs of one `bench run`. */
export interface RunOptions {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly markerIntervalMs: number;
  /**
   * With the rules branch: an alarm marker per shard every so many ms, raising and clearing in turn.
   * Longer than the Hot state markers' interval: an alarm cleared before a poll saw it open is seen
   * only through a later raise (`alarmProbe.ts`), and a real alarm stays open a while.
   */
  readonly alarmMarkerIntervalMs: number;
  /** In-process: pace generation by the profile (default: flat out). Local stack: always paced. */
  readonly paced: boolean;
  readonly specs: SpecRegistry;
  readonly log: Logger;
  /** Warm store URL (postgres://… or embedded); in-process uses in-memory tables without it. */
  readonly postgresUrl?: string;
  readonly redisUrl?: string;
  /** Measure the in-run baseline after each run (default in the CLI). */
  readonly baseline: boolean;
  /** Called about four times a second: share of the run done (0..1) and a status line. */
  readonly progress: (done: number, status: string) => void;
}

/** Default alarm marker interval (ms): each alarm held open a second, the goal's latency. */
export const ALARM_MARKER_MS = 1000;

/** Longest wait for the pipeline to drain and the last markers to show after production stops. */
export const DRAIN_TIMEOUT_MS = 60_000;
