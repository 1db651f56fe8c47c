/**
 * The knobs a sweep may turn (`--sweep batch=500,2000,10000`), each tied to the configuration key
 * it sets, and the sweep points they make (every combination of the values given).
 */

/** How the harness runs the topology. */
export type BenchMode = 'in-process' | 'local-stack' | 'remote';
/** Every mode. */
export const BENCH_MODES: readonly BenchMode[] = ['in-process', 'local-stack', 'remote'];

/** One knob: its range and the configuration it sets. */
export interface KnobDefinition {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** What the knob sets, in configuration terms. */
  readonly sets: string;
}

/** The knobs the harness knows; which of them the topology under test honours is `pipeline.ts`'s call. */
export const KNOBS: readonly KnobDefinition[] = [
  {
    name: 'batch',
    min: 1,
    max: 10_000,
    sets: 'records per source batch: source.kinesis.maxRecords (the GetRecords Limit); in-process the generated source’s batch size',
  },
  { name: 'maxInFlight', min: 1, max: 1000, sets: 'runtime.maxInFlightBatches' },
  {
    name: 'pollMs',
    min: 0,
    max: 60_000,
    sets: 'the wait after a page that was not full: source.kinesis.idleTimeBetweenReadsMs (batches grow with it, and so does latency)',
  },
  {
    name: 'failoverMs',
    min: 100,
    max: 600_000,
    sets: 'how long a lease may go unrenewed before it is lost: source.leases.failoverTimeMs (default 10,000, the KCL’s)',
  },
  { name: 'checkpointMs', min: 0, max: 600_000, sets: 'runtime.checkpointIntervalMs' },
  {
    name: 'shards',
    min: 1,
    max: 64,
    sets: 'shards of the benchmark stream (in-process: of the generated source)',
  },
  { name: 'rate', min: 1, max: 1_000_000, sets: 'the workload profile’s base rate (records/s offered)' },
  {
    name: 'flushMs',
    min: 1,
    max: 600_000,
    sets: 'the flush interval of product windows: windows.flushIntervalMs',
  },
  {
    name: 'customerFlushMs',
    min: 0,
    max: 3_600_000,
    sets: 'how often customer × product windows are emitted with running values: windows.customerFlushIntervalMs',
  },
  {
    name: 'deviceFlushMs',
    min: 0,
    max: 3_600_000,
    sets: 'how often device windows are emitted with running values: windows.deviceFlushIntervalMs',
  },
  {
    name: 'flushMaxKeys',
    min: 1,
    max: 1_000_000,
    sets: 'keys whose running values one window batch or tick emits: windows.flushMaxKeys',
  },
  {
    name: 'flushKeysPerSecond',
    min: 0,
    max: 1_000_000,
    sets: 'keys per second whose running values the worker emits (0: no limit): windows.flushKeysPerSecond',
  },
  {
    name: 'aggregateBytes',
    min: 0,
    max: 1_048_576,
    sets: 'the producer’s KPL aggregation: largest aggregate in bytes (0: one Kinesis record per envelope)',
  },
  {
    name: 'coldCommitMs',
    min: 1000,
    max: 3_600_000,
    sets: 'the Cold sink’s commit interval: cold.sink.commitIntervalMs',
  },
];

/** Knob values of one sweep point (knobs not swept take their defaults). */
export type KnobValues = Readonly<Record<string, number>>;

/** One `--sweep name=v1,v2,…`. */
export interface Sweep {
  readonly knob: string;
  readonly values: readonly number[];
}

/** A `--sweep` that cannot be used; the message says why. */
export class SweepError extends Error {
  override readonly name = 'SweepError';
}

/** Parses one `--sweep name=v1,v2,…` against {@link KNOBS}. */
export function parseSweep(text: string): Sweep {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new SweepError(`--sweep ${text}: expected name=value,value,… (e.g. batch=500,2000)`);
  const knob = text.slice(0, eq).trim();
  const definition = KNOBS.find((k) => k.name === knob);
  if (definition === undefined)
    throw new SweepError(
      `--sweep ${text}: unknown knob "${knob}"; known: ${KNOBS.map((k) => k.name).join(', ')}`,
    );
  const parts = text
    .slice(eq + 1)
    .split(',')
    .map((v) => v.trim());
  if (parts.length === 0 || parts.some((v) => v === ''))
    throw new SweepError(`--sweep ${text}: give at least one value, separated by commas`);
  const values = parts.map((v) => {
    const n = Number(v.replaceAll('_', ''));
    if (!Number.isInteger(n) || n < definition.min || n > definition.max)
      throw new SweepError(
        `--sweep ${text}: "${v}" is not an integer from ${definition.min} to ${definition.max}`,
      );
    return n;
  });
  if (new Set(values).size !== values.length) throw new SweepError(`--sweep ${text}: a value is repeated`);
  return { knob, values };
}

/** Every combination of the sweeps' values, the first sweep varying slowest; one empty point for none. */
export function sweepPoints(sweeps: readonly Sweep[]): KnobValues[] {
  const seen = new Set<string>();
  for (const s of sweeps) {
    if (seen.has(s.knob))
      throw new SweepError(`--sweep ${s.knob} is given twice; list all its values in one`);
    seen.add(s.knob);
  }
  let points: Record<string, number>[] = [{}];
  for (const s of sweeps) points = points.flatMap((p) => s.values.map((v) => ({ ...p, [s.knob]: v })));
  return points;
}

/** A point's label, e.g. `batch=500 flushMs=100` (`defaults` for the empty point). */
export function pointLabel(point: KnobValues): string {
  const entries = Object.entries(point);
  return entries.length === 0 ? 'defaults' : entries.map(([k, v]) => `${k}=${v}`).join(' ');
}
