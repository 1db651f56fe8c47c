/**
 * Spec lifecycle and the tools for spec authors: errors with file and line, reload without a
 * restart (an invalid change keeps the previous version), `shardflow specs validate|test|schema`.
 */
import { copyFileSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecRegistry } from '../../../../operators/decode/registry.ts';
import { parseSpec } from '../../../../specs/loader.ts';
import { CLI_TEST_TIMEOUT_MS, runCli } from '../../../support/cli.ts';
import { bcdNowInBerlin, envH1Frame } from './fixtures.ts';

const EXAMPLE = 'specs/examples/thermo-t1.yaml';

function specDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-specs-'));
  copyFileSync(EXAMPLE, join(dir, 'thermo-t1.yaml'));
  return dir;
}

describe('spec files', () => {
  it('reports a bad spec with its file, line and the problem', () => {
    const text = readFileSync(EXAMPLE, 'utf8')
      .replace('kind: epoch-ms', 'kind: epoch-minutes')
      .replace('min: -40', 'minimum: -40');
    const { spec, problems } = parseSpec('thermo.yaml', text);
    expect(spec).toBeUndefined();
    const lines = text.split('\n');
    const kindLine = lines.findIndex((l) => l.includes('epoch-minutes')) + 1;
    const minLine = lines.findIndex((l) => l.includes('minimum')) + 1;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          file: 'thermo.yaml',
          line: kindLine,
          message: expect.stringContaining('telemetry.timestamp'),
        }),
        expect.objectContaining({ line: minLine, message: expect.stringContaining('unknown key "minimum"') }),
      ]),
    );
    expect(parseSpec('broken.yaml', 'id: [unclosed\n').problems[0]?.message).toContain('not valid YAML');
  });

  it('takes a changed spec without a restart, and keeps the previous version when the change is invalid', () => {
    const dir = specDir();
    const file = join(dir, 'thermo-t1.yaml');
    const registry = new SpecRegistry(dir);
    expect(registry.load()).toEqual([]);
    expect(registry.specs.map((s) => s.spec.version)).toEqual([1]);

    writeFileSync(file, readFileSync(file, 'utf8').replace('version: 1', 'version: 2'));
    expect(registry.load()).toEqual([]);
    expect(registry.specs.map((s) => s.spec.version)).toEqual([2]);

    writeFileSync(file, readFileSync(file, 'utf8').replace('version: 2', 'version: three'));
    const problems = registry.load();
    expect(problems[0]).toMatchObject({ file, message: expect.stringContaining('version') });
    expect(registry.specs.map((s) => s.spec.version)).toEqual([2]);

    // an unknown time zone is refused at compile time, also keeping the version in force
    writeFileSync(
      file,
      readFileSync(EXAMPLE, 'utf8')
        .replace('version: 1', 'version: 4')
        .replace('kind: epoch-ms', 'kind: local, zone: Mars/Olympus'),
    );
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(registry.load()[0]?.message).toContain('unknown time zone');
    expect(registry.specs.map((s) => s.spec.version)).toEqual([2]);
  });
});

describe('shardflow specs', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('validate lists each spec and exits 1 naming file and line of a bad one', async () => {
    const ok = await runCli(['specs', 'validate', 'specs/examples']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('env-h1 v1 (hex)');
    const dir = specDir();
    writeFileSync(
      join(dir, 'bad.yaml'),
      'id: bad\nversion: 1\nproductId: x\nmatch: {}\nformat: { type: json, fields: {} }\n',
    );
    const bad = await runCli(['specs', 'validate', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/error .*bad\.yaml:4 {2}match: give at least one of productId, topic, prefix/);
  });

  it('test prints the telemetry of a frame, or its dead-letter reason', async () => {
    const frame = Buffer.from(envH1Frame(bcdNowInBerlin())).toString('hex');
    const decoded = await runCli(['specs', 'test', '--spec-dir', 'specs/examples', '--payload', frame]);
    expect(decoded.stderr).toBe('');
    expect(decoded.code).toBe(0);
    const out = JSON.parse(decoded.stdout);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({
      device_id: '01020304',
      productId: 'env-h1',
      metrics: { temperature: 22.5, mode: 'normal' },
    });

    const bad = Buffer.from(envH1Frame('261122103000', true)).toString('hex');
    const refused = await runCli(['specs', 'test', '--spec-dir', 'specs/examples', '--payload', bad]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).deadLetter.code).toBe('checksum-mismatch');

    const json = JSON.stringify({
      device_id: 'dev-1',
      ts: Date.now(),
      metrics: { temperature: 20, humidity: 50 },
    });
    const viaTopic = await runCli([
      'specs',
      'test',
      '--spec-dir',
      'specs/examples',
      '--product',
      'thermo-t1',
      '--topic',
      'devices/dev-1/telemetry',
      '--payload',
      Buffer.from(json).toString('hex'),
    ]);
    expect(viaTopic.code).toBe(0);
    expect(JSON.parse(viaTopic.stdout)[0]).toMatchObject({
      device_id: 'dev-1',
      metrics: { temperature: 20, humidity: 50 },
    });
  });

  it('schema prints a JSON Schema for editors', async () => {
    const result = await runCli(['specs', 'schema']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).properties.format).toBeDefined();
  });
});
