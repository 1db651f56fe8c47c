/**
 * The harness's section of `bench/RESULTS.md`, between marker comments; other benchmarks own the
 * rest of the file. Inside it, one subsection per workload and mode, each replaced by the latest run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describeProfile } from '../workloads/profiles.ts';
import { alarmGoal, type BenchResult } from './result.ts';
import { alarmMarkerCounts, alarmStagesText, alarmStoreOf, baselineLines, formatSpread } from './summary.ts';

const BEGIN = '<!-- bench-harness:begin -->';
const END = '<!-- bench-harness:end -->';
const HEADING = '## Harness: whole topology (`shardflow bench run`)';
const INTRO = [
  'Written by the harness (`shardflow bench run … --results`); medians with (min–max) over the runs.',
  'Latency is ingest (a marker envelope’s `receivedAt`, its handoff to the stream or source) to the',
  'marker device’s latest state reaching it in the Hot store, read by polling the store; a marker not',
  'seen by the end of the drain counts until the last poll, so the figures are then lower bounds. ÷ baseline:',
  'records/s divided by the in-run baseline’s (local stack: the raw GetRecords loop over the same',
  'stream on the same emulator; in-process: a pass-through topology over the same workload).',
  'Reading → open alarm (with the rules branch: local stack, remote) is a raising or clearing marker',
  'reading’s `receivedAt` to the poll that saw its device’s open alarm appear or go in the Hot store;',
  'upper bounds: markers seen only through a later raise (`bench/harness/alarmProbe.ts`).',
].join('\n');

/** The subsection of one result, with its own markers. */
function resultSubsection(result: BenchResult): string {
  const key = `${result.workload.name}/${result.mode}`;
  const m = result.machine;
  const w = result.workload;
  const rows = result.points.map((p) => {
    const s = p.summary;
    const rate = s.endToEnd?.median;
    const p99 = s.p99?.median;
    const limits = [...new Set(p.runs.map((r) => r.limit).filter(Boolean))].join('; ');
    return `| ${p.label} | ${formatSpread(s.endToEnd)} | ${formatSpread(s.telemetry)} | ${formatSpread(s.p50)} | ${formatSpread(s.p99)} | ${formatSpread(s.max)} | ${formatSpread(s.cpuPerMillion, 1)} | ${formatSpread(s.peakRssMiB)} | ${formatSpread(s.roundTripsPerBatch, 2)} / ${formatSpread(s.redisRoundTripsPerBatch, 2)} | ${rate === undefined ? '–' : (rate / result.goals.recordsPerSecond).toFixed(2)} | ${p99 === undefined ? '–' : (p99 / result.goals.p99Ms).toFixed(2)} | ${formatSpread(s.baseline)} | ${formatSpread(s.baselineRatio, 3)} | ${limits || '–'} |`;
  });
  return [
    `<!-- bench-harness:${key} -->`,
    `### ${w.name}, ${result.mode}`,
    '',
    `${w.devices.toLocaleString('en-US')} devices, ${describeProfile(w.profile)}; ${result.options.durationSeconds} s measured after ${result.options.warmupSeconds} s warm-up, ${result.options.repeat} run(s) per point, ${result.options.paced ? 'paced' : 'unpaced'}; stores: ${result.options.stores}. ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, load average ${m.loadAverage[0]} at the start${result.loadAverageAtEnd ? ` and ${result.loadAverageAtEnd[0]} at the end` : ''}, commit ${m.commit.slice(0, 10)}, ${result.startedAt.slice(0, 10)}.`,
    ...setupLine(result),
    '',
    '| point | records/s | telemetry/s | p50 ms | p99 ms | max ms | CPU s per M records | peak RSS MiB | round trips per batch: PostgreSQL (sinks) / Redis (windows) | ÷ 5,000/s goal | p99 ÷ 1 s goal | baseline records/s | ÷ baseline | limit |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    ...alarmRows(result),
    ...baselineLines(result).map((l) => `\n${l}.`),
    `<!-- bench-harness:${key}:end -->`,
  ].join('\n');
}

/** The reading → open alarm table, with the goal met or not; none without the rules branch. */
function alarmRows(result: BenchResult): string[] {
  const where = alarmStoreOf(result);
  if (where === undefined) return [];
  const goalMs = result.goals.alarmP99Ms ?? Number.NaN;
  return [
    '',
    `Reading → open alarm visible in the Hot store (${where.store}, polled every ${where.pollMs} ms); goal p99 ≤ ${goalMs.toLocaleString('en-US')} ms at ${result.goals.recordsPerSecond.toLocaleString('en-US')} readings/s:`,
    '',
    '| point | p50 ms | p95 ms | p99 ms | max ms | alarm markers sent / unseen / upper bounds | p99 ÷ 1 s goal | goal |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...result.points.map((p) => {
      const s = p.summary;
      const c = alarmMarkerCounts(p.runs);
      const goal = alarmGoal(s, result.goals);
      return `| ${p.label} | ${formatSpread(s.alarmP50)} | ${formatSpread(s.alarmP95)} | ${formatSpread(s.alarmP99)} | ${formatSpread(s.alarmMax)} | ${c.sent} / ${c.unseen} / ${c.upperBound} | ${s.alarmP99 === undefined ? '–' : (s.alarmP99.median / goalMs).toFixed(2)} | ${goal === undefined ? '–' : `${goal.met ? '**met**' : '**not met**'}: ${goal.why}`} |`;
    }),
    '',
    ...result.points.map((p) => `${p.label}: ${alarmStagesText(p.runs)}.`),
  ];
}

/** The runs' configuration beyond the knobs (aggregation, window state, stores), when recorded. */
function setupLine(result: BenchResult): string[] {
  const setup = result.points.flatMap((p) => p.runs).find((r) => r.setup !== undefined)?.setup;
  if (setup === undefined) return [];
  return [
    '',
    `Setup: ${Object.entries(setup)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
  ];
}

/** `markdown` with the result's subsection put in (or replaced) inside the harness's section. */
export function withResultSection(markdown: string, result: BenchResult): string {
  const sub = resultSubsection(result);
  const key = `${result.workload.name}/${result.mode}`;
  let text = markdown;
  if (!text.includes(BEGIN)) text = `${text.trimEnd()}\n\n${BEGIN}\n${END}\n`;
  // The section's heading and introduction are the harness's: rewritten each time, up to the first subsection.
  const begin = text.indexOf(BEGIN) + BEGIN.length;
  const firstSub = text.indexOf('<!-- bench-harness:', begin);
  text = `${text.slice(0, begin)}\n${HEADING}\n\n${INTRO}\n${firstSub === text.indexOf(END, begin) ? '' : '\n'}${text.slice(firstSub)}`;
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END, start);
  let section = text.slice(start, end);
  const open = `<!-- bench-harness:${key} -->`;
  const close = `<!-- bench-harness:${key}:end -->`;
  const at = section.indexOf(open);
  if (at >= 0) {
    const to = section.indexOf(close, at);
    section = section.slice(0, at) + sub + section.slice(to + close.length);
  } else {
    section = `${section.trimEnd()}\n\n${sub}\n`;
  }
  return text.slice(0, start) + section + text.slice(end);
}

/** Rewrites the harness's section of the RESULTS.md file at `path` with `result`. */
export function updateResultsFile(path: string, result: BenchResult): void {
  writeFileSync(path, withResultSection(readFileSync(path, 'utf8'), result));
}
