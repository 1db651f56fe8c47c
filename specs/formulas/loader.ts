/**
 * Loads formula files: every `*.yaml` / `*.yml` file lists formulas (`formulas:`), checked by the
 * schema, each version on its own (`validateFormula`, against its product's specs when a spec
 * directory is given) and the whole set together (`validateFormulaSet`: references, cycles, depth).
 * A bad version is reported with its file, line and reason and left out; the others load.
 */
import { readFileSync } from 'node:fs';
import { loadSpecDirectory } from '../loader.ts';
import { metricsOfProduct } from '../rules/validate.ts';
import type { Spec } from '../schema.ts';
import { type FileProblem, parseWithSchema, parseYamlSource, yamlFilesOf } from '../yamlSource.ts';
import { type Formula, formulaFileSchema, formulaKey } from './schema.ts';
import { validateFormula, validateFormulaSet } from './validate.ts';

/** One valid version and where it came from. */
export interface LoadedFormula {
  readonly file: string;
  readonly formula: Formula;
  /** The entry as authored (the YAML's data, before defaults): what the Warm store keeps. */
  readonly definition: unknown;
  /** The line of a node of the entry (a path within it, such as `['variables', 'x']`). */
  readonly lineOf: (path: readonly (string | number)[]) => number;
}

/** What a set of files holds. */
export interface FormulaFiles {
  readonly formulas: readonly LoadedFormula[];
  readonly problems: readonly FileProblem[];
}

/** The metrics of a product, when its specs are known. */
export type MetricsOf = (productId: string) => ReadonlySet<string> | undefined;

/** `metricsOf` from a spec directory's specs. */
export function metricsOfSpecs(specs: readonly Spec[]): MetricsOf {
  return (productId) => {
    const own = specs.filter((s) => s.productId === productId);
    return own.length === 0 ? undefined : new Set(metricsOfProduct(own).keys());
  };
}

/** Parses and checks one file's text (each version on its own; the set is checked by the caller). */
export function parseFormulaFile(
  file: string,
  text: string,
  metricsOf?: MetricsOf,
): { formulas: LoadedFormula[]; problems: FileProblem[] } {
  const parsed = parseYamlSource(file, text);
  if (parsed.problems) return { formulas: [], problems: parsed.problems };
  const result = parseWithSchema(parsed.source, formulaFileSchema);
  if (result.problems) return { formulas: [], problems: result.problems };
  const formulas: LoadedFormula[] = [];
  const problems: FileProblem[] = [];
  for (const [index, formula] of result.value.formulas.entries()) {
    const issues = validateFormula(formula, metricsOf?.(formula.productId));
    const at = ['formulas', index];
    for (const issue of issues)
      problems.push(
        parsed.source.problemAt(
          [...at, ...issue.path],
          `formula ${formula.id}: ${issue.path.join('.')}: ${issue.message}`,
        ),
      );
    if (issues.length === 0)
      formulas.push({
        file,
        formula,
        definition: (parsed.source.value as { formulas: unknown[] }).formulas[index],
        lineOf: (path) => parsed.source.lineOf([...at, ...path]),
      });
  }
  return { formulas, problems };
}

/**
 * The set's own problems (references, cycles, depth), for the versions loaded from files; `others`
 * (stored versions) take part in the check but are not reported on. A version found twice is a problem.
 */
export function checkFormulaSet(
  loaded: readonly LoadedFormula[],
  others: readonly Formula[] = [],
): FileProblem[] {
  const problems: FileProblem[] = [];
  const seen = new Map<string, string>();
  for (const { file, formula } of loaded) {
    const key = formulaKey(formula);
    const other = seen.get(key);
    if (other !== undefined)
      problems.push({
        file,
        line: 1,
        message: `formula ${formula.id} version ${formula.version} is also in ${other}`,
      });
    seen.set(key, file);
  }
  const fromFiles = new Set(loaded.map((l) => formulaKey(l.formula)));
  const all = [...loaded.map((l) => l.formula), ...others.filter((f) => !fromFiles.has(formulaKey(f)))];
  const fileOf = new Map(loaded.map((l) => [l.formula, l]));
  for (const issue of validateFormulaSet(all)) {
    const where = fileOf.get(issue.formula);
    if (!where) continue;
    problems.push({
      file: where.file,
      line: where.lineOf(issue.path),
      message: `formula ${issue.formula.id}: ${issue.path.join('.')}: ${issue.message}`,
    });
  }
  return problems;
}

/** Loads formula files (or directories of them); `specDir` gives the products' metrics. */
export function loadFormulaFiles(paths: readonly string[], specDir?: string): FormulaFiles {
  const metricsOf =
    specDir === undefined ? undefined : metricsOfSpecs(loadSpecDirectory(specDir).specs.map((s) => s.spec));
  const formulas: LoadedFormula[] = [];
  const problems: FileProblem[] = [];
  for (const file of yamlFilesOf(paths)) {
    const parsed = parseFormulaFile(file, readFileSync(file, 'utf8'), metricsOf);
    formulas.push(...parsed.formulas);
    problems.push(...parsed.problems);
  }
  return { formulas, problems };
}
