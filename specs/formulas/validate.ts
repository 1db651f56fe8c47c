/**
 * Checks of formulas beyond their shape: each version on its own (scope and targets, variable
 * names, the expression against the allowlist, the product's metrics) and a set of versions
 * together (a variable names a formula of the same product that exists, no cycle, a chain of
 * formulas at most `MAX_DEPTH` deep). Each issue has the path of the node it concerns, for the line.
 */
import { checkExpression, variableNameProblem } from './expression.ts';
import type { Formula } from './schema.ts';

/** Formulas reading formulas reading formulas…: at most this many levels. */
export const MAX_DEPTH = 5;

/** At most this many variables per formula. */
export const MAX_VARIABLES = 20;

/** A problem at a path of the formula entry (`variables.x.metric`, `expression`…). */
export interface FormulaIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** The problems of one version; `metrics`, when given, are the metrics its product has. */
export function validateFormula(f: Formula, metrics?: ReadonlySet<string>): FormulaIssue[] {
  const issues: FormulaIssue[] = [];
  if (f.scope === 'product' && f.targets.length > 0)
    issues.push({
      path: ['targets'],
      message: 'a product-scoped formula has no targets (its product is the target)',
    });
  if (f.scope !== 'product' && f.targets.length === 0)
    issues.push({
      path: ['targets'],
      message: `a ${f.scope}-scoped formula names the ${f.scope} ids it applies to`,
    });
  const names = Object.keys(f.variables);
  if (names.length > MAX_VARIABLES)
    issues.push({ path: ['variables'], message: `${names.length} variables; at most ${MAX_VARIABLES}` });
  for (const name of names) {
    const problem = variableNameProblem(name);
    if (problem) issues.push({ path: ['variables', name], message: problem });
    const v = f.variables[name]!;
    if ('metric' in v && metrics && !metrics.has(v.metric))
      issues.push({
        path: ['variables', name, 'metric'],
        message: `product ${f.productId} has no metric "${v.metric}"`,
      });
    if ('formula' in v && v.formula === f.id)
      issues.push({ path: ['variables', name, 'formula'], message: 'a formula cannot read its own result' });
  }
  const { problems, used } = checkExpression(f.expression, new Set(names));
  for (const p of problems) issues.push({ path: ['expression'], message: p.message });
  if (problems.length === 0)
    for (const name of names)
      if (!used.has(name))
        issues.push({ path: ['variables', name], message: `variable "${name}" is not used` });
  for (const [i, example] of (f.examples ?? []).entries())
    for (const name of names)
      if (!(name in example.inputs))
        issues.push({ path: ['examples', i, 'inputs'], message: `no value for variable "${name}"` });
  return issues;
}

/** A version with the problems found in the set it belongs to. */
export interface SetIssue extends FormulaIssue {
  readonly formula: Formula;
}

/**
 * The problems of a set of versions taken together: references to formulas the product does not
 * have, cycles, chains deeper than `MAX_DEPTH`. A formula's references are those of all its
 * versions (any of them may be in force somewhere).
 */
export function validateFormulaSet(formulas: readonly Formula[]): SetIssue[] {
  const issues: SetIssue[] = [];
  const node = (productId: string, id: string) => `${productId}\u0000${id}`;
  const edges = new Map<string, Set<string>>();
  for (const f of formulas)
    edges.set(node(f.productId, f.id), edges.get(node(f.productId, f.id)) ?? new Set());
  for (const f of formulas)
    for (const [name, v] of Object.entries(f.variables)) {
      if (!('formula' in v) || v.formula === f.id) continue;
      const to = node(f.productId, v.formula);
      if (!edges.has(to))
        issues.push({
          formula: f,
          path: ['variables', name, 'formula'],
          message: `product ${f.productId} has no formula "${v.formula}"`,
        });
      else edges.get(node(f.productId, f.id))!.add(to);
    }
  // depth of each node by depth-first search; a node met again on the path is a cycle
  const depth = new Map<string, number>();
  const path: string[] = [];
  const cyclic = new Set<string>();
  const visit = (n: string): number => {
    const known = depth.get(n);
    if (known !== undefined) return known;
    const at = path.indexOf(n);
    if (at >= 0) {
      for (const p of path.slice(at)) cyclic.add(p);
      return 0;
    }
    path.push(n);
    let d = 1;
    for (const to of edges.get(n) ?? []) d = Math.max(d, 1 + visit(to));
    path.pop();
    depth.set(n, d);
    return d;
  };
  for (const n of edges.keys()) visit(n);
  for (const f of formulas) {
    const n = node(f.productId, f.id);
    const refs = Object.entries(f.variables).filter(([, v]) => 'formula' in v && v.formula !== f.id);
    if (cyclic.has(n) && refs.length > 0)
      issues.push({
        formula: f,
        path: ['variables', refs[0]![0], 'formula'],
        message: `formula ${f.id} depends on itself through ${refs.map(([, v]) => (v as { formula: string }).formula).join(', ')}`,
      });
    else if ((depth.get(n) ?? 0) > MAX_DEPTH)
      issues.push({
        formula: f,
        path: ['variables'],
        message: `a chain of ${depth.get(n)} formulas; at most ${MAX_DEPTH} deep`,
      });
  }
  return issues;
}
