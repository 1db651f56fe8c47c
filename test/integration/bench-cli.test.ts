/**
 * The harness end to end as `shardflow bench` runs it (its entry point in a process of its own): a
 * short in-process sweep writes a result file with every point and run, figures that hang together,
 * stores that account for every record sent and the in-run baseline; a knob the topology would
 * ignore is refused, and so is the remote mode without its configuration.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../../bench/harness/result.ts';
import { runCli } from '../support/cli.ts';

const out = mkdtempSync(path.join(tmpdir(), 'bench-cli-'));

/** `shardflow bench …args`. */
const harness = (args: string[]) => runCli(['bench', ...args]);

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('shardflow bench run (in-process)', () => {
  it('runs a sweep and writes result.json and report.html with every point and run', async () => {
    const { code, stdout, stderr } = await harness([
      'run',
      '--workload',
      'smoke',
      '--duration',
      '2',
      '--warmup',
      '1',
      '--repeat',
      '2',
      '--sweep',
      'batch=100,400',
      '--marker-ms',
      '100',
      '--out',
      out,
    ]);
    expect(stderr).toContain('100%');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^batch=100 /m);
    expect(stdout).toMatch(/^batch=400 /m);
    expect(existsSync(path.join(out, 'report.html'))).toBe(true);

    const result = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as BenchResult;
    expect(result.mode).toBe('in-process');
    expect(result.workload.name).toBe('smoke');
    expect(result.machine.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(result.points.map((p) => p.knobs)).toEqual([{ batch: 100 }, { batch: 400 }]);
    for (const point of result.points) {
      expect(point.runs).toHaveLength(2);
      for (const r of point.runs) {
        expect(r.error).toBeUndefined();
        expect(r.recordsPerSecond.endToEnd).toBeGreaterThan(0);
        // hub and CSV envelopes carry several records each
        expect(r.recordsPerSecond.telemetry).toBeGreaterThan(r.recordsPerSecond.endToEnd);
        expect(r.stages.decode!.in).toBeCloseTo(r.recordsPerSecond.read, 0);
        expect(r.latencyMs!.count).toBeGreaterThan(0);
        expect(r.latencyMs!.p50).toBeLessThanOrEqual(r.latencyMs!.p99);
        expect(r.latencyMs!.p99).toBeLessThanOrEqual(r.latencyMs!.max);
        expect(r.markers.unseen).toBe(0);
        expect(r.markers.store).toBe('hot.device_state (memory)');
        // the in-run baseline: a pass-through topology over the same workload, faster than the whole
        expect(r.baseline!.name).toBe('pass-through topology');
        expect(r.baseline!.recordsPerSecond).toBeGreaterThan(0);
        expect(r.baseline!.ratio).toBeCloseTo(r.recordsPerSecond.endToEnd / r.baseline!.recordsPerSecond, 6);
        expect(r.cpu.perMillionRecords).toBeGreaterThan(0);
        expect(r.peakRssMiB).toBeGreaterThan(20);
        expect(r.accounting.balanced).toBe(true);
        expect(r.accounting.deadLetters).toBe(r.accounting.malformed);
      }
      expect(point.summary.endToEnd!.runs).toHaveLength(2);
      expect(point.summary.endToEnd!.min).toBeLessThanOrEqual(point.summary.endToEnd!.median);
      expect(point.summary.baselineRatio!.runs).toHaveLength(2);
    }
    expect(stdout).toMatch(/^baseline: pass-through topology/m);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('<th>÷ baseline</th>');
  });

  it('refuses the remote mode without its configuration, naming the option, with exit code 2', async () => {
    const { code, stderr } = await harness(['run', '--workload', 'smoke', '--mode', 'remote', '--out', out]);
    expect(code).toBe(2);
    expect(stderr).toContain('--mode remote needs --remote-config FILE');
  });

  it('refuses a knob it does not know, with exit code 2', async () => {
    const { code, stderr } = await harness([
      'run',
      '--workload',
      'smoke',
      '--sweep',
      'bogus=1',
      '--out',
      out,
    ]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown knob "bogus"; known: batch/);
  });
});
