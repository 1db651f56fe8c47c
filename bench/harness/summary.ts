/**
 * The terminal's summary of a result: one row per sweep point with the medians and spreads, then
 * the figures against the platform's goals.
 */
import { describeProfile } from '../workloads/profiles.ts';
import { alarmGoal, type BenchResult } from './result.ts';
import { type Spread, spreadOf } from './stats.ts';

const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** `median (min–max)` of a spread, or `–`. */
export function formatSpread(s: Spread | undefined, digits = 0): string {
  if (s === undefined) return '–';
  const f = (n: number) => (digits === 0 ? int(n) : n.toFixed(digits));
  return s.runs.length === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The summary table of a result, as text. */
export function summaryTable(result: BenchResult): string {
  const w = result.workload;
  const head = [
    `workload ${w.name}: ${int(w.devices)} devices, ${describeProfile(w.profile)}; mode ${result.mode}; stores ${result.options.stores}`,
    `${result.options.durationSeconds} s measured after ${result.options.warmupSeconds} s warm-up, ${result.options.repeat} run(s) per point, median (min–max); ${result.options.paced ? 'paced by the profile' : 'unpaced (as fast as the pipeline takes records)'}`,
    `${result.machine.cpus} × ${result.machine.cpuModel}, ${result.machine.memoryGiB} GiB, Node ${result.machine.node}, load ${result.machine.loadAverage.join(' ')}${result.loadAverageAtEnd ? ` (at the end ${result.loadAverageAtEnd.join(' ')})` : ''}, commit ${result.machine.commit.slice(0, 10)}${result.machine.dirty ? ' (dirty)' : ''}`,
    '',
  ];
  const rows = result.points.map((p) => {
    const s = p.summary;
    const failed = p.runs.filter((r) => r.error !== undefined).length;
    const limits = [...new Set(p.runs.map((r) => r.limit).filter((l) => l !== undefined))].join('; ');
    const balanced = p.runs.every((r) => r.error !== undefined || r.accounting.balanced);
    return [
      p.label,
      formatSpread(s.endToEnd),
      formatSpread(s.telemetry),
      formatSpread(s.p50),
      formatSpread(s.p99),
      formatSpread(s.max),
      formatSpread(s.cpuPerMillion, 1),
      formatSpread(s.peakRssMiB),
      formatSpread(s.roundTripsPerBatch, 2),
      formatSpread(s.redisRoundTripsPerBatch, 2),
      formatSpread(s.millisBehindLatest),
      formatSpread(s.baseline),
      formatSpread(s.baselineRatio, 3),
      `${balanced ? 'yes' : 'NO'}${failed > 0 ? `, ${failed} failed` : ''}${limits ? `; ${limits}` : ''}`,
    ];
  });
  const out = table(
    [
      'point',
      'records/s',
      'telemetry/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'CPU s/M',
      'RSS MiB',
      'PG trips/batch',
      'Redis trips/batch',
      'behind ms',
      'baseline/s',
      '÷ baseline',
      'balanced',
    ],
    rows,
  );
  const goals = result.points.map((p) => {
    const rate = p.summary.endToEnd?.median;
    const p99 = p.summary.p99?.median;
    const r = rate === undefined ? '–' : (rate / result.goals.recordsPerSecond).toFixed(2);
    const l = p99 === undefined ? '–' : (p99 / result.goals.p99Ms).toFixed(2);
    return `  ${p.label}: records/s ÷ ${int(result.goals.recordsPerSecond)} = ${r}; p99 ÷ ${int(result.goals.p99Ms)} ms = ${l}`;
  });
  const baselines = baselineLines(result);
  const alarms = alarmLines(result);
  return [
    ...head,
    out,
    '',
    ...(alarms.length > 0 ? [...alarms, ''] : []),
    ...(baselines.length > 0 ? [...baselines, ''] : []),
    ...warningLines(result),
    'against the goals (≥ 1 and ≤ 1 meet them):',
    ...goals,
    ...alarmGoalLines(result),
    '',
  ].join('\n');
}

/** The worker's warnings and errors per run, for the points whose runs had any (then a blank line). */
export function warningLines(result: BenchResult): string[] {
  const lines = result.points.flatMap((p) =>
    p.runs.flatMap((r) => {
      const counts = Object.entries(r.warnings ?? {});
      if (counts.length === 0) return [];
      const what = counts.map(([message, n]) => `${message} ×${n}`).join(', ');
      return [`${p.label} run ${r.repeat}: worker warnings: ${what}`];
    }),
  );
  return lines.length > 0 ? [...lines, ''] : [];
}

/** What the in-run baseline was, once per kind of baseline in the result. */
export function baselineLines(result: BenchResult): string[] {
  const seen = new Map<string, string>();
  for (const p of result.points)
    for (const r of p.runs) if (r.baseline) seen.set(r.baseline.name, r.baseline.description);
  return [...seen].map(
    ([name, description]) =>
      `baseline: ${name}, ${description}; ÷ baseline is the topology's records/s divided by it`,
  );
}

/** Whether any run of the result has alarm figures (the topology had the rules branch). */
export function hasAlarms(result: BenchResult): boolean {
  return result.points.some((p) => p.runs.some((r) => r.alarms !== undefined));
}

/** Where the alarm latency was read, and how often, from the first run that has it. */
export function alarmStoreOf(result: BenchResult): { store: string; pollMs: number } | undefined {
  return result.points.flatMap((p) => p.runs).find((r) => r.alarms !== undefined)?.alarms?.markers;
}

/** Alarm markers over a point's runs: sent, unseen and seen only through a later raise (sums). */
export function alarmMarkerCounts(runs: BenchResult['points'][number]['runs']): {
  sent: number;
  unseen: number;
  upperBound: number;
} {
  const sum = (f: (m: NonNullable<(typeof runs)[number]['alarms']>['markers']) => number) =>
    runs.reduce((n, r) => n + (r.alarms ? f(r.alarms.markers) : 0), 0);
  return { sent: sum((m) => m.sent), unseen: sum((m) => m.unseen), upperBound: sum((m) => m.upperBound) };
}

/**
 * Where an alarm marker's time goes, per point: the mean time per batch of the rule operator, of the
 * alarm sink (Warm transaction and Hot upsert; one batch at a time per shard) and, to compare, of the
 * Hot telemetry sink; medians over the runs.
 */
export function alarmStagesText(runs: BenchResult['points'][number]['runs']): string {
  const ok = runs.filter((r) => r.error === undefined);
  const of = (node: string) => formatSpread(spreadOf(ok.map((r) => r.stages[node]?.batchMs)));
  return `mean ms per batch: rules ${of('rules')}, alarm-events ${of('alarm-events')} (hot-telemetry ${of('hot-telemetry')})`;
}

/** The reading → open alarm latency per point, as lines of text; none without the rules branch. */
export function alarmLines(result: BenchResult): string[] {
  const where = alarmStoreOf(result);
  if (where === undefined) return [];
  return [
    `reading → open alarm visible in the Hot store (${where.store}, polled every ${where.pollMs} ms), ms, median (min–max):`,
    ...result.points.map((p) => {
      const s = p.summary;
      const c = alarmMarkerCounts(p.runs);
      return `  ${p.label}: p50 ${formatSpread(s.alarmP50)}, p95 ${formatSpread(s.alarmP95)}, p99 ${formatSpread(s.alarmP99)}, max ${formatSpread(s.alarmMax)}; markers ${int(c.sent)} sent, ${int(c.unseen)} unseen, ${int(c.upperBound)} seen only through a later raise (upper bounds); ${alarmStagesText(p.runs)}`;
    }),
  ];
}

/** The alarm goal per point (met / not met and why); none without the rules branch. */
export function alarmGoalLines(result: BenchResult): string[] {
  if (!hasAlarms(result) || result.goals.alarmP99Ms === undefined) return [];
  return result.points.map((p) => {
    const goal = alarmGoal(p.summary, result.goals);
    const p99 = p.summary.alarmP99?.median;
    const ratio = p99 === undefined ? '–' : (p99 / result.goals.alarmP99Ms!).toFixed(2);
    return `  ${p.label}: reading → open alarm p99 ÷ ${int(result.goals.alarmP99Ms!)} ms = ${ratio}; goal p99 ≤ ${int(result.goals.alarmP99Ms!)} ms at ${int(result.goals.recordsPerSecond)} readings/s: ${goal === undefined ? 'no figure' : `${goal.met ? 'met' : 'not met'} (${goal.why})`}`;
  });
}
