/**
 * `shardflow responses validate|schema`, run as a user runs them: the example policies pass against
 * the example rulesets, a bad file is reported with its file, line and reason and exit 2, and the
 * JSON Schema describes a policy file.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, runCli } from '../../support/cli.ts';

const THERMO = 'specs/examples/responses/thermo-t1.yaml';

describe('shardflow responses', () => {
  it(
    'validate: the examples pass; a bad file is named with its line and reason, and the exit code is 2',
    async () => {
      const ok = await runCli([
        'responses',
        'validate',
        'specs/examples/responses',
        '--rules',
        'specs/examples/rules',
      ]);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain(`ok    ${THERMO}  thermo-t1-responses v1 (thermo-t1, 6 policies)`);
      expect(ok.stdout).toContain('ok    specs/examples/responses/meter-m2.yaml');

      const dir = mkdtempSync(join(tmpdir(), 'shardflow-responses-'));
      const bad = join(dir, 'thermo-t1.yaml');
      const text = readFileSync(THERMO, 'utf8').replace(
        'desired: { fanSpeed: high, setpoint: 4 }',
        'desired: { fanSpeed: high, defrost: true }',
      );
      writeFileSync(bad, text);
      const line = text.split('\n').findIndex((l) => l.includes('defrost: true')) + 1;
      const refused = await runCli(['responses', 'validate', bad, '--rules', 'specs/examples/rules']);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toContain(
        `error ${bad}:${line}: policies.1.remoteFix.shadow.desired.defrost: "defrost" is not in shadow.settableKeys (fanSpeed, setpoint, reportInterval)`,
      );

      // against the rulesets, an alarm that is no rule is refused; without them it is not checked
      writeFileSync(bad, readFileSync(THERMO, 'utf8').replace('- alarm: frost', '- alarm: frosty'));
      const unknownRule = await runCli(['responses', 'validate', bad, '--rules', 'specs/examples/rules']);
      expect(unknownRule.code).toBe(2);
      expect(unknownRule.stdout).toMatch(
        /:\d+: policies\.0\.alarm: no rule "frosty" in ruleset thermo-t1-rules v1/,
      );
      expect((await runCli(['responses', 'validate', bad])).code).toBe(0);

      const missing = await runCli(['responses', 'validate', join(dir, 'nope.yaml')]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('nope.yaml: no such file or directory');
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'schema: the JSON Schema of a policy file',
    async () => {
      const { code, stdout } = await runCli(['responses', 'schema']);
      expect(code).toBe(0);
      const schema = JSON.parse(stdout) as {
        required: string[];
        properties: {
          policies: { items: { properties: Record<string, unknown>; additionalProperties: boolean } };
        };
      };
      expect(schema.required).toEqual(expect.arrayContaining(['id', 'productId', 'version', 'policies']));
      expect(Object.keys(schema.properties.policies.items.properties)).toEqual([
        'alarm',
        'severities',
        'notify',
        'remind',
        'onClear',
        'remoteFix',
        'dispatch',
      ]);
      expect(schema.properties.policies.items.additionalProperties).toBe(false);
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
