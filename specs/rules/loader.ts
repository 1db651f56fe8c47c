/**
 * Loads ruleset files: every `*.yaml` / `*.yml` file is one ruleset, checked by the schema and then
 * against its product's specs. A file that is not valid is reported with its path, line and the
 * problem, and left out; the others load.
 */
import { readFileSync } from 'node:fs';
import { loadSpecDirectory } from '../loader.ts';
import type { Spec } from '../schema.ts';
import { type FileProblem, parseWithSchema, parseYamlSource, yamlFilesOf } from '../yamlSource.ts';
import { type Ruleset, rulesetSchema } from './schema.ts';
import { type RulesetIssue, validateRuleset } from './validate.ts';

/** One valid ruleset and where it came from. */
export interface LoadedRuleset {
  readonly file: string;
  readonly ruleset: Ruleset;
}

/** What a set of files holds. */
export interface RulesetFiles {
  readonly rulesets: readonly LoadedRuleset[];
  readonly problems: readonly FileProblem[];
}

/**
 * Checks beyond the language's own that the caller brings (the rule operator's detectors say which
 * parameters they take; `specs/` does not import them), each problem at a path of the file.
 */
export type RulesetCheck = (ruleset: Ruleset) => readonly RulesetIssue[];

/**
 * Parses and checks one ruleset file's text. `specsOf` gives a product's specs; without it the
 * metrics are not checked. `check` adds the caller's checks.
 */
export function parseRuleset(
  file: string,
  text: string,
  specsOf?: (productId: string) => readonly Spec[],
  check?: RulesetCheck,
): { ruleset?: Ruleset; problems: FileProblem[] } {
  const parsed = parseYamlSource(file, text);
  if (parsed.problems) return { problems: parsed.problems };
  const result = parseWithSchema(parsed.source, rulesetSchema);
  if (result.problems) return { problems: result.problems };
  const ruleset = result.value;
  const issues = [...validateRuleset(ruleset, specsOf?.(ruleset.productId)), ...(check?.(ruleset) ?? [])];
  if (issues.length > 0)
    return {
      problems: issues.map((issue) =>
        parsed.source.problemAt(issue.path, `${issue.path.join('.') || '(top level)'}: ${issue.message}`),
      ),
    };
  return { ruleset, problems: [] };
}

/**
 * Loads ruleset files (or directories of them), checking each against the specs of `specDir`: the
 * spec directory's own problems are not the rulesets' and are left to `specs validate`.
 */
export function loadRulesets(paths: readonly string[], specDir?: string, check?: RulesetCheck): RulesetFiles {
  const specs = specDir === undefined ? undefined : loadSpecDirectory(specDir).specs.map((s) => s.spec);
  const specsOf = specs && ((productId: string) => specs.filter((s) => s.productId === productId));
  const rulesets: LoadedRuleset[] = [];
  const problems: FileProblem[] = [];
  for (const file of yamlFilesOf(paths)) {
    const parsed = parseRuleset(file, readFileSync(file, 'utf8'), specsOf, check);
    problems.push(...parsed.problems);
    if (parsed.ruleset) rulesets.push({ file, ruleset: parsed.ruleset });
  }
  const seen = new Map<string, string>();
  for (const { file, ruleset } of rulesets) {
    const key = `${ruleset.id}@${ruleset.version}`;
    const other = seen.get(key);
    if (other !== undefined)
      problems.push({
        file,
        line: 1,
        message: `ruleset ${ruleset.id} version ${ruleset.version} is also defined in ${other}`,
      });
    seen.set(key, file);
  }
  return { rulesets, problems };
}
