/**
 * The rulesets the harness's rules branch runs: the example rulesets of `specs/examples/rules/`, checked
 * against the bench's specs as `shardflow rules validate` checks them, so the rule operator carries a
 * realistic load on the workload's products; and, in the thermo-t1 ruleset, the alarm probe's rule.
 *
 * The probe rule is an immediate threshold (no delays, no hysteresis, not latched), disabled for the
 * product and enabled by an override for the probe's customer only, whose devices get every example
 * rule disabled by the same override: a probe marker raises or clears the probe rule and nothing
 * else, and no workload device ever sees it. The composed ruleset goes through the real loader
 * (`parseRuleset`) and its examples are run (`runExamples`), so a mistake in it is refused like one
 * in a file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import type { SpecRegistry } from '../../operators/decode/registry.ts';
import { type CompiledRuleset, compileRuleset } from '../../operators/rules/compile/compileRuleset.ts';
import { runExamples } from '../../operators/rules/compile/examples.ts';
import { parseRuleset } from '../../specs/rules/loader.ts';
import type { Ruleset } from '../../specs/rules/schema.ts';
import { yamlFilesOf } from '../../specs/yamlSource.ts';

/** Where the example rulesets are. */
export const EXAMPLE_RULESETS = fileURLToPath(new URL('../../specs/examples/rules/', import.meta.url));

/** The product whose ruleset carries the probe rule (the markers are its readings). */
export const PROBE_PRODUCT = 'thermo-t1';
/** The probe rule's id. */
export const PROBE_RULE = 'bench-alarm-probe';
/** The probe rule raises above this temperature (°C) and clears at or below it. */
export const PROBE_THRESHOLD = 80;

/** The probe rule, its product-level state (off) and the override turning it on for `customer`. */
function withProbeRule(source: Record<string, unknown>, customer: string): Record<string, unknown> {
  const rules = source.rules as { id: string }[];
  const probe = {
    id: PROBE_RULE,
    kind: 'threshold',
    severity: 'major',
    enabled: false,
    message: 'benchmark alarm probe: temperature above the probe threshold',
    when: { metric: 'temperature', op: '>', value: PROBE_THRESHOLD },
    examples: [
      { metrics: { temperature: PROBE_THRESHOLD + 4 }, expect: true, clear: false },
      { metrics: { temperature: 20 }, expect: false, clear: true },
    ],
  };
  const override = {
    customer,
    rules: Object.fromEntries([
      ...rules.map((r) => [r.id, { enabled: false }] as const),
      [PROBE_RULE, { enabled: true }],
    ]),
  };
  return {
    ...source,
    rules: [...rules, probe],
    overrides: [...((source.overrides as unknown[] | undefined) ?? []), override],
  };
}

/** Parses and checks a ruleset's text against the registry's specs; throws naming every problem. */
function checked(file: string, text: string, specs: SpecRegistry): Ruleset {
  const all = specs.specs.map((s) => s.spec);
  const { ruleset, problems } = parseRuleset(file, text, (productId) =>
    all.filter((s) => s.productId === productId),
  );
  if (ruleset === undefined || problems.length > 0)
    throw new Error(
      `bench rulesets refused: ${problems.map((p) => `${p.file}:${p.line} ${p.message}`).join('; ')}`,
    );
  return ruleset;
}

/**
 * The compiled rulesets by product: the examples, the thermo-t1 one with the probe rule for the
 * probe's customer `probeCustomer`. Throws when a ruleset does not pass the loader's checks.
 */
export function benchRulesets(specs: SpecRegistry, probeCustomer: string): Map<string, CompiledRuleset> {
  const compiled = new Map<string, CompiledRuleset>();
  for (const file of yamlFilesOf([EXAMPLE_RULESETS])) {
    const text = readFileSync(file, 'utf8');
    let ruleset = checked(file, text, specs);
    if (ruleset.productId === PROBE_PRODUCT) {
      const composed = stringify(withProbeRule(parse(text) as Record<string, unknown>, probeCustomer));
      ruleset = checked(`${path.basename(file)} with the alarm probe's rule`, composed, specs);
    }
    if (compiled.has(ruleset.productId))
      throw new Error(`bench rulesets: two example rulesets for product ${ruleset.productId}`);
    const rules = compileRuleset(ruleset);
    // the examples kept beside the rules (`shardflow rules test`), the probe rule's among them
    const failed = runExamples(ruleset, rules).filter((r) => !r.passed);
    if (failed.length > 0)
      throw new Error(
        `bench rulesets: examples failed in ${ruleset.id}: ${failed.map((r) => `${r.ruleId} #${r.exampleIndex + 1}`).join(', ')}`,
      );
    compiled.set(ruleset.productId, rules);
  }
  if (!compiled.has(PROBE_PRODUCT))
    throw new Error(`bench rulesets: no example ruleset for ${PROBE_PRODUCT}`);
  return compiled;
}
