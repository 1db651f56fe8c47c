/**
 * Seeded synthetic signals for the rule detectors, and the scoring of their alarms: one reading per
 * step of a metric that is gaussian noise about a level, optionally with a daily cycle, and with
 * injected anomalies at known positions (spikes, dips, level shifts, a slow drift toward a threshold).
 * The same seed gives the same signal on every machine (xorshift32 and Box–Muller, no Math.random).
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** An injected anomaly: readings `[start, end)` (a spike is one reading). */
export interface InjectedAnomaly {
  readonly kind: 'spike' | 'dip' | 'level-up' | 'level-down' | 'drift';
  readonly start: number;
  readonly end: number;
}

/** A generated signal: reading `i` at `times[i]`, at `hours[i]` of the day (UTC, fractional: 13.25 is 13:15). */
export interface Signal {
  readonly times: Float64Array;
  readonly values: Float64Array;
  readonly hours: Float64Array;
  readonly anomalies: readonly InjectedAnomaly[];
  readonly stepMs: number;
}

/** What to generate. Sizes are in σ of the noise. */
export interface SignalOptions {
  readonly seed: number;
  /** Default 30. */
  readonly days?: number;
  /** Default 60,000 (one reading a minute). */
  readonly stepMs?: number;
  /** Default 20. */
  readonly level?: number;
  /** Default 1. */
  readonly sigma?: number;
  /** A daily sine of this amplitude (σ), lowest at 04:00. */
  readonly dailyAmplitude?: number;
  /** Single readings this many σ away (sign by `spikeKinds`), at random positions after `quietDays`. */
  readonly spikes?: {
    readonly count: number;
    readonly size: number;
    readonly kinds?: 'spike' | 'dip' | 'both';
  };
  /** Steps of the level by ± size σ, alternating up and down, evenly spread after `quietDays`. */
  readonly shifts?: { readonly count: number; readonly size: number };
  /** From `startDay` on, the level moves by `perHour` σ each hour (a drift: one anomaly to its end). */
  readonly drift?: { readonly startDay: number; readonly perHour: number };
  /** Days at the start left without anomalies (the detectors' warm-up); default 2. */
  readonly quietDays?: number;
}

/** A seeded uniform generator on [0, 1) and a standard normal one from it. */
export function seededRandom(seed: number): { uniform: () => number; normal: () => number } {
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = uniform() || 1e-12;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
  return { uniform, normal };
}

/** Generates a signal. */
export function syntheticSignal(options: SignalOptions): Signal {
  const stepMs = options.stepMs ?? 60_000;
  const days = options.days ?? 30;
  const sigma = options.sigma ?? 1;
  const level0 = options.level ?? 20;
  const n = Math.round((days * DAY) / stepMs);
  const quiet = Math.round(((options.quietDays ?? 2) * DAY) / stepMs);
  const start = Date.UTC(2026, 0, 1);
  const { uniform, normal } = seededRandom(options.seed);
  const times = new Float64Array(n);
  const values = new Float64Array(n);
  const hours = new Float64Array(n);
  const anomalies: InjectedAnomaly[] = [];

  const spikeAt = new Map<number, number>();
  if (options.spikes) {
    const { count, size, kinds = 'both' } = options.spikes;
    const gap = Math.round((n - quiet) / count);
    for (let s = 0; s < count; s++) {
      // one spike in each stretch of `gap`, away from its edges
      const i = quiet + s * gap + Math.floor(gap * (0.1 + 0.8 * uniform()));
      const up = kinds === 'spike' || (kinds === 'both' && uniform() < 0.5);
      spikeAt.set(i, up ? size : -size);
      anomalies.push({ kind: up ? 'spike' : 'dip', start: i, end: i + 1 });
    }
  }
  const shiftAt = new Map<number, number>();
  if (options.shifts) {
    const { count, size } = options.shifts;
    const gap = Math.round((n - quiet) / (count + 1));
    for (let s = 1; s <= count; s++) {
      const i = quiet + s * gap;
      const up = s % 2 === 1;
      shiftAt.set(i, up ? size : -size);
      anomalies.push({ kind: up ? 'level-up' : 'level-down', start: i, end: i + 1 });
    }
  }
  const driftStart = options.drift ? Math.round((options.drift.startDay * DAY) / stepMs) : n;
  if (options.drift) anomalies.push({ kind: 'drift', start: driftStart, end: n });

  let level = level0;
  for (let i = 0; i < n; i++) {
    const t = start + i * stepMs;
    times[i] = t;
    hours[i] = (t % DAY) / HOUR;
    level += (shiftAt.get(i) ?? 0) * sigma;
    let v = level + sigma * normal();
    if (options.dailyAmplitude) {
      v += options.dailyAmplitude * sigma * -Math.cos((2 * Math.PI * ((t % DAY) - 4 * HOUR)) / DAY);
    }
    if (i >= driftStart) v += (options.drift!.perHour * sigma * (t - times[driftStart]!)) / HOUR;
    v += (spikeAt.get(i) ?? 0) * sigma;
    values[i] = v;
  }
  anomalies.sort((a, b) => a.start - b.start);
  return { times, values, hours, anomalies, stepMs };
}

/** One hour of a signal as its 1 h window final gives it. */
export interface HourlyMean {
  /** Start of the hour. */
  readonly start: number;
  readonly hourOfDay: number;
  readonly mean: number;
  /** Sample variance of the hour's readings. */
  readonly variance: number;
  /** Index of the hour's first reading. */
  readonly first: number;
}

/** The signal's hours, each with the mean and variance of its readings. */
export function hourlyMeans(signal: Signal): HourlyMean[] {
  const out: HourlyMean[] = [];
  let first = 0;
  for (let i = 1; i <= signal.values.length; i++) {
    const hourStart = Math.floor(signal.times[first]! / HOUR) * HOUR;
    if (i < signal.values.length && signal.times[i]! < hourStart + HOUR) continue;
    let sum = 0;
    for (let j = first; j < i; j++) sum += signal.values[j]!;
    const mean = sum / (i - first);
    let m2 = 0;
    for (let j = first; j < i; j++) m2 += (signal.values[j]! - mean) ** 2;
    out.push({
      start: hourStart,
      hourOfDay: Math.floor(signal.hours[first]!),
      mean,
      variance: i - first > 1 ? m2 / (i - first - 1) : 0,
      first,
    });
    first = i;
  }
  return out;
}

/**
 * Runs a detector over a signal: `judge(i)` for each reading in order, and `feedHour` with each hour's
 * final before the first reading of the next hour (as the rule operator would get it). Returns the
 * indices of the readings judged anomalous.
 */
export function alarmsOf(
  signal: Signal,
  judge: (i: number) => boolean,
  feedHour?: (hour: HourlyMean) => void,
): number[] {
  const hours = feedHour ? hourlyMeans(signal) : [];
  let next = 1;
  const alarms: number[] = [];
  for (let i = 0; i < signal.values.length; i++) {
    if (feedHour && next < hours.length && i === hours[next]!.first) feedHour(hours[next++ - 1]!);
    if (judge(i)) alarms.push(i);
  }
  return alarms;
}

/** Recall and precision of alarms against a signal's injected anomalies. */
export interface Scored {
  /** Alarm events: runs of alarms at most `mergeGap` readings apart. */
  readonly events: number;
  /** Events that start within an anomaly or `tolerance` readings after its end. */
  readonly truePositives: number;
  /** Injected anomalies with at least one such event. */
  readonly detected: number;
  readonly anomalies: number;
  /** detected / anomalies (1 without anomalies). */
  readonly recall: number;
  /** truePositives / events (1 without events). */
  readonly precision: number;
}

/** Scores alarm indices (ascending) against the injected anomalies. */
export function scoreAlarms(
  signal: Signal,
  alarms: readonly number[],
  options: { tolerance: number; mergeGap?: number },
): Scored {
  const mergeGap = options.mergeGap ?? 5;
  const starts: number[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (const i of alarms) {
    if (i - last > mergeGap) starts.push(i);
    last = i;
  }
  const hit = new Set<number>();
  let truePositives = 0;
  for (const start of starts) {
    const a = signal.anomalies.findIndex((x) => start >= x.start && start < x.end + options.tolerance);
    if (a >= 0) {
      truePositives++;
      hit.add(a);
    }
  }
  const anomalies = signal.anomalies.length;
  return {
    events: starts.length,
    truePositives,
    detected: hit.size,
    anomalies,
    recall: anomalies === 0 ? 1 : hit.size / anomalies,
    precision: starts.length === 0 ? 1 : truePositives / starts.length,
  };
}
