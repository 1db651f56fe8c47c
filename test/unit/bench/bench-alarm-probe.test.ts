/**
 * The harness's alarm probe and its rules: the rulesets the rules branch runs (the examples, the
 * probe rule only for the probe's customer, refused when they do not pass the loader), the probe's
 * markers, when a marker counts as visible in the Hot store's open alarms, and the alarm figures in
 * the summary, the report and RESULTS.md with the goal met or not.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLEAR_CELSIUS, hotAlarmProbe, RAISE_CELSIUS } from '../../../bench/harness/alarmProbe.ts';
import { pointLabel } from '../../../bench/harness/knobs.ts';
import type { Marker } from '../../../bench/harness/probe.ts';
import { benchRulesets, PROBE_RULE } from '../../../bench/harness/probeRules.ts';
import { reportHtml } from '../../../bench/harness/report.ts';
import { alarmGoal, type BenchResult, GOALS, type RunResult } from '../../../bench/harness/result.ts';
import { withResultSection } from '../../../bench/harness/resultsMd.ts';
import { summarizePoint } from '../../../bench/harness/runner.ts';
import { summaryTable } from '../../../bench/harness/summary.ts';
import { workloadNamed } from '../../../bench/workloads/catalog.ts';
import { SpecRegistry } from '../../../operators/decode/registry.ts';
import { type OpenAlarm, openAlarmOf } from '../../../sinks/hot/hotStore.ts';

const SPECS = path.resolve(import.meta.dirname, '../../../specs/examples');
const PROBE_CUSTOMER = 'bench-alarm-probe';
const tmp = mkdtempSync(path.join(tmpdir(), 'bench-alarm-probe-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function exampleSpecs(dir = SPECS): SpecRegistry {
  const specs = new SpecRegistry(dir);
  specs.load();
  return specs;
}

const enabledFor = (customerId: string, productId = 'thermo-t1') =>
  benchRulesets(exampleSpecs(), PROBE_CUSTOMER)
    .get(productId)!
    .rulesFor({ deviceId: 'dev-1', siteId: 'site-1', customerId })
    .filter((r) => r.enabled)
    .map((r) => r.id);

describe('the rules branch’s rulesets', () => {
  it('runs the example rulesets, the probe rule only for the probe’s customer, which gets nothing else', () => {
    const rulesets = benchRulesets(exampleSpecs(), PROBE_CUSTOMER);
    expect([...rulesets.keys()].sort()).toEqual(['env-h1', 'meter-m2', 'thermo-t1']);
    expect(enabledFor(PROBE_CUSTOMER)).toEqual([PROBE_RULE]);
    const workload = enabledFor('customer-7');
    expect(workload).not.toContain(PROBE_RULE);
    expect(workload).toContain('overheat');
    // the example's own override stays
    expect(
      rulesets
        .get('thermo-t1')!
        .rulesFor({ deviceId: 'dev-1', siteId: null, customerId: 'customer-1' })
        .find((r) => r.id === 'overheat')?.severityRank,
    ).toBe(1);
  });

  it('refuses rulesets the loader refuses (here: products without a spec), naming the problem', () => {
    const dir = mkdtempSync(path.join(tmp, 'specs-'));
    writeFileSync(path.join(dir, 'env-h1.yaml'), readFileSync(path.join(SPECS, 'env-h1.yaml'), 'utf8'));
    expect(() => benchRulesets(exampleSpecs(dir), PROBE_CUSTOMER)).toThrow(
      /bench rulesets refused: .*no spec of product "meter-m2"/,
    );
  });
});

/** A probe over lanes whose open alarms are what `shown` holds at each poll. */
function probeOver(lanes: number) {
  const keys = Array.from({ length: lanes }, (_, i) => `bench-alarm-t-${i}`);
  const shown = new Map<string, OpenAlarm[]>();
  const probe = hotAlarmProbe('hot.open_alarms (test)', async (id) => shown.get(id) ?? [], keys);
  const sent: Marker[] = [];
  const put = (lane: number, receivedAt: number) => {
    const index = sent.filter((m) => m.lane === lane).length;
    const envelope = probe.envelope(lane, index, receivedAt);
    const marker = { lane, index, receivedAt };
    sent.push(marker);
    return { marker, envelope, reading: JSON.parse(String(envelope.payload)) };
  };
  /** The probe rule's alarm open on `lane` since `openedAt`, or none. */
  const open = (lane: number, openedAt?: number, ruleId = PROBE_RULE) =>
    shown.set(keys[lane]!, openedAt === undefined ? [] : [alarm(keys[lane]!, openedAt, ruleId)]);
  const visible = async () =>
    (await probe.visible(sent.filter((m) => !seen.has(m)))).map((m) => {
      seen.add(m);
      return `${m.lane}:${m.index}`;
    });
  const seen = new Set<Marker>();
  return { probe, put, open, visible, keys };
}

function alarm(deviceId: string, openedAt: number, ruleId: string): OpenAlarm {
  return openAlarmOf({
    id: `${ruleId}-${deviceId}-${openedAt}`,
    ruleId,
    rulesetVersion: 1,
    target: { kind: 'device', id: deviceId },
    productId: 'thermo-t1',
    customerId: PROBE_CUSTOMER,
    siteId: 'bench',
    deviceId,
    severity: 'major',
    status: 'active',
    acknowledged: false,
    latched: false,
    assignee: null,
    shelvedUntil: null,
    openedAt,
    clearedAt: null,
    closedAt: null,
    lastEventSeq: 1,
    updatedAt: openedAt,
    flapping: false,
    value: RAISE_CELSIUS,
    message: 'probe',
  });
}

describe('the alarm probe', () => {
  it('sends thermo-t1 readings of the lane’s device, raising then clearing, at device time = receivedAt, strictly increasing', () => {
    const { put, keys } = probeOver(1);
    const a = put(0, 1_000);
    const b = put(0, 1_000);
    const c = put(0, 1_500);
    expect(a.envelope).toMatchObject({ productId: 'thermo-t1', receivedAt: 1_000 });
    expect(a.reading).toEqual({
      device_id: keys[0],
      ts: 1_000,
      metrics: { temperature: RAISE_CELSIUS, humidity: 50 },
    });
    expect(b.reading.ts).toBe(1_001);
    expect(b.reading.metrics.temperature).toBe(CLEAR_CELSIUS);
    expect(c.reading).toMatchObject({ ts: 1_500, metrics: { temperature: RAISE_CELSIUS } });
    expect(RAISE_CELSIUS).toBeLessThanOrEqual(85); // the spec's contract
  });

  it('counts a raise visible when its alarm is open, and its clear once the alarm is gone after that', async () => {
    const { put, open, visible, probe } = probeOver(2);
    put(0, 1_000);
    put(1, 1_000);
    // nothing open yet: no open alarm says nothing before a raise was seen
    expect(await visible()).toEqual([]);
    open(0, 1_000);
    expect(await visible()).toEqual(['0:0']);
    put(0, 2_000); // clear
    expect(await visible()).toEqual([]);
    open(0); // gone
    expect(await visible()).toEqual(['0:1']);
    // an alarm of another rule on the device, or older than the run, shows nothing
    put(0, 3_000);
    open(0, 3_000, 'overheat');
    expect(await visible()).toEqual([]);
    open(1, 500);
    expect(await visible()).toEqual([]);
    expect(probe.upperBound({ lane: 0, index: 0, receivedAt: 1_000 })).toBe(false);
  });

  it('sees a raise cleared between two polls only through a later raise, and says so (upper bound)', async () => {
    const { put, open, visible, probe } = probeOver(1);
    const raise = put(0, 1_000).marker;
    const clear = put(0, 2_000).marker;
    // raised and cleared between polls: nothing shows
    expect(await visible()).toEqual([]);
    put(0, 3_000);
    open(0, 3_000);
    expect(await visible()).toEqual(['0:0', '0:1', '0:2']);
    expect(probe.upperBound(raise)).toBe(true);
    expect(probe.upperBound(clear)).toBe(true);
    expect(probe.upperBound({ lane: 0, index: 2, receivedAt: 3_000 })).toBe(false);
  });
});

function runWithAlarms(rate: number, alarmP99: number, unseen = 0): RunResult {
  const summary = {
    count: 60,
    p50: alarmP99 / 3,
    p95: alarmP99 / 1.2,
    p99: alarmP99,
    max: alarmP99 * 1.1,
    mean: 1,
  };
  return {
    repeat: 1,
    seconds: 60,
    recordsPerSecond: { read: rate, endToEnd: rate, telemetry: rate * 1.3 },
    stages: {
      rules: { in: rate, out: 4, batchMs: 7 },
      'alarm-events': { in: 4, out: 0, batchMs: alarmP99 / 2 },
      'hot-telemetry': { in: rate, out: 0, batchMs: 180 },
    },
    latencyMs: { ...summary, p99: 500 },
    markers: { sent: 1200, unseen: 0, store: 'hot.device_state (PostgreSQL)', pollMs: 100 },
    alarms: {
      latencyMs: summary,
      markers: { sent: 240, unseen, upperBound: 2, store: 'hot.open_alarms (PostgreSQL)', pollMs: 100 },
    },
    cpu: { shardflowSeconds: 30, shardflowCores: 0.5, perMillionRecords: 100 },
    peakRssMiB: 600,
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

function resultOf(runs: RunResult[][]): BenchResult {
  return {
    version: 1,
    workload: workloadNamed('fleet-100k'),
    mode: 'local-stack',
    options: {
      durationSeconds: 60,
      warmupSeconds: 10,
      repeat: runs[0]!.length,
      sweeps: ['batch=500,2000'],
      paced: true,
      markerIntervalMs: 200,
      alarmMarkerIntervalMs: 1000,
      stores: 'Hot and Warm on PostgreSQL',
    },
    machine: {
      cpuModel: 'Test CPU',
      cpus: 2,
      memoryGiB: 24,
      node: 'v20',
      os: 'linux',
      loadAverage: [3, 2, 1],
      commit: 'abcdef0123456789',
      dirty: false,
    },
    startedAt: '2026-12-07T12:00:00.000Z',
    finishedAt: '2026-12-07T12:02:00.000Z',
    goals: GOALS,
    points: runs.map((r, i) => {
      const knobs = { batch: i === 0 ? 500 : 2000 };
      return { label: pointLabel(knobs), knobs, runs: r, summary: summarizePoint(r) };
    }),
  };
}

describe('the alarm figures in the outputs', () => {
  const result = resultOf([
    [runWithAlarms(5_000, 700), runWithAlarms(4_990, 800), runWithAlarms(5_010, 900)],
    [runWithAlarms(5_000, 1_600), runWithAlarms(4_000, 1_200), runWithAlarms(5_000, 1_400)],
  ]);

  it('meets the goal only with p99 within it, at the goal’s rate and every marker seen', () => {
    const [met, missed] = result.points.map((p) => alarmGoal(p.summary, result.goals));
    expect(met).toEqual({ met: true, why: 'p99 800 ms at 5,000 records/s' });
    expect(missed).toEqual({ met: false, why: 'p99 1,400 ms > 1,000 ms' });
    const slow = resultOf([[runWithAlarms(4_000, 500)]]);
    expect(alarmGoal(slow.points[0]!.summary, slow.goals)?.why).toBe(
      '4,000 records/s, below 97 % of 5,000/s',
    );
    const unseen = resultOf([[runWithAlarms(5_000, 500, 3)]]);
    expect(alarmGoal(unseen.points[0]!.summary, unseen.goals)?.met).toBe(false);
  });

  it('puts p50/p95/p99/max, the markers and the goal in the summary, the report and RESULTS.md', () => {
    const text = summaryTable(result);
    expect(text).toContain('reading → open alarm visible in the Hot store (hot.open_alarms (PostgreSQL)');
    expect(text).toContain(
      'batch=500: p50 267 (233–300), p95 667 (583–750), p99 800 (700–900), max 880 (770–990); markers 720 sent, 0 unseen, 6 seen only through a later raise (upper bounds); mean ms per batch: rules 7 (7–7), alarm-events 400 (350–450) (hot-telemetry 180 (180–180))',
    );
    expect(text).toMatch(
      /batch=2000: reading → open alarm p99 ÷ 1,000 ms = 1\.40; goal .*: not met \(p99 1,400 ms > 1,000 ms\)/,
    );
    const html = reportHtml(result);
    expect(html).toContain('id="alarm-latency"');
    expect(html).toContain('<td>met: p99 800 ms at 5,000 records/s</td>');
    const md = withResultSection('# Results\n', result);
    expect(md).toContain(
      '| batch=500 | 267 (233–300) | 667 (583–750) | 800 (700–900) | 880 (770–990) | 720 / 0 / 6 | 0.80 | **met**: p99 800 ms at 5,000 records/s |',
    );
    expect(md).toContain('| batch=2000 | 467 (400–533) |');
    expect(md).toContain('batch=2000: mean ms per batch: rules 7 (7–7), alarm-events 700 (600–800)');
    // a result without the rules branch writes no alarm table
    const without = resultOf([[{ ...runWithAlarms(5_000, 500), alarms: undefined }]]);
    expect(withResultSection('# Results\n', without)).not.toContain('open alarm visible');
    expect(summaryTable(without)).not.toContain('open alarm');
  });
});
