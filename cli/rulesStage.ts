/**
 * The worker's rules stage from its `rules:` section: the ruleset files are loaded and checked against
 * the product specs when the worker starts (any problem stops it, named with its file and line), each
 * product's highest version is compiled once, and the rule operator gets them by product.
 */
import { type CompiledRuleset, compileRuleset } from '../operators/rules/compile/compileRuleset.ts';
import type { RulesSection } from '../operators/rules/config.ts';
import { type RuleOperator, ruleOperator } from '../operators/rules/ruleOperator.ts';
import { loadRulesets } from '../specs/rules/loader.ts';
import { errorMessage, type Logger } from '../topology/index.ts';
import { ConfigError } from './config.ts';

/** Each product's compiled ruleset in force: the highest version among the files. */
export function loadRulesetsInForce(section: RulesSection, specDir: string): Map<string, CompiledRuleset> {
  let loaded: ReturnType<typeof loadRulesets>;
  try {
    loaded = loadRulesets([section.dir], section.specDir ?? specDir);
  } catch (error) {
    throw new ConfigError([`rules.dir: cannot read ${section.dir}: ${errorMessage(error)}`], 'configuration');
  }
  if (loaded.problems.length > 0)
    throw new ConfigError(
      loaded.problems.map((p) => `rules.dir: ${p.file}:${p.line} ${p.message}`),
      'configuration',
    );
  const newest = new Map<string, (typeof loaded.rulesets)[number]['ruleset']>();
  for (const { ruleset } of loaded.rulesets) {
    const current = newest.get(ruleset.productId);
    if (current === undefined || current.version < ruleset.version) newest.set(ruleset.productId, ruleset);
  }
  return new Map([...newest].map(([productId, ruleset]) => [productId, compileRuleset(ruleset)]));
}

/** The rule operator over the rulesets of the section. */
export function rulesStage(section: RulesSection, specDir: string, log: Logger): RuleOperator {
  const rulesets = loadRulesetsInForce(section, specDir);
  const { dir: _dir, specDir: _specs, ...config } = section;
  log.info({ rulesets: [...rulesets.values()].map((r) => `${r.id}@${r.version}`) }, 'rulesets in force');
  return ruleOperator({ rulesets: (productId) => rulesets.get(productId), config, logger: log });
}
