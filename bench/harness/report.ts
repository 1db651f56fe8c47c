/**
 * The HTML report written next to `result.json`: the configuration, the machine, a throughput chart
 * and a latency chart per sweep point, and the figures as tables. One self-contained file.
 */
import { describeProfile } from '../workloads/profiles.ts';
import { type BarChart, barChartSvg, esc, type LineChart, lineChartSvg } from './charts.ts';
import { alarmGoal, type BenchResult, type RunResult } from './result.ts';
import { type Spread, spreadOf } from './stats.ts';
import {
  alarmMarkerCounts,
  alarmStagesText,
  alarmStoreOf,
  baselineLines,
  formatSpread,
  hasAlarms,
  warningLines,
} from './summary.ts';

function bar(series: string, s: Spread | undefined) {
  return s === undefined ? [] : [{ series, median: s.median, min: s.min, max: s.max }];
}

/** The throughput chart: end-to-end and telemetry records/s per point, goal line at the target. */
function throughputChart(result: BenchResult): BarChart {
  return {
    id: 'throughput',
    title: 'Throughput per sweep point (median of runs, whiskers: slowest–fastest)',
    unit: 'records/s',
    groups: result.points.map((p) => ({
      label: p.label,
      bars: [
        ...bar('source records/s', p.summary.endToEnd),
        ...bar('telemetry/s', p.summary.telemetry),
        ...bar('baseline records/s', p.summary.baseline),
      ],
    })),
    goal: {
      value: result.goals.recordsPerSecond,
      label: `goal ${result.goals.recordsPerSecond.toLocaleString('en-US')}/s`,
    },
  };
}

/** The latency chart: p50, p95, p99 and max from ingest to visibility in the store. */
function latencyChart(result: BenchResult): BarChart {
  return {
    id: 'latency',
    title: 'End-to-end latency per sweep point, ingest → visible in the store',
    unit: 'ms',
    groups: result.points.map((p) => ({
      label: p.label,
      bars: [
        ...bar('p50', p.summary.p50),
        ...bar('p95', p.summary.p95),
        ...bar('p99', p.summary.p99),
        ...bar('max', p.summary.max),
      ],
    })),
    goal: { value: result.goals.p99Ms, label: `goal p99 < ${result.goals.p99Ms} ms` },
  };
}

/** The alarm latency chart: reading → open alarm visible in the Hot store, goal line at its p99 goal. */
function alarmLatencyChart(result: BenchResult): BarChart | undefined {
  if (!hasAlarms(result) || result.goals.alarmP99Ms === undefined) return undefined;
  return {
    id: 'alarm-latency',
    title: 'Reading → open alarm visible in the Hot store, per sweep point',
    unit: 'ms',
    groups: result.points.map((p) => ({
      label: p.label,
      bars: [
        ...bar('p50', p.summary.alarmP50),
        ...bar('p95', p.summary.alarmP95),
        ...bar('p99', p.summary.alarmP99),
        ...bar('max', p.summary.alarmMax),
      ],
    })),
    goal: { value: result.goals.alarmP99Ms, label: `goal p99 ≤ ${result.goals.alarmP99Ms} ms` },
  };
}

/** The alarm latency per point with its markers and the goal, met or not. */
function alarmTable(result: BenchResult): string {
  const where = alarmStoreOf(result);
  if (where === undefined) return '';
  const goalMs = result.goals.alarmP99Ms ?? Number.NaN;
  const head =
    '<tr><th>point</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>markers sent</th><th>unseen</th><th>upper bounds</th><th>p99 ÷ goal</th><th>goal</th><th>where the time goes</th></tr>';
  const rows = result.points.map((p) => {
    const s = p.summary;
    const c = alarmMarkerCounts(p.runs);
    const goal = alarmGoal(s, result.goals);
    const cells = [
      p.label,
      formatSpread(s.alarmP50),
      formatSpread(s.alarmP95),
      formatSpread(s.alarmP99),
      formatSpread(s.alarmMax),
      c.sent.toLocaleString('en-US'),
      c.unseen.toLocaleString('en-US'),
      c.upperBound.toLocaleString('en-US'),
      s.alarmP99 === undefined ? '–' : (s.alarmP99.median / goalMs).toFixed(2),
      goal === undefined ? '–' : `${goal.met ? 'met' : 'not met'}: ${goal.why}`,
      alarmStagesText(p.runs),
    ];
    return `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  });
  return `<table><caption>${esc(`reading → open alarm visible in the Hot store (${where.store}, polled every ${where.pollMs} ms): median (min–max) over the runs; goal p99 ≤ ${goalMs.toLocaleString('en-US')} ms at ${result.goals.recordsPerSecond.toLocaleString('en-US')} readings/s; upper bounds: markers seen only through a later raise`)}</caption>${head}${rows.join('')}</table>`;
}

/**
 * Latency over the measured window: per sweep point, its first run's worst latency of the markers
 * received in each bucket. A stall (a slow store, a commit, a pause) shows as a ramp and its recovery.
 */
function latencyTimelineChart(result: BenchResult): LineChart | undefined {
  const series = result.points.flatMap((p) => {
    const timeline = p.runs.find((r) => r.latencyTimeline !== undefined)?.latencyTimeline;
    if (timeline === undefined) return [];
    const seconds = timeline.bucketMs / 1000;
    return [{ label: p.label, points: timeline.maxMs.map((v, i) => [(i + 1) * seconds, v] as const) }];
  });
  if (series.length === 0) return undefined;
  return {
    id: 'latency-timeline',
    title: 'Latency over the run: worst marker per interval (first run of each point)',
    unit: 'ms',
    xUnit: 's into the measured window',
    series,
    goal: { value: result.goals.p99Ms, label: `goal p99 < ${result.goals.p99Ms} ms` },
  };
}

function stageTable(result: BenchResult): string {
  const nodes = [...new Set(result.points.flatMap((p) => p.runs.flatMap((r) => Object.keys(r.stages))))];
  const head = `<tr><th>point</th>${nodes.map((n) => `<th>${esc(n)}</th>`).join('')}</tr>`;
  const rows = result.points.map((p) => {
    const ok = p.runs.filter((r) => r.error === undefined);
    const cells = nodes.map((n) => {
      const values = ok.map((r) => r.stages[n]?.in ?? 0).sort((a, b) => a - b);
      const median = values.length === 0 ? 0 : values[values.length >> 1]!;
      return `<td>${Math.round(median).toLocaleString('en-US')}</td>`;
    });
    return `<tr><td>${esc(p.label)}</td>${cells.join('')}</tr>`;
  });
  return `<table><caption>records in per second, per node (median of runs)</caption>${head}${rows.join('')}</table>`;
}

const CPU_COLUMNS: readonly [string, (r: RunResult) => number | undefined][] = [
  ['shardflow', (r) => r.cpu.shardflowCores],
  ['kinesalite+dynalite', (r) => r.cpu.emulators?.cores],
  ['producer', (r) => r.cpu.producer?.cores],
  ['postgresql', (r) => r.cpu.postgres?.cores],
  ['redis', (r) => r.cpu.redis?.cores],
  ['whole machine', (r) => r.cpu.machineBusyCores],
];

const LOOP_DELAY_COLUMNS: readonly [string, (r: RunResult) => number | undefined][] = [
  ['p99', (r) => r.eventLoopDelayMs?.p99],
  ['max', (r) => r.eventLoopDelayMs?.max],
];

/** A table of per-run figures, a row per point (median and spread of its runs), a column per figure given. */
function runTable(
  result: BenchResult,
  caption: string,
  figures: readonly [string, (r: RunResult) => number | undefined][],
  digits: number,
): string {
  const columns = figures.filter(([, f]) =>
    result.points.some((p) => p.runs.some((r) => f(r) !== undefined)),
  );
  if (columns.length === 0) return '';
  const head = `<tr><th>point</th>${columns.map(([n]) => `<th>${esc(n)}</th>`).join('')}</tr>`;
  const rows = result.points.map((p) => {
    const ok = p.runs.filter((r) => r.error === undefined);
    const cells = columns.map(([, f]) => `<td>${esc(formatSpread(spreadOf(ok.map(f)), digits))}</td>`);
    return `<tr><td>${esc(p.label)}</td>${cells.join('')}</tr>`;
  });
  return `<table><caption>${esc(caption)}</caption>${head}${rows.join('')}</table>`;
}

function summaryRows(result: BenchResult): string {
  return result.points
    .map((p) => {
      const s = p.summary;
      const limits = [...new Set(p.runs.map((r) => r.limit).filter(Boolean))].join('; ');
      const cells = [
        p.label,
        formatSpread(s.endToEnd),
        formatSpread(s.telemetry),
        formatSpread(s.p50),
        formatSpread(s.p95),
        formatSpread(s.p99),
        formatSpread(s.max),
        formatSpread(s.cpuPerMillion, 1),
        formatSpread(s.peakRssMiB),
        formatSpread(s.roundTripsPerBatch, 2),
        formatSpread(s.redisRoundTripsPerBatch, 2),
        formatSpread(s.millisBehindLatest),
        formatSpread(s.baseline),
        formatSpread(s.baselineRatio, 3),
        p.runs.every((r) => r.error === undefined && r.accounting.balanced) ? 'yes' : 'no',
        limits || '–',
      ];
      return `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
    })
    .join('');
}

/** The whole report as one HTML document. */
export function reportHtml(result: BenchResult): string {
  const w = result.workload;
  const m = result.machine;
  const timeline = latencyTimelineChart(result);
  const alarmChart = alarmLatencyChart(result);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shardflow bench: ${esc(w.name)} (${esc(result.mode)})</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}caption{text-align:left;font-weight:600;padding:4px 0}
.charts svg{display:block;margin:12px 0;border:1px solid #eee}
</style></head><body>
<h1>shardflow bench: ${esc(w.name)}, ${esc(result.mode)}</h1>
<p>${esc(`${w.devices.toLocaleString('en-US')} devices, ${describeProfile(w.profile)}, seed ${w.seed}; out of order ${w.outOfOrderFraction}, late ${w.lateFraction}, malformed ${w.malformedFraction}, churn ${w.churnPerHour}/h. ${result.options.durationSeconds} s measured after ${result.options.warmupSeconds} s warm-up, ${result.options.repeat} run(s) per point, ${result.options.paced ? 'paced by the profile' : 'unpaced'}; stores: ${result.options.stores}; a marker per shard every ${result.options.markerIntervalMs} ms.`)}</p>
<p>${esc(`${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}, load ${m.loadAverage.join(' ')}; commit ${m.commit}${m.dirty ? ' (uncommitted changes)' : ''}; ${result.startedAt} – ${result.finishedAt}`)}</p>
<div class="charts">
${barChartSvg(throughputChart(result))}
${barChartSvg(latencyChart(result))}
${timeline === undefined ? '' : lineChartSvg(timeline)}
${alarmChart === undefined ? '' : barChartSvg(alarmChart)}
</div>
<table><caption>summary: median (min–max) over the runs</caption>
<tr><th>point</th><th>records/s</th><th>telemetry/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>CPU s per M records</th><th>peak RSS MiB</th><th>PostgreSQL round trips per sink batch</th><th>Redis round trips per window batch</th><th>ms behind latest (max)</th><th>baseline records/s</th><th>÷ baseline</th><th>stores balanced</th><th>limit</th></tr>
${summaryRows(result)}
</table>
${alarmTable(result)}
${[...baselineLines(result), ...warningLines(result).filter((l) => l !== '')]
  .map((l) => `<p>${esc(l)}.</p>`)
  .join('\n')}
${runTable(result, 'CPU cores used in the measured window, per process (median of runs)', CPU_COLUMNS, 2)}
${runTable(result, 'event loop delay of the worker process in the measured window, ms (median of runs)', LOOP_DELAY_COLUMNS, 0)}
${stageTable(result)}
</body></html>
`;
}
