/**
 * The harness's arithmetic and outputs: sweep parsing and points, knob refusal, percentiles and
 * spreads, the HTML report's charts, the RESULTS.md section, the remote configuration.
 */
import { describe, expect, it } from 'vitest';
import { barChartSvg, niceScale } from '../../../bench/harness/charts.ts';
import { parseSweep, pointLabel, SweepError, sweepPoints } from '../../../bench/harness/knobs.ts';
import { countingLogger, tripsPerBatch, VisibilityTracker } from '../../../bench/harness/measure.ts';
import { checkKnobs } from '../../../bench/harness/pipeline.ts';
import type { Marker, VisibilityProbe } from '../../../bench/harness/probe.ts';
import { parseRemoteConfig, RemoteConfigError } from '../../../bench/harness/remote.ts';
import { reportHtml } from '../../../bench/harness/report.ts';
import type { BenchResult, RunResult } from '../../../bench/harness/result.ts';
import { withResultSection } from '../../../bench/harness/resultsMd.ts';
import { summarizePoint } from '../../../bench/harness/runner.ts';
import { quantile, spreadOf, summarizeLatency } from '../../../bench/harness/stats.ts';
import { summaryTable } from '../../../bench/harness/summary.ts';
import { latestFiguresBlock, withLatestFigures } from '../../../bench/results.ts';
import { workloadNamed } from '../../../bench/workloads/catalog.ts';
import { ManualClock } from '../../../topology/clock.ts';

function run(rate: number, p99: number): RunResult {
  return {
    repeat: 1,
    seconds: 10,
    recordsPerSecond: { read: rate, endToEnd: rate, telemetry: rate * 1.3 },
    stages: { decode: { in: rate, out: rate * 1.3 } },
    latencyMs: { count: 50, p50: p99 / 3, p95: p99 / 1.5, p99, max: p99 * 1.2, mean: p99 / 3 },
    markers: { sent: 50, unseen: 0, store: 'hot.device_state (memory)', pollMs: 25 },
    cpu: { shardflowSeconds: 9, shardflowCores: 0.9, perMillionRecords: 20 },
    peakRssMiB: 150,
    accounting: {
      envelopes: 1,
      malformed: 0,
      expectedTelemetry: 1,
      stored: 1,
      deadLetters: 0,
      balanced: true,
    },
  };
}

/** A result of two points with three runs each, as the runner writes it. */
function sampleResult(): BenchResult {
  const points = [
    { knobs: { batch: 500 }, runs: [run(9000, 120), run(10_000, 150), run(11_000, 180)] },
    { knobs: { batch: 2000 }, runs: [run(14_000, 400), run(15_000, 450), run(12_000, 700)] },
  ];
  return {
    version: 1,
    workload: workloadNamed('fleet-100k'),
    mode: 'in-process',
    options: {
      durationSeconds: 10,
      warmupSeconds: 2,
      repeat: 3,
      sweeps: ['batch=500,2000'],
      paced: false,
      markerIntervalMs: 200,
      stores: 'in-memory Warm tables',
    },
    machine: {
      cpuModel: 'Test CPU',
      cpus: 2,
      memoryGiB: 24,
      node: 'v20',
      os: 'linux',
      loadAverage: [1, 1, 1],
      commit: 'abcdef0123456789',
      dirty: false,
    },
    startedAt: '2026-11-22T03:00:00.000Z',
    finishedAt: '2026-11-22T03:01:00.000Z',
    goals: { recordsPerSecond: 5000, p99Ms: 1000, devices: 100_000 },
    points: points.map((p) => ({
      label: pointLabel(p.knobs),
      knobs: p.knobs,
      runs: p.runs,
      summary: summarizePoint(p.runs),
    })),
  };
}

describe('sweeps', () => {
  it('parses knob=values and makes every combination, the first sweep varying slowest', () => {
    const points = sweepPoints([parseSweep('batch=500,2000,10_000'), parseSweep('maxInFlight=1, 8')]);
    expect(points).toHaveLength(6);
    expect(points[0]).toEqual({ batch: 500, maxInFlight: 1 });
    expect(points[1]).toEqual({ batch: 500, maxInFlight: 8 });
    expect(points[5]).toEqual({ batch: 10_000, maxInFlight: 8 });
    expect(pointLabel(points[5]!)).toBe('batch=10000 maxInFlight=8');
    expect(sweepPoints([])).toEqual([{}]);
  });

  it('refuses what cannot be swept, saying why', () => {
    expect(() => parseSweep('batch')).toThrow(/expected name=value/);
    expect(() => parseSweep('bogus=1')).toThrow(/unknown knob "bogus"; known: batch/);
    expect(() => parseSweep('batch=0')).toThrow(/"0" is not an integer from 1 to 10000/);
    expect(() => parseSweep('batch=5,,6')).toThrow(SweepError);
    expect(() => parseSweep('batch=5,5')).toThrow(/repeated/);
    expect(() => sweepPoints([parseSweep('batch=1'), parseSweep('batch=2')])).toThrow(/given twice/);
    // flushMs is the windows' flush interval
    expect(() => checkKnobs('in-process', { flushMs: 100 })).not.toThrow();
    expect(() => checkKnobs('remote', { shards: 4 })).toThrow(/reshard/);
    // KPL aggregation is the producer's: there is none in-process; 0 turns it off
    expect(() => checkKnobs('local-stack', { aggregateBytes: 0 })).not.toThrow();
    expect(() => checkKnobs('in-process', { aggregateBytes: 51_200 })).toThrow(/no Kinesis records/);
    expect(() => checkKnobs('remote', { coldCommitMs: 10_000 })).toThrow(/no Cold sink/);
    expect(parseSweep('aggregateBytes=0,51200').values).toEqual([0, 51_200]);
    expect(() => checkKnobs('local-stack', { batch: 500, shards: 2 })).not.toThrow();
  });
});

describe('statistics', () => {
  it('interpolates quantiles between the closest ranks', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(quantile(xs, 0.5)).toBe(5.5);
    expect(quantile(xs, 0.95)).toBeCloseTo(9.55);
    expect(quantile(xs, 0)).toBe(1);
    expect(quantile(xs, 1)).toBe(10);
    expect(quantile([], 0.5)).toBeNaN();
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(summarizeLatency(hundred)).toMatchObject({
      count: 100,
      p50: 50.5,
      p99: 99.01,
      max: 100,
      mean: 50.5,
    });
    expect(summarizeLatency([])).toBeUndefined();
  });

  it('keeps the worst latency of the markers received in each interval of the window', async () => {
    const clock = new ManualClock(1000);
    const markers: Marker[] = [
      { lane: 0, index: 0, receivedAt: 100 },
      { lane: 0, index: 1, receivedAt: 900 },
      { lane: 0, index: 2, receivedAt: 2500 },
      { lane: 0, index: 3, receivedAt: 2600 },
    ];
    let shown = 0;
    // the store shows markers in order; the test decides how many at each poll
    const probe = { visible: async (pending: readonly Marker[]) => pending.filter((m) => m.index < shown) };
    const tracker = new VisibilityTracker(probe as unknown as VisibilityProbe, () => markers, clock);
    shown = 2;
    await tracker.poll();
    await clock.advance(2000);
    shown = 3;
    await tracker.poll();
    // 120 s: 120 intervals of 1 s
    const { timeline, unseen } = tracker.latencies(0, 120_000, 4000);
    expect(unseen).toBe(1);
    expect(timeline.bucketMs).toBe(1000);
    expect(timeline.maxMs).toHaveLength(120);
    // second 0: 900 and 100 ms; second 1: none; second 2: 500 ms, and 1,400 ms for the unseen one
    expect(timeline.maxMs.slice(0, 4)).toEqual([900, null, 1400, null]);
    // at most 120 intervals, each a multiple of 100 ms
    expect(tracker.latencies(0, 300_000, 4000).timeline.bucketMs).toBe(2500);
    expect(tracker.latencies(0, 1000, 4000).timeline).toMatchObject({ bucketMs: 100 });
  });

  it("counts the worker's warnings and errors by message and passes every line on", () => {
    const seen: string[] = [];
    const record = (level: string) => (_fields: object, message: string) =>
      void seen.push(`${level} ${message}`);
    const log = countingLogger({
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    });
    log.info({}, 'lease taken');
    log.warn({ shardId: 'a' }, 'slow lease write');
    log.warn({ shardId: 'b' }, 'slow lease write');
    log.error({}, 'lease lost');
    expect(log.counts()).toEqual({ 'lease lost': 1, 'slow lease write': 2 });
    expect(seen).toEqual([
      'info lease taken',
      'warn slow lease write',
      'warn slow lease write',
      'error lease lost',
    ]);
  });

  it('takes the median and spread of runs, ignoring missing figures', () => {
    expect(spreadOf([3, 1, 2])).toMatchObject({ median: 2, min: 1, max: 3, relative: 1 });
    expect(spreadOf([4, 1, 2, 3])?.median).toBe(2.5);
    expect(spreadOf([undefined, 7, Number.NaN])).toMatchObject({ median: 7, runs: [7], relative: 0 });
    expect(spreadOf([undefined])).toBeUndefined();
  });
});

describe('report', () => {
  it('draws a throughput and a latency chart with a bar per series and point', () => {
    const html = reportHtml(sampleResult());
    expect(html.match(/<svg /g)).toHaveLength(2);
    const throughput = html.slice(html.indexOf('id="throughput"'), html.indexOf('id="latency"'));
    expect(throughput.match(/class="bar"/g)).toHaveLength(4); // 2 points × (records/s, telemetry/s)
    expect(throughput).toContain('data-value="10000"');
    const latency = html.slice(html.indexOf('id="latency"'));
    expect(latency.match(/class="bar"/g)).toHaveLength(8); // 2 points × p50, p95, p99, max
    expect(latency).toContain('goal p99 &lt; 1000 ms');
    expect(html).toContain('abcdef0123456789');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });

  it('draws latency over the run as a line per point, with a gap where no marker was received', () => {
    const result = sampleResult();
    const [first, second] = result.points;
    const withTimeline = (p: typeof first, maxMs: (number | null)[]) => ({
      ...p!,
      runs: [
        {
          ...p!.runs[0]!,
          latencyTimeline: { bucketMs: 1000, maxMs },
          eventLoopDelayMs: { p99: 40, max: 2345 },
          warnings: { 'lease lost': 1, 'slow lease write': 3 },
        },
        ...p!.runs.slice(1),
      ],
    });
    const html = reportHtml({
      ...result,
      points: [withTimeline(first, [100, 200, null, 400]), withTimeline(second, [50, 60, 70, 80])],
    });
    expect(html.match(/<svg /g)).toHaveLength(3);
    const timeline = html.slice(html.indexOf('id="latency-timeline"'));
    const paths = [...timeline.matchAll(/class="line" data-series="([^"]+)" d="([^"]+)"/g)];
    expect(paths.map((m) => m[1])).toEqual(['batch=500', 'batch=2000']);
    // the null bucket lifts the pen: two segments for the first point, one for the second
    expect(paths[0]![2]!.match(/M/g)).toHaveLength(2);
    expect(paths[1]![2]!.match(/M/g)).toHaveLength(1);
    expect(paths[1]![2]!.match(/L/g)).toHaveLength(3);
    expect(html).toContain('event loop delay of the worker process');
    expect(html).toContain('<td>2,345</td>');
    expect(html).toContain('batch=500 run 1: worker warnings: lease lost ×1, slow lease write ×3.');
  });

  it('scales axes to round numbers and escapes labels', () => {
    expect(niceScale(9300)).toEqual({ top: 10_000, step: 2000 });
    expect(niceScale(0)).toEqual({ top: 1, step: 0.25 });
    const svg = barChartSvg({
      id: 'x',
      title: 'a<b',
      unit: 'ms',
      groups: [{ label: '<p>', bars: [{ series: 's', median: 1, min: 1, max: 1 }] }],
    });
    expect(svg).toContain('a&lt;b');
    expect(svg).not.toContain('<p>');
  });

  it('reports PostgreSQL round trips per sink batch and Redis round trips per window batch', () => {
    expect(tripsPerBatch(100, 250, 50)).toBe(3);
    expect(tripsPerBatch(undefined, 250, 50)).toBeUndefined();
    expect(tripsPerBatch(100, 250, 0)).toBeUndefined();
    const result = sampleResult();
    const runs = [
      { ...run(5000, 300), roundTripsPerBatch: 0.7, redisRoundTripsPerBatch: 1.2 },
      { ...run(5000, 320), roundTripsPerBatch: 0.9, redisRoundTripsPerBatch: 1.0 },
    ];
    const summary = summarizePoint(runs);
    expect(summary.redisRoundTripsPerBatch).toMatchObject({ min: 1, max: 1.2 });
    const one = { ...result, points: [{ ...result.points[0]!, runs, summary }] };
    expect(summaryTable(one)).toContain('Redis trips/batch');
    expect(reportHtml(one)).toContain('Redis round trips per window batch');
    expect(withResultSection('# Results\n', one)).toMatch(
      /\| 0\.80 \(0\.70–0\.90\) \/ 1\.10 \(1\.00–1\.20\) \|/,
    );
  });

  it('summarises points in a table with medians, spreads and the goal ratios', () => {
    const text = summaryTable(sampleResult());
    expect(text).toContain('10,000 (9,000–11,000)');
    expect(text).toContain('batch=2000: records/s ÷ 5,000 = 2.80; p99 ÷ 1,000 ms = 0.45');
  });

  it('rewrites only its own subsection of RESULTS.md', () => {
    const original = '# Benchmark results\n\n## Decode throughput\n\nkept as is\n';
    const once = withResultSection(original, sampleResult());
    expect(once.startsWith(original.trimEnd())).toBe(true);
    expect(once).toContain('### fleet-100k, in-process');
    const changed = sampleResult();
    const twice = withResultSection(once, { ...changed, points: changed.points.slice(0, 1) });
    expect(twice.match(/### fleet-100k, in-process/g)).toHaveLength(1);
    expect(twice).not.toContain('| batch=2000 |');
    expect(twice).toContain('## Decode throughput\n\nkept as is');
    const other = withResultSection(twice, { ...changed, mode: 'local-stack' });
    expect(other).toContain('### fleet-100k, in-process');
    expect(other).toContain('### fleet-100k, local-stack');
  });
});

describe('in-run baseline', () => {
  it('carries the baseline and the ratio to it into the summary, the report and RESULTS.md', () => {
    const withBaseline = (r: RunResult, rate: number): RunResult => ({
      ...r,
      baseline: {
        name: 'raw GetRecords loop',
        description: 'plain GetRecords over the same stream',
        recordsPerSecond: rate,
        records: rate * 10,
        seconds: 10,
        ratio: r.recordsPerSecond.endToEnd / rate,
      },
    });
    const result = sampleResult();
    const runs = [withBaseline(run(5000, 300), 40_000), withBaseline(run(5000, 320), 50_000)];
    const point = { ...result.points[0]!, runs, summary: summarizePoint(runs) };
    expect(point.summary.baseline!.median).toBe(45_000);
    expect(point.summary.baselineRatio!.min).toBeCloseTo(0.1, 6);
    expect(point.summary.baselineRatio!.max).toBeCloseTo(0.125, 6);
    const one = { ...result, points: [point] };
    const text = summaryTable(one);
    expect(text).toContain('÷ baseline');
    expect(text).toContain('45,000 (40,000–50,000)');
    expect(text).toContain('0.113 (0.100–0.125)');
    expect(text).toMatch(/^baseline: raw GetRecords loop, plain GetRecords over the same stream/m);
    expect(reportHtml(one)).toContain('<td>0.113 (0.100–0.125)</td>');
    const md = withResultSection('# Results\n', one);
    expect(md).toContain('| baseline records/s | ÷ baseline |');
    expect(md).toContain('| 45,000 (40,000–50,000) | 0.113 (0.100–0.125) |');
  });
});

describe('remote configuration', () => {
  it('accepts a complete configuration and names every missing or wrong key', () => {
    const ok = parseRemoteConfig({
      region: 'eu-central-1',
      kinesis: { streamName: 'bench' },
      leases: { tableName: 'bench-leases' },
      warm: { writeUrl: 'postgres://u:p@aurora:5432/warm' },
    });
    expect(ok.produce).toBe(true);
    let error: unknown;
    try {
      parseRemoteConfig({
        kinesis: {},
        leases: { tableName: 'x' },
        warm: { writeUrl: 'mysql://x' },
        extra: 1,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RemoteConfigError);
    const message = (error as Error).message;
    expect(message).toContain('region: is required');
    expect(message).toContain('kinesis.streamName: is required');
    expect(message).toContain('leases.tableName');
    expect(message).toContain('warm.writeUrl: expected a postgres:// URL');
    expect(message).toContain('extra: unknown key');
  });
});

describe('each benchmark’s latest figures in RESULTS.md', () => {
  const heading = '## Decode throughput (`npm run bench:decode`)';
  const markdown = [
    '# Benchmark results',
    '',
    heading,
    '',
    'Earlier figures, by hand.',
    '',
    '## Next',
    '',
  ].join('\n');
  const block = (figure: string) =>
    latestFiguresBlock(
      { name: 'decode', heading, command: 'npm run bench:decode', lines: [figure] },
      'here.',
    );

  it('puts the block first in its section, then replaces only it, keeping what was written by hand', () => {
    const first = withLatestFigures(markdown, 'decode', heading, block('| hex | 700,000 |'));
    expect(first.indexOf('<!-- bench:decode -->')).toBeGreaterThan(first.indexOf(heading));
    expect(first.indexOf('<!-- bench:decode:end -->')).toBeLessThan(
      first.indexOf('Earlier figures, by hand.'),
    );
    const second = withLatestFigures(first, 'decode', heading, block('| hex | 900,000 |'));
    expect(second).toContain('| hex | 900,000 |');
    expect(second).not.toContain('| hex | 700,000 |');
    expect(second.match(/<!-- bench:decode -->/g)).toHaveLength(1);
    expect(second).toContain('Earlier figures, by hand.');
    expect(second.replace(block('| hex | 900,000 |'), '')).toBe(
      first.replace(block('| hex | 700,000 |'), ''),
    );
  });

  it('adds a section missing from the file at its end, and refuses a block without its end marker', () => {
    const added = withLatestFigures('# Benchmark results\n', 'decode', heading, block('x'));
    expect(added).toBe(`# Benchmark results\n\n${heading}\n\n${block('x')}\n`);
    expect(() =>
      withLatestFigures(`${heading}\n<!-- bench:decode -->\nx\n`, 'decode', heading, block('y')),
    ).toThrow('<!-- bench:decode --> has no <!-- bench:decode:end -->');
  });
});
