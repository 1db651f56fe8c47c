/**
 * `shardflow specs validate|test`, run as a user runs them: the bundled example cases all pass; a
 * case that no longer holds fails with the differing field; a bad case file is refused with its file
 * and line; the single-frame form still prints the telemetry or the dead letter; the case files
 * beside the specs are not taken for specs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, runCli } from '../../support/cli.ts';

const SPECS = 'specs/examples';
/** An env-h1 frame of 2026-11-22 10:30 Berlin time: 22.5 °C, 45 %, two probes. */
const ENV_H1 = 'AA550102030426112210300000E12D11026608B1083468';

function scratch(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'shardflow-cases-')), name);
  writeFileSync(file, text);
  return file;
}

describe('specs test with case files', () => {
  it(
    'every bundled example case passes',
    async () => {
      const { code, stdout, stderr } = await runCli(['specs', 'test', SPECS]);
      expect(stderr).toBe('');
      expect(stdout).not.toContain('FAIL');
      for (const spec of [
        'air-a3',
        'bin-n8',
        'door-d6',
        'env-h1',
        'hub-j4',
        'logger-c5',
        'meter-kv2',
        'meter-m2',
        'thermo-t1',
        'tracker-y3',
        'valve-k7',
      ])
        expect(stdout).toContain(`${SPECS}/${spec}.cases.yaml`);
      expect(stdout).toMatch(/\d+ cases in 11 files: \d+ passed, 0 failed/);
      expect(code).toBe(0);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'a case that does not hold fails, and the table names the differing field',
    async () => {
      const file = scratch(
        'env-h1.cases.yaml',
        [
          'now: 2026-11-22T09:31:00Z',
          'cases:',
          '  - name: humidity misread',
          `    hex: ${ENV_H1}`,
          '    expect:',
          '      - { deviceId: "01020304", metrics: { temperature: 22.5, humidity: 46, battery_low: 1, door_open: 0, mode: normal, probes: 2, probe_temperature: 21.5 } }',
          '      - { timestamp: 2026-11-22T10:30:00Z }',
          '  - name: the right reading',
          `    hex: ${ENV_H1}`,
          '    expect: [{ deviceId: "01020304" }, { deviceId: "01020304" }]',
          '  - name: taken for a bad CRC',
          `    hex: ${ENV_H1}`,
          '    deadLetter: { code: checksum-mismatch }',
        ].join('\n'),
      );
      const { code, stdout } = await runCli(['specs', 'test', '--cases', file, '--spec-dir', SPECS]);
      expect(stdout).toMatch(/FAIL {2}humidity misread/);
      expect(stdout).toContain('[0].metrics.humidity: expected 46, got 45');
      // an ISO time given in Berlin's wall-clock hour is an hour off
      expect(stdout).toContain(
        '[1].timestamp: expected 2026-11-22T10:30:00.000Z (1795343400000), got 2026-11-22T09:30:00.000Z (1795339800000)',
      );
      expect(stdout).toMatch(/pass {2}the right reading/);
      expect(stdout).toContain('outcome: expected dead letter checksum-mismatch, got 2 records');
      expect(stdout).toContain('3 cases in 1 file: 1 passed, 2 failed');
      expect(code).toBe(1);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    '--now sets the decoder’s clock: a frame passes at its time and is too old months later',
    async () => {
      const file = scratch(
        'old.cases.yaml',
        ['cases:', '  - name: a 2026 reading', `    hex: ${ENV_H1}`, '    expect: [{}, {}]'].join('\n'),
      );
      const at = await runCli([
        'specs',
        'test',
        '--cases',
        file,
        '--spec-dir',
        SPECS,
        '--now',
        '2026-11-22T09:31:00Z',
      ]);
      expect(at.code).toBe(0);
      const later = await runCli([
        'specs',
        'test',
        '--cases',
        file,
        '--spec-dir',
        SPECS,
        '--now',
        '2027-06-01T00:00:00Z',
      ]);
      expect(later.stdout).toContain('got dead letter clock-skew');
      expect(later.code).toBe(1);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'a bad case file is refused with its file and line (exit 2)',
    async () => {
      const file = scratch(
        'bad.cases.yaml',
        [
          'cases:',
          '  - name: fine',
          `    hex: ${ENV_H1}`,
          '    expect: []',
          '  - name: hex read as a number by YAML',
          '    hex: 0102',
          '    expect: []',
          '  - name: unknown code',
          `    hex: ${ENV_H1}`,
          '    deadLetter: { code: crc-wrong }',
        ].join('\n'),
      );
      const { code, stdout } = await runCli(['specs', 'test', '--cases', file, '--spec-dir', SPECS]);
      expect(stdout).toContain(`error ${file}:6  cases.1.hex: hex must be a string`);
      expect(stdout).toContain(`error ${file}:10  cases.2.deadLetter.code`);
      expect(code).toBe(2);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'the single-frame form prints the telemetry, or the dead letter with exit 1',
    async () => {
      const args = ['specs', 'test', '--spec-dir', SPECS, '--now', '2026-11-22T09:31:00Z', '--payload'];
      const good = await runCli([...args, ENV_H1]);
      expect(good.code).toBe(0);
      const telemetry = JSON.parse(good.stdout) as {
        device_id: string;
        metrics: { probe_temperature: number };
      }[];
      expect(telemetry.map((t) => [t.device_id, t.metrics.probe_temperature])).toEqual([
        ['01020304', 21.5],
        ['01020304', 22.25],
      ]);
      const bad = await runCli([...args, `${ENV_H1.slice(0, -2)}35`]);
      expect(JSON.parse(bad.stdout)).toEqual({
        deadLetter: { code: 'checksum-mismatch', reason: expect.stringContaining('crc16-modbus') },
      });
      expect(bad.code).toBe(1);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'specs validate takes no case file for a spec',
    async () => {
      const { code, stdout } = await runCli(['specs', 'validate', SPECS]);
      expect(stdout).not.toContain('cases.yaml');
      expect(stdout.trim().split('\n')).toHaveLength(11);
      expect(code).toBe(0);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'specs validate names the line of a bad key and what is allowed',
    async () => {
      const file = scratch(
        'bad.yaml',
        [
          'id: bad',
          'version: 1',
          'productId: bad',
          'match: { productId: bad }',
          'format: { type: json, fields: { ts: ts } }',
          'telemetry:',
          '  deviceId: { from: topic }',
          '  timestamp: { field: ts, kind: epoch }',
        ].join('\n'),
      );
      const { code, stdout } = await runCli(['specs', 'validate', join(file, '..')]);
      expect(stdout).toContain(
        `error ${file}:8  telemetry.timestamp.kind: "epoch" is not allowed: one of epoch-s, epoch-ms`,
      );
      expect(code).toBe(1);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'specs schema --cases prints the JSON Schema of a case file',
    async () => {
      const { code, stdout } = await runCli(['specs', 'schema', '--cases']);
      const schema = JSON.parse(stdout) as { properties: Record<string, unknown>; required: string[] };
      expect(Object.keys(schema.properties)).toEqual(['now', 'cases']);
      expect(schema.required).toEqual(['cases']);
      expect(stdout).toContain('"checksum-mismatch"');
      expect(code).toBe(0);
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
