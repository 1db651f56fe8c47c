/**
 * Runs a sweep: every point `repeat` times, the repeats interleaved (round 1 of every point, then
 * round 2, …) so a noisy minute on a shared machine spreads over the points instead of sinking one;
 * then the median and spread of each figure per point.
 */
import { loadavg } from 'node:os';
import type { Workload } from '../workloads/workload.ts';
import { type BenchMode, type KnobValues, pointLabel, type Sweep, sweepPoints } from './knobs.ts';
import { machineInfo } from './machine.ts';
import { checkKnobs } from './pipeline.ts';
import { type BenchResult, GOALS, type PointResult, type PointSummary, type RunResult } from './result.ts';
import type { RunOptions } from './runOptions.ts';
import { spreadOf } from './stats.ts';

/** Runs one measurement of one point (in-process, local stack or remote). */
export type PointRunner = (knobs: KnobValues, repeat: number, options: RunOptions) => Promise<RunResult>;

/** What a sweep is. */
export interface SweepPlan {
  readonly workload: Workload;
  readonly mode: BenchMode;
  readonly sweeps: readonly Sweep[];
  readonly repeat: number;
  readonly stores: string;
}

/** Median and spread of every figure over a point's runs (failed runs left out). */
export function summarizePoint(runs: readonly RunResult[]): PointSummary {
  const ok = runs.filter((r) => r.error === undefined);
  const of = (f: (r: RunResult) => number | undefined) => spreadOf(ok.map(f));
  return {
    endToEnd: of((r) => r.recordsPerSecond.endToEnd),
    telemetry: of((r) => r.recordsPerSecond.telemetry),
    p50: of((r) => r.latencyMs?.p50),
    p95: of((r) => r.latencyMs?.p95),
    p99: of((r) => r.latencyMs?.p99),
    max: of((r) => r.latencyMs?.max),
    alarmP50: of((r) => r.alarms?.latencyMs?.p50),
    alarmP95: of((r) => r.alarms?.latencyMs?.p95),
    alarmP99: of((r) => r.alarms?.latencyMs?.p99),
    alarmMax: of((r) => r.alarms?.latencyMs?.max),
    alarmUnseen: of((r) => r.alarms?.markers.unseen),
    cpuPerMillion: of((r) => r.cpu.perMillionRecords),
    peakRssMiB: of((r) => r.peakRssMiB),
    roundTripsPerBatch: of((r) => r.roundTripsPerBatch),
    redisRoundTripsPerBatch: of((r) => r.redisRoundTripsPerBatch),
    millisBehindLatest: of((r) => r.millisBehindLatest?.max),
    baseline: of((r) => r.baseline?.recordsPerSecond),
    baselineRatio: of((r) => r.baseline?.ratio),
  };
}

/** Runs every point of the plan `repeat` times with `run`; reports progress through `options`. */
export async function runSweep(
  plan: SweepPlan,
  options: RunOptions,
  run: PointRunner,
  onProgress: (done: number, what: string, status: string) => void,
): Promise<BenchResult> {
  const points = sweepPoints(plan.sweeps);
  for (const p of points) checkKnobs(plan.mode, p);
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const runs: RunResult[][] = points.map(() => []);
  const total = points.length * plan.repeat;
  let finished = 0;
  for (let r = 1; r <= plan.repeat; r++) {
    for (const [i, point] of points.entries()) {
      const what = `${pointLabel(point)} run ${r}/${plan.repeat}`;
      const runOptions: RunOptions = {
        ...options,
        progress: (done, status) => onProgress((finished + done) / total, what, status),
      };
      try {
        runs[i]!.push(await run(point, r, runOptions));
      } catch (error) {
        options.log.error({ point: pointLabel(point), repeat: r, err: error }, 'benchmark run failed');
        runs[i]!.push(failedRun(r, error));
      }
      finished++;
      onProgress(finished / total, what, 'done');
    }
  }
  const result: PointResult[] = points.map((knobs, i) => ({
    label: pointLabel(knobs),
    knobs,
    runs: runs[i]!,
    summary: summarizePoint(runs[i]!),
  }));
  return {
    version: 1,
    workload: plan.workload,
    mode: plan.mode,
    options: {
      durationSeconds: options.durationMs / 1000,
      warmupSeconds: options.warmupMs / 1000,
      repeat: plan.repeat,
      sweeps: plan.sweeps.map((s) => `${s.knob}=${s.values.join(',')}`),
      paced: options.paced,
      markerIntervalMs: options.markerIntervalMs,
      alarmMarkerIntervalMs: options.alarmMarkerIntervalMs,
      stores: plan.stores,
    },
    machine,
    startedAt,
    finishedAt: new Date().toISOString(),
    loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
    goals: GOALS,
    points: result,
  };
}

function failedRun(repeat: number, error: unknown): RunResult {
  return {
    repeat,
    seconds: 0,
    recordsPerSecond: { read: 0, endToEnd: 0, telemetry: 0 },
    stages: {},
    markers: { sent: 0, unseen: 0, store: '', pollMs: 0 },
    cpu: { shardflowSeconds: 0, shardflowCores: 0, perMillionRecords: Number.NaN },
    peakRssMiB: 0,
    accounting: {
      envelopes: 0,
      malformed: 0,
      expectedTelemetry: 0,
      stored: 0,
      deadLetters: 0,
      balanced: false,
    },
    error: error instanceof Error ? error.message : String(error),
  };
}
