/**
 * The harness's local stack end to end (kinesalite and dynalite, Redis, PostgreSQL and the Cold
 * table on disk, all started by the harness): a short run of the smoke workload through the
 * KPL-aggregating producer reaches every store, the Hot store shows every latency marker, the rules
 * branch raises and clears the alarm probe's alarms in the Hot store's open alarms, the stores account
 * for every record sent, and the raw GetRecords loop over the same stream gives the baseline.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../../bench/harness/result.ts';
import { runCli } from '../support/cli.ts';

const out = mkdtempSync(path.join(tmpdir(), 'bench-local-stack-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** `shardflow bench …args`, with throwaway servers of its own: the test services' URLs are not handed over. */
const harness = (args: string[]) =>
  runCli(['bench', ...args], {
    SHARDFLOW_BENCH_POSTGRES_URL: undefined,
    SHARDFLOW_BENCH_REDIS_URL: undefined,
  });

describe('shardflow bench run --mode local-stack', () => {
  it('runs the workload through every store, reads the latency from the Hot store and measures the raw loop', async () => {
    const { code, stdout, stderr } = await harness([
      'run',
      ...['--workload', 'smoke', '--mode', 'local-stack'],
      ...[
        '--duration',
        '4',
        '--warmup',
        '2',
        '--repeat',
        '1',
        '--marker-ms',
        '200',
        '--alarm-marker-ms',
        '400',
      ],
      ...['--no-progress', '--out', out],
    ]);
    expect(stderr).not.toMatch(/benchmark run failed/);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^baseline: raw GetRecords loop/m);

    const result = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as BenchResult;
    const r = result.points[0]!.runs[0]!;
    expect(r.error).toBeUndefined();
    expect(r.setup).toMatchObject({
      aggregateBytes: 51_200,
      windowState: 'redis',
      hot: 'postgresql',
      cold: 'iceberg on disk, jdbc catalog',
      rules: 'example rulesets and the alarm probe rule',
    });
    // aggregation: fewer Kinesis records than user records, unpacked by the worker
    expect(r.recordsPerSecond.kinesisRecords).toBeLessThan(r.recordsPerSecond.read);
    expect(r.stages['kpl-deaggregation']!.out).toBeGreaterThan(r.stages['kpl-deaggregation']!.in);
    // every store of the local stack got records
    for (const node of [
      'hot-telemetry',
      'hot-aggregates',
      'daily-aggregates',
      'cold-telemetry',
      'alarm-events',
    ])
      expect(r.stages[node]!.in, node).toBeGreaterThan(0);
    // latency read from the Hot store on PostgreSQL, every marker seen
    expect(r.markers.store).toBe('hot.device_state (PostgreSQL)');
    expect(r.markers.sent).toBeGreaterThan(0);
    expect(r.markers.unseen).toBe(0);
    expect(r.latencyMs!.p50).toBeLessThanOrEqual(r.latencyMs!.p99);
    // reading → open alarm: the Hot store's open alarms of the alarm lanes' devices showed each
    // raise and clear of the probe rule
    expect(r.stages.rules!.in).toBeGreaterThan(0);
    expect(r.alarms!.markers.store).toBe('hot.open_alarms (PostgreSQL)');
    expect(r.alarms!.markers.sent).toBeGreaterThanOrEqual(4);
    expect(r.alarms!.markers.unseen).toBe(0);
    // how many were seen only through a later raise depends on the machine's load: only bounded
    expect(r.alarms!.markers.upperBound).toBeLessThanOrEqual(r.alarms!.markers.sent);
    expect(r.alarms!.latencyMs!.count).toBe(r.alarms!.markers.sent);
    expect(r.alarms!.latencyMs!.p50).toBeLessThanOrEqual(r.alarms!.latencyMs!.p99);
    expect(stdout).toMatch(/^reading → open alarm visible in the Hot store/m);
    expect(stdout).toMatch(/goal p99 ≤ 1,000 ms at 5,000 readings\/s: (met|not met)/);
    // the stores account for every record the producer put
    expect(r.accounting.envelopes).toBeGreaterThan(0);
    expect(r.accounting.balanced).toBe(true);
    // CPU of each process the harness started, and the baseline over the same stream
    expect(r.cpu.emulators!.seconds).toBeGreaterThan(0);
    expect(r.cpu.producer!.seconds).toBeGreaterThan(0);
    expect(r.cpu.postgres!.seconds).toBeGreaterThan(0);
    expect(r.cpu.redis).toBeDefined();
    expect(r.baseline!.name).toBe('raw GetRecords loop');
    expect(r.baseline!.records).toBeGreaterThanOrEqual(r.accounting.envelopes);
    expect(r.baseline!.ratio).toBeCloseTo(r.recordsPerSecond.endToEnd / r.baseline!.recordsPerSecond, 6);
    expect(r.limit).toMatch(/shardflow \d/);
  });
});
