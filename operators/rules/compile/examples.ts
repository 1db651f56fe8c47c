/**
 * Runs the examples kept beside a ruleset's threshold rules (readings and the verdict expected of
 * each) against the compiled rules, as `shardflow rules test` does: an author's check that the
 * generated code says what the YAML meant. With `at`, the schedule and the maintenance windows
 * apply (outside the schedule or inside a window the condition counts as false).
 */
import type { Ruleset } from '../../../specs/rules/schema.ts';
import type { CompiledRuleset, Verdict } from './compileRuleset.ts';

/** The outcome of one example. */
export interface ExampleResult {
  readonly ruleId: string;
  /** Where the example is: its rule's index and its own in the file. */
  readonly ruleIndex: number;
  readonly exampleIndex: number;
  readonly passed: boolean;
  /** What was expected and what the rule said, in words. */
  readonly detail: string;
}

const word = (v: Verdict | null): string => (v === undefined || v === null ? 'unknown' : String(v));

/** Runs every example of `ruleset` on its compiled form (the product's rules, no override). */
export function runExamples(ruleset: Ruleset, compiled: CompiledRuleset): ExampleResult[] {
  const results: ExampleResult[] = [];
  ruleset.rules.forEach((rule, ruleIndex) => {
    const target = compiled.rules[ruleIndex]!;
    if (target.kind !== 'threshold') return;
    (rule.examples ?? []).forEach((example, exampleIndex) => {
      const reading = { metrics: example.metrics };
      let verdict = target.condition(reading);
      if (example.at !== undefined) {
        const at = Date.parse(example.at);
        if (target.inMaintenance(at) || !target.inSchedule(at, example.zone)) verdict = false;
      }
      const problems: string[] = [];
      if ((verdict ?? null) !== example.expect)
        problems.push(`condition expected ${word(example.expect)}, got ${word(verdict)}`);
      if (example.clear !== undefined) {
        const clear = target.clear(reading);
        if (clear !== example.clear) problems.push(`clear expected ${example.clear}, got ${word(clear)}`);
      }
      results.push({
        ruleId: rule.id,
        ruleIndex,
        exampleIndex,
        passed: problems.length === 0,
        detail:
          problems.length > 0
            ? problems.join('; ')
            : `condition ${word(verdict)}${example.clear === undefined ? '' : `, clear ${example.clear}`}`,
      });
    });
  });
  return results;
}
