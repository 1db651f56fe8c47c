/**
 * Loads response-policy files: every `*.yaml` / `*.yml` file is one policy set, checked by the schema
 * and then by `validatePolicySet`, against its product's ruleset when a ruleset directory is given.
 * A file that is not valid is reported with its path, line and the problem, and left out; the others
 * load. Between files: a version defined twice, and two sets for one product, are problems.
 */
import { readFileSync } from 'node:fs';
import { loadRulesets } from '../rules/loader.ts';
import type { Ruleset } from '../rules/schema.ts';
import { type FileProblem, parseWithSchema, parseYamlSource, yamlFilesOf } from '../yamlSource.ts';
import { type ResponsePolicySet, responsePolicySetSchema } from './schema.ts';
import { validatePolicySet } from './validate.ts';

/** One valid policy set and where it came from. */
export interface LoadedPolicySet {
  readonly file: string;
  readonly set: ResponsePolicySet;
  /** The file's text: what the Warm store keeps. */
  readonly source: string;
}

/** What a set of files holds. */
export interface PolicySetFiles {
  readonly sets: readonly LoadedPolicySet[];
  readonly problems: readonly FileProblem[];
}

/** A product's ruleset, when rulesets are known: null when they are and the product has none. */
export type RulesetOf = (productId: string) => Ruleset | null;

/**
 * Parses and checks one policy file's text. With `rulesetOf`, alarms and severities are checked
 * against the product's ruleset, and a product without one is a problem.
 */
export function parsePolicySet(
  file: string,
  text: string,
  rulesetOf?: RulesetOf,
): { set?: ResponsePolicySet; problems: FileProblem[] } {
  const parsed = parseYamlSource(file, text);
  if (parsed.problems) return { problems: parsed.problems };
  const result = parseWithSchema(parsed.source, responsePolicySetSchema);
  if (result.problems) return { problems: result.problems };
  const set = result.value;
  const ruleset = rulesetOf?.(set.productId);
  if (ruleset === null)
    return {
      problems: [
        parsed.source.problemAt(
          ['productId'],
          `productId: no ruleset of product "${set.productId}" is known`,
        ),
      ],
    };
  const issues = validatePolicySet(set, ruleset);
  if (issues.length > 0)
    return {
      problems: issues.map((issue) =>
        parsed.source.problemAt(issue.path, `${issue.path.join('.') || '(top level)'}: ${issue.message}`),
      ),
    };
  return { set, problems: [] };
}

/**
 * `rulesetOf` over a directory of ruleset files: each product's highest version. The rulesets' own
 * problems are not the policies' and are left to `rules validate`.
 */
export function rulesetsOfDirectory(rulesDir: string): RulesetOf {
  const newest = new Map<string, Ruleset>();
  for (const { ruleset } of loadRulesets([rulesDir]).rulesets) {
    const other = newest.get(ruleset.productId);
    if (other === undefined || other.version < ruleset.version) newest.set(ruleset.productId, ruleset);
  }
  return (productId) => newest.get(productId) ?? null;
}

/** Loads policy files (or directories of them), checking each against the rulesets of `rulesDir`. */
export function loadPolicySets(paths: readonly string[], rulesDir?: string): PolicySetFiles {
  const rulesetOf = rulesDir === undefined ? undefined : rulesetsOfDirectory(rulesDir);
  const sets: LoadedPolicySet[] = [];
  const problems: FileProblem[] = [];
  for (const file of yamlFilesOf(paths)) {
    const source = readFileSync(file, 'utf8');
    const parsed = parsePolicySet(file, source, rulesetOf);
    problems.push(...parsed.problems);
    if (parsed.set) sets.push({ file, set: parsed.set, source });
  }
  const versions = new Map<string, string>();
  const products = new Map<string, LoadedPolicySet>();
  for (const loaded of sets) {
    const { file, set } = loaded;
    const key = `${set.id}@${set.version}`;
    const other = versions.get(key);
    if (other !== undefined)
      problems.push({
        file,
        line: 1,
        message: `policy set ${set.id} version ${set.version} is also defined in ${other}`,
      });
    versions.set(key, file);
    const sameProduct = products.get(set.productId);
    if (sameProduct !== undefined && sameProduct.set.id !== set.id)
      problems.push({
        file,
        line: 1,
        message: `product ${set.productId} has policy set ${sameProduct.set.id} (${sameProduct.file}): a product has one policy set`,
      });
    else products.set(set.productId, loaded);
  }
  return { sets, problems };
}
