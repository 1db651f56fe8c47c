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
  it('refuses a length from a field that is not earlier, a bad repeat count and misplaced lengths, with their lines', () => {
    const text = [
      'id: bad-lengths', //  1
      'version: 1', //  2
      'productId: bad-lengths', //  3
      'match: { prefix: "AA" }', //  4
      'format:', //  5
      '  type: hex', //  6
      '  fields:', //  7
      '    - { name: name, type: ascii, lengthFrom: name_length }', //  8
      '    - { name: name_length, type: u8 }', //  9
      '    - { name: ratio, type: f32 }', // 10
      '    - { name: note, type: hex, lengthFrom: ratio }', // 11
      '    - { name: code, type: hex, lengthFrom: nowhere }', // 12
      '  repeat: { count: missing, fields: [{ name: v, type: u8 }] }', // 13
      'telemetry: { deviceId: { from: field, field: name }, timestamp: { from: ingest } }', // 14
      'contract: { deviceId: { pattern: "([", minLength: 9, maxLength: 3 } }', // 15
    ].join('\n');
    const { spec, problems } = parseSpec('bad-lengths.yaml', text);
    expect(spec).toBeUndefined();
    expect(problems.map((p) => [p.line, p.message])).toEqual(
      expect.arrayContaining([
        [8, expect.stringContaining('field name_length comes after name')],
        [11, expect.stringContaining('field ratio is a f32; a length comes from a u8, u16 or u32')],
        [12, expect.stringContaining('no field nowhere before code')],
        [13, expect.stringContaining('missing must name an integer field')],
        [15, expect.stringContaining('is not a valid regular expression')],
        [15, expect.stringContaining('minLength is above maxLength')],
      ]),
    );
  });

  it('refuses lengthFrom outside a hex frame’s fields, and an extension both kept and decoded', () => {
    const text = [
      'id: bad-kv',
      'version: 1',
      'productId: bad-kv',
      'match: { prefix: "AA" }',
      'format:',
      '  type: kv',
      '  header: [{ name: n, type: u8 }, { name: s, type: ascii, lengthFrom: n }]',
      '  keys: { "0001": { name: t, type: u32 } }',
      '  extensions:',
      '    - { keys: FE20, hex: raw, fields: [{ name: x, type: u8 }] }',
      'telemetry: { deviceId: { from: envelope }, timestamp: { field: t, kind: epoch-s } }',
    ].join('\n');
    const messages = parseSpec('bad-kv.yaml', text).problems.map((p) => [p.line, p.message]);
    expect(messages).toEqual(
      expect.arrayContaining([
        [7, expect.stringContaining('lengthFrom is read only in a hex frame’s fields')],
        [10, expect.stringContaining('give hex or fields, not both')],
      ]),
    );
  });

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
