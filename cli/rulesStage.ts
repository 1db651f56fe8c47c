/**
 * The worker's rules stage from its `rules:` section. With `dir`, the ruleset files are loaded and
 * checked against the product specs when the worker starts (any problem stops it, named with its file
 * and line), each product's highest version is compiled once, and the rule operator gets them by
 * product. Without it, the rule operator asks the worker's catalog of the rulesets stored in the Warm
 * store (`rulesetCatalog.ts`), which follows their changes.
 */
import { type CompiledRuleset, compileRuleset } from '../operators/rules/compile/compileRuleset.ts';
import type { RulesSection } from '../operators/rules/config.ts';
import { detectorIssues } from '../operators/rules/detectorParams.ts';
import { type RuleOperator, ruleOperator } from '../operators/rules/ruleOperator.ts';
import { loadSpecDirectory } from '../specs/loader.ts';
import { loadRulesets } from '../specs/rules/loader.ts';
import type { Spec } from '../specs/schema.ts';
import { errorMessage, type Logger } from '../topology/index.ts';
import { ConfigError } from './config.ts';
import type { RulesetCatalog } from './rulesetCatalog.ts';

/** Each product's compiled ruleset in force: the highest version among the files. */
export function loadRulesetsInForce(section: RulesSection, specDir: string): Map<string, CompiledRuleset> {
  if (section.dir === undefined) throw new Error('the rules section names no directory of rulesets');
  let loaded: ReturnType<typeof loadRulesets>;
  try {
    loaded = loadRulesets([section.dir], section.specDir ?? specDir, detectorIssues);
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

/** What the rules stage reads besides its section. */
export interface RulesStageDeps {
  readonly log: Logger;
  /** The rulesets stored in the Warm store, for a section without `dir` (none: no rules). */
  readonly catalog?: RulesetCatalog;
  /** A site's time zone from the master data (none: schedules in `zone: site` read UTC). */
  readonly siteZone?: (siteId: string) => string | undefined;
  /** The zone the window operator cuts windows in, for aggregate rules (UTC without). */
  readonly windowZone?: string;
}

/**
 * The rule operator over the rulesets of the section's files, or else of the catalog (none: no
 * rules, as when the topology is only described).
 */
export function rulesStage(section: RulesSection, specDir: string, deps: RulesStageDeps): RuleOperator {
  const { dir, specDir: _specs, siteZonesRefreshMs: _refresh, ...config } = section;
  const { log: logger, catalog, siteZone, windowZone } = deps;
  if (dir === undefined)
    return ruleOperator({
      rulesets: (productId) => catalog?.forProduct(productId),
      config,
      siteZone,
      windowZone,
      logger,
    });
  const rulesets = loadRulesetsInForce(section, specDir);
  logger.info({ rulesets: [...rulesets.values()].map((r) => `${r.id}@${r.version}`) }, 'rulesets in force');
  return ruleOperator({
    rulesets: (productId) => rulesets.get(productId),
    config,
    siteZone,
    windowZone,
    logger,
  });
}

/** The specs of `dir` by product, for checking rulesets stored in the Warm store. */
export function specsByProduct(dir: string): (productId: string) => readonly Spec[] {
  const specs = loadSpecDirectory(dir).specs.map((s) => s.spec);
  return (productId) => specs.filter((s) => s.productId === productId);
}
