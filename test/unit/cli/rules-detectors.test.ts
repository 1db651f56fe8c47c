/**
 * `shardflow rules validate` on detector parameters, run as a user runs it: a parameter the rule's
 * detector refuses is an error with the file, the line and the ruleset's key, naming the rule.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, runCli } from '../../support/cli.ts';

describe('shardflow rules validate: detector parameters', () => {
  it(
    'refuses a robust-z window the detector cannot hold, with the file, line and key',
    async () => {
      const bad = readFileSync('specs/examples/rules/thermo-t1.rules.yaml', 'utf8').replace(
        '{ method: robust-z, window: 120, threshold: 4 }',
        '{ method: robust-z, window: 4096, threshold: 4 }',
      );
      const dir = mkdtempSync(join(tmpdir(), 'shardflow-rules-'));
      const file = join(dir, 'thermo.yaml');
      writeFileSync(file, bad);
      const line = bad.split('\n').findIndex((l) => l.includes('window: 4096')) + 1;
      const before = bad.slice(0, bad.indexOf('window: 4096'));
      const refused = await runCli(['rules', 'validate', file, '--specs', 'specs/examples']);
      expect(refused.code).toBe(1);
      // the rule's index: the rules listed before it
      const rulesBefore = before.slice(before.indexOf('\nrules:')).split('\n  - id: ').length - 2;
      expect(refused.stdout).toContain(
        `error ${file}:${line}  rules.${rulesBefore}.detector.window: rule "temperature-anomaly" (anomaly): detector.window must be ≤ 1024 (got 4096)`,
      );
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
