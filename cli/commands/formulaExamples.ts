/**
 * The examples kept beside a formula version (`examples:`), run on its compiled expression, as the
 * sink would evaluate it. An example's `inputs` are the variables' values: a variable that reads
 * another formula (`{ formula: id }`) takes the value the example gives it, so the expression is
 * evaluated alone. `expect: null` means no result (division by zero, NaN…). Numbers are compared
 * after the version's rounding: with `decimals`, the expected value rounded the same way must be
 * equal; without, the two must agree within `EXAMPLE_TOLERANCE` × max(1, |expected|).
 */
import { compileFormula, evaluateCompiled, type Outcome } from '../../sinks/formulas/index.ts';
import type { Formula } from '../../specs/formulas/schema.ts';

/** Without `decimals`, a result within this much of the expected value (relative, above 1) passes. */
export const EXAMPLE_TOLERANCE = 1e-9;

/** One example's verdict. */
export interface ExampleResult {
  readonly formula: Formula;
  readonly exampleIndex: number;
  readonly passed: boolean;
  /** What came out, and what was expected when it differs. */
  readonly detail: string;
}

function rounded(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  const r = Math.round(value * scale) / scale;
  return Number.isFinite(r) ? r : value;
}

/** True when `outcome` is the example's `expected` result (see the file's comment). */
export function matchesExpected(expected: number | null, outcome: Outcome, decimals?: number): boolean {
  if (expected === null || outcome.value === undefined)
    return expected === null && outcome.value === undefined;
  if (decimals !== undefined) return rounded(expected, decimals) === outcome.value;
  return Math.abs(expected - outcome.value) <= EXAMPLE_TOLERANCE * Math.max(1, Math.abs(expected));
}

function describeOutcome(outcome: Outcome): string {
  return outcome.value === undefined ? `no result (${outcome.reason})` : String(outcome.value);
}

/** Runs every example of `formula`; a version without examples gives none. */
export function runFormulaExamples(formula: Formula): ExampleResult[] {
  const examples = formula.examples ?? [];
  if (examples.length === 0) return [];
  const compiled = compileFormula(formula);
  return examples.map((example, exampleIndex) => {
    // only the declared variables: an extra input named like a function would shadow it
    const scope = new Map<string, number>();
    for (const name of compiled.names) scope.set(name, example.inputs[name]!);
    const outcome = evaluateCompiled(compiled, scope);
    const passed = matchesExpected(example.expect, outcome, formula.decimals);
    const got = describeOutcome(outcome);
    const expected = example.expect === null ? 'no result' : String(example.expect);
    return { formula, exampleIndex, passed, detail: passed ? got : `expected ${expected}, got ${got}` };
  });
}
