/**
 * `shardflow formulas validate|test|schema`, run as a user runs them, and the pieces behind
 * `export` and `recompute` that need no database: the example formulas validate and their examples
 * pass; each kind of bad version is refused with its file, line and reason; an example that no
 * longer holds fails; an exported file loads back as the versions it came from.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchesExpected, runFormulaExamples } from '../../../cli/commands/formulaExamples.ts';
import { formulaFileText } from '../../../cli/commands/formulaFile.ts';
import { differenceTable, parseDay, recomputeRange } from '../../../cli/commands/formulaRecompute.ts';
import type { StoredFormula } from '../../../sinks/formulas/index.ts';
import { checkFormulaSet, loadFormulaFiles, parseFormulaFile } from '../../../specs/formulas/loader.ts';
import { CLI_TEST_TIMEOUT_MS, runCli } from '../../support/cli.ts';

const EXAMPLES = 'specs/examples/formulas';
const METER = `${EXAMPLES}/meter-m2.formulas.yaml`;
const DAY = 86_400_000;

function scratch(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'shardflow-formulas-')), name);
  writeFileSync(file, text);
  return file;
}

/** The line (1-based) of the first line of `text` that contains `marker`. */
function lineOf(text: string, marker: string): number {
  const line = text.split('\n').findIndex((l) => l.includes(marker)) + 1;
  expect(line, marker).toBeGreaterThan(0);
  return line;
}

describe('formula examples', () => {
  it('the example formulas of the demo products validate against their specs, and every example holds', () => {
    const { formulas, problems } = loadFormulaFiles([EXAMPLES], 'specs/examples');
    expect(problems).toEqual([]);
    expect(checkFormulaSet(formulas)).toEqual([]);
    expect(new Set(formulas.map((l) => l.formula.productId))).toEqual(
      new Set(['meter-m2', 'thermo-t1', 'air-a3']),
    );
    const results = formulas.flatMap((l) => runFormulaExamples(l.formula));
    expect(results.length).toBeGreaterThanOrEqual(10);
    expect(results.filter((r) => !r.passed)).toEqual([]);
    // expect: null is an example of no result, and says why
    expect(results.find((r) => r.formula.id === 'load-factor' && r.exampleIndex === 1)?.detail).toMatch(
      /^no result \(the result is not a number/,
    );
  });

  it('compares after the version’s rounding, else within a tiny relative tolerance', () => {
    expect(matchesExpected(0.25, { value: 0.25 }, 3)).toBe(true);
    // with decimals the expected value is rounded the same way as the result
    expect(matchesExpected(12.3456, { value: 12.346 }, 3)).toBe(true);
    expect(matchesExpected(12.345, { value: 12.344 }, 3)).toBe(false);
    // without decimals: 0.1 + 0.2 is 0.3, 1e12 + 1 is not 1e12 + 2
    expect(matchesExpected(0.3, { value: 0.1 + 0.2 })).toBe(true);
    expect(matchesExpected(1e15, { value: 1e15 + 0.5 })).toBe(true);
    expect(matchesExpected(1, { value: 1.000001 })).toBe(false);
    expect(matchesExpected(null, { reason: 'NaN' })).toBe(true);
    expect(matchesExpected(null, { value: 0 })).toBe(false);
    expect(matchesExpected(0, { reason: 'NaN' })).toBe(false);
  });

  it('evaluates a variable that reads another formula with the value the example gives it', () => {
    const { formulas } = loadFormulaFiles([METER]);
    const cost = formulas.find((l) => l.formula.id === 'energy-cost' && l.formula.version === 2)!;
    expect(runFormulaExamples(cost.formula)).toEqual([
      expect.objectContaining({ passed: true, detail: '9' }),
    ]);
    const wrong = {
      ...cost.formula,
      examples: [
        { inputs: { kwh: 36 }, expect: 10 },
        { inputs: { kwh: 36 }, expect: null },
      ],
    };
    expect(runFormulaExamples(wrong).map((r) => r.detail)).toEqual([
      'expected 10, got 9',
      'expected no result, got 9',
    ]);
  });
});

describe('formulas export', () => {
  it('writes the stored entries, keys in the schema’s order, with their status; the file loads back as they were', () => {
    const { formulas } = loadFormulaFiles([EXAMPLES]);
    // jsonb gives keys back by length, then bytes; the status is the stored one
    const shuffle = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(shuffle)
        : typeof v === 'object' && v !== null
          ? Object.fromEntries(
              Object.entries(v)
                .sort(([a], [b]) => a.length - b.length || (a < b ? -1 : 1))
                .map(([k, x]) => [k, shuffle(x)]),
            )
          : v;
    const stored: StoredFormula[] = formulas.map((l, i) => ({
      formula: { ...l.formula, status: i === 0 ? 'retired' : l.formula.status },
      definition: shuffle(l.definition),
      importedAt: 0,
      updatedAt: 0,
    }));
    const text = formulaFileText(stored, ' exported');
    expect(text).toContain(
      '  - id: mean-power-kw\n    version: 1\n    productId: meter-m2\n    expression: p / 1000\n    variables:\n      p: { metric: power, stat: mean }\n',
    );
    expect(text).toContain('    targets: [ cust-002 ]\n');
    expect(text).toContain('      - { inputs: { mean_w: 0, peak_w: 0 }, expect: null }\n');
    const back = parseFormulaFile('exported.yaml', text);
    expect(back.problems).toEqual([]);
    expect(back.formulas.map((l) => l.formula)).toEqual(stored.map((s) => s.formula));
    expect(back.formulas[0]!.formula.status).toBe('retired');
  });
});

describe('formulas recompute: days and table', () => {
  const now = Date.parse('2026-12-07T18:03:55Z');

  it('defaults to the 30 days ending yesterday; --to is included; days are UTC', () => {
    expect(recomputeRange({}, now)).toEqual({
      from: Date.parse('2026-11-07T00:00:00Z'),
      to: Date.parse('2026-12-07T00:00:00Z'),
    });
    expect(recomputeRange({ from: parseDay('2026-12-01'), to: parseDay('2026-12-03') }, now)).toEqual({
      from: Date.parse('2026-12-01T00:00:00Z'),
      to: Date.parse('2026-12-04T00:00:00Z'),
    });
    expect(recomputeRange({ from: parseDay('2026-12-01') }, now).to).toBe(Date.parse('2026-12-07T00:00:00Z'));
    expect(recomputeRange({ to: parseDay('2026-10-31') }, now)).toEqual({
      from: Date.parse('2026-10-02T00:00:00Z'),
      to: Date.parse('2026-11-01T00:00:00Z'),
    });
    expect(() => recomputeRange({ from: parseDay('2026-12-07') }, now)).toThrow(
      /ends yesterday \(2026-12-06\)/,
    );
    expect(() => recomputeRange({ from: parseDay('2026-12-05'), to: parseDay('2026-12-04') }, now)).toThrow(
      '--from 2026-12-05 is after --to 2026-12-04',
    );
    for (const bad of ['2026-02-30', '2026-1-01', 'yesterday', '2026-12-01T00:00:00Z'])
      expect(() => parseDay(bad), bad).toThrow('expected a day, YYYY-MM-DD (UTC)');
  });

  it('prints a row per day and a total', () => {
    const d0 = Date.parse('2026-12-01T00:00:00Z');
    const table = differenceTable([
      { dayStart: d0, results: 2, withoutValue: 0, added: 2, changed: 0, maxAbsDelta: 0 },
      { dayStart: d0 + DAY, results: 2, withoutValue: 1, added: 0, changed: 2, maxAbsDelta: 1 / 3 },
    ]);
    expect(table.split('\n')).toEqual([
      'DAY         RESULTS  WITHOUT VALUE  NEW  CHANGED  MAX |Δ|',
      '2026-12-01  2        0              2    0        -',
      '2026-12-02  2        1              0    2        0.333333',
      'total       4        1              2    2        0.333333',
    ]);
  });
});

/** One version per line, each refused for one reason; the reasons' texts as `formulas validate` gives them. */
const BAD = [
  [
    'unknown-variable',
    'expression: "p + q", variables: { p: { metric: power, stat: mean } }',
    'expression: `q`: unknown variable "q"',
  ],
  [
    'property-access',
    'expression: "a.b", variables: { a: { metric: power, stat: mean } }',
    'expression: `a.b`: property or index access is not allowed',
  ],
  [
    'function-definition',
    'expression: "f(x) = x"',
    'expression: `f(x) = x`: defining a function is not allowed',
  ],
  ['assignment', 'expression: "x = 3"', 'expression: `x = 3`: assignment is not allowed'],
  ['matrix', 'expression: "[1, 2]"', 'expression: `[1, 2]`: matrices and lists are not allowed'],
  [
    'import-call',
    'expression: "import(p)", variables: { p: { metric: power, stat: mean } }',
    'expression: `import(p)`: the function "import" is not allowed',
  ],
  [
    'zeros-call',
    'expression: "zeros(5000, 5000)"',
    'expression: `zeros(5000, 5000)`: the function "zeros" is not allowed',
  ],
  [
    'cycle-a',
    'expression: "b * 2", variables: { b: { formula: cycle-b } }',
    'variables.b.formula: formula cycle-a depends on itself through cycle-b',
  ],
  [
    'cycle-b',
    'expression: "a / 2", variables: { a: { formula: cycle-a } }',
    'variables.a.formula: formula cycle-b depends on itself through cycle-a',
  ],
  [
    'missing-ref',
    'expression: "n + 1", variables: { n: { formula: nowhere } }',
    'variables.n.formula: product meter-m2 has no formula "nowhere"',
  ],
  [
    'scoped-product',
    'scope: product, targets: [cust-001], expression: "p", variables: { p: { metric: power, stat: mean } }',
    'targets: a product-scoped formula has no targets',
  ],
  [
    'unknown-metric',
    'expression: "v", variables: { v: { metric: voltage, stat: mean } }',
    'variables.v.metric: product meter-m2 has no metric "voltage"',
  ],
] as const;

describe('shardflow formulas', () => {
  it(
    'validate: the examples pass; each bad version is named with its file, line and reason, and the exit code is 1',
    async () => {
      const ok = await runCli(['formulas', 'validate', EXAMPLES, '--specs', 'specs/examples']);
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain(`ok    ${METER}  energy-cost v2 (meter-m2, customer)`);
      expect(ok.stdout.trim().split('\n')).toHaveLength(9);

      const text = `formulas:\n${BAD.map(([id, rest]) => `  - { id: ${id}, version: 1, productId: meter-m2, ${rest} }\n`).join('')}`;
      const file = scratch('bad.formulas.yaml', text);
      const refused = await runCli(['formulas', 'validate', file, '--specs', 'specs/examples']);
      expect(refused.code).toBe(1);
      const errors = refused.stdout.trim().split('\n');
      expect(errors).toHaveLength(BAD.length);
      for (const [id, , reason] of BAD)
        expect(errors).toContainEqual(
          expect.stringContaining(`error ${file}:${lineOf(text, `id: ${id},`)}: formula ${id}: ${reason}`),
        );
      // nothing is "ok": the cycle and the missing reference are errors of the set
      expect(refused.stdout).not.toMatch(/^ok/m);

      // without --specs the metrics are not checked
      const unchecked = await runCli(['formulas', 'validate', file]);
      expect(unchecked.code).toBe(1);
      expect(unchecked.stdout).not.toContain('voltage');

      const missing = await runCli(['formulas', 'validate', join(tmpdir(), 'no-such-formulas.yaml')]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('no-such-formulas.yaml: no such file or directory');
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'test: reports pass or fail per example with its line; a failing example exits 1',
    async () => {
      const ok = await runCli(['formulas', 'test', EXAMPLES]);
      expect(ok.code).toBe(0);
      const meter = readFileSync(METER, 'utf8');
      expect(ok.stdout).toContain(
        `pass  ${METER}:${lineOf(meter, '{ p: 1500 }')}  mean-power-kw v1 example 1: 1.5`,
      );
      expect(ok.stdout).toContain(
        `pass  ${METER}:${lineOf(meter, '{ mean_w: 0, peak_w: 0 }')}  load-factor v1 example 2: no result (the result is not a number`,
      );
      expect(ok.stdout).toMatch(/^14 passed, 0 failed$/m);

      const text = meter
        .replace('{ inputs: { p: 12345.6 }, expect: 12.346 }', '{ inputs: { p: 12345.6 }, expect: 12.345 }')
        .replace(
          '{ inputs: { mean_w: 0, peak_w: 0 }, expect: null }',
          '{ inputs: { mean_w: 0, peak_w: 0 }, expect: 0 }',
        );
      const file = scratch('meter.formulas.yaml', text);
      const failing = await runCli(['formulas', 'test', file]);
      expect(failing.code).toBe(1);
      expect(failing.stdout).toContain(
        `FAIL  ${file}:${lineOf(text, 'expect: 12.345')}  mean-power-kw v1 example 2: expected 12.345, got 12.346`,
      );
      expect(failing.stdout).toContain(
        `FAIL  ${file}:${lineOf(text, 'peak_w: 0 }, expect: 0')}  load-factor v1 example 2: expected 0, got no result (`,
      );
      expect(failing.stdout).toMatch(/^5 passed, 2 failed$/m);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'schema: prints the JSON Schema of a formula file',
    async () => {
      const result = await runCli(['formulas', 'schema']);
      expect(result.code).toBe(0);
      const schema = JSON.parse(result.stdout) as {
        required: string[];
        properties: {
          formulas: { items: { required: string[]; properties: Record<string, Record<string, unknown>> } };
        };
      };
      expect(schema.required).toEqual(['formulas']);
      const entry = schema.properties.formulas.items;
      expect(entry.required).toEqual(['id', 'version', 'productId', 'expression']);
      expect(entry.properties.scope).toMatchObject({ enum: ['device', 'customer', 'product'] });
      // a day or a time as text, not "anything"
      expect(entry.properties.effectiveFrom).toMatchObject({ type: 'string' });
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
