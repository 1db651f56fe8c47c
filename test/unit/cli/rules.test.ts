/**
 * `shardflow rules validate|test|schema`, run as a user runs them: the example rulesets pass, a bad
 * file is reported with its file and line and exit 1, an example that no longer holds fails.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileRuleset } from '../../../operators/rules/compile/compileRuleset.ts';
import { runExamples } from '../../../operators/rules/compile/examples.ts';
import { loadRulesets } from '../../../specs/rules/loader.ts';
import { CLI_TEST_TIMEOUT_MS, runCli } from '../../support/cli.ts';

const THERMO = 'specs/examples/rules/thermo-t1.rules.yaml';

describe('rule examples', () => {
  it('every example of the example rulesets holds on the compiled rules', () => {
    const { rulesets, problems } = loadRulesets(['specs/examples/rules'], 'specs/examples');
    expect(problems).toEqual([]);
    for (const { ruleset } of rulesets) {
      const results = runExamples(ruleset, compileRuleset(ruleset));
      expect(results.length).toBeGreaterThanOrEqual(4);
      expect(results.filter((r) => !r.passed)).toEqual([]);
    }
  });

  it('an example whose expectation is wrong fails, and says what the rule said', () => {
    const text = readFileSync(THERMO, 'utf8').replace(
      '{ metrics: { temperature: 29.4 }, expect: false, clear: true }',
      '{ metrics: { temperature: 29.4 }, expect: true, clear: false }',
    );
    const dir = mkdtempSync(join(tmpdir(), 'shardflow-rules-'));
    writeFileSync(join(dir, 'r.yaml'), text);
    const { rulesets } = loadRulesets([dir]);
    const failed = runExamples(rulesets[0]!.ruleset, compileRuleset(rulesets[0]!.ruleset)).filter(
      (r) => !r.passed,
    );
    expect(failed).toEqual([
      expect.objectContaining({
        ruleId: 'overheat',
        exampleIndex: 2,
        detail: 'condition expected true, got false; clear expected false, got true',
      }),
    ]);
  });
});

describe('shardflow rules', () => {
  it(
    'validate: the examples pass; a bad file is named with its line, and the exit code is 1',
    async () => {
      const ok = await runCli(['rules', 'validate', 'specs/examples/rules', '--specs', 'specs/examples']);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(
        /^ok {4}specs\/examples\/rules\/thermo-t1\.rules\.yaml {2}thermo-t1-rules v1/m,
      );

      const dir = mkdtempSync(join(tmpdir(), 'shardflow-rules-'));
      const bad = readFileSync(THERMO, 'utf8').replace(
        'metric: humidity\n    after: 1h',
        'metric: pressure\n    after: 1h',
      );
      writeFileSync(join(dir, 'thermo.yaml'), bad);
      const line = bad.split('\n').findIndex((l) => l.includes('metric: pressure')) + 1;
      const refused = await runCli([
        'rules',
        'validate',
        join(dir, 'thermo.yaml'),
        '--specs',
        'specs/examples',
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain(
        `error ${join(dir, 'thermo.yaml')}:${line}  rules.4.metric: unknown metric "pressure"`,
      );
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'test: reports pass or fail per example with its line; a failing example exits 1',
    async () => {
      const ok = await runCli(['rules', 'test', THERMO, '--specs', 'specs/examples']);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain(
        'pass  specs/examples/rules/thermo-t1.rules.yaml:18  overheat example 1: condition true, clear false',
      );
      expect(ok.stdout).toMatch(/^13 passed, 0 failed$/m);

      const dir = mkdtempSync(join(tmpdir(), 'shardflow-rules-'));
      const text = readFileSync(THERMO, 'utf8').replace(
        '{ metrics: { temperature: -1 }, expect: true, clear: false }',
        '{ metrics: { temperature: -1 }, expect: false, clear: false }',
      );
      writeFileSync(join(dir, 'thermo.yaml'), text);
      const line = text.split('\n').findIndex((l) => l.includes('temperature: -1 }, expect: false')) + 1;
      const failing = await runCli(['rules', 'test', join(dir, 'thermo.yaml')]);
      expect(failing.code).toBe(1);
      expect(failing.stdout).toContain(
        `FAIL  ${join(dir, 'thermo.yaml')}:${line}  frost example 1: condition expected false, got true`,
      );
      expect(failing.stdout).toMatch(/^12 passed, 1 failed$/m);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'schema: prints the JSON Schema of a ruleset file',
    async () => {
      const result = await runCli(['rules', 'schema']);
      expect(result.code).toBe(0);
      const schema = JSON.parse(result.stdout) as {
        properties: Record<string, { items?: { oneOf: { properties: Record<string, unknown> }[] } }>;
        required: string[];
        $defs: Record<string, { anyOf: { required: string[] }[] }>;
      };
      expect(Object.keys(schema.properties)).toEqual(
        expect.arrayContaining(['id', 'productId', 'version', 'rules']),
      );
      expect(schema.required).toEqual(expect.arrayContaining(['id', 'productId', 'version', 'rules']));
      // condition trees are described for editors, not left as "anything"
      const threshold = schema.properties.rules!.items!.oneOf[0]!;
      expect(threshold.properties.when).toEqual({ $ref: '#/$defs/condition' });
      expect(schema.$defs.condition!.anyOf.map((branch) => branch.required[0])).toEqual([
        'metric',
        'expr',
        'all',
        'any',
        'not',
      ]);
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
