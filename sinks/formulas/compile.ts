/**
 * A formula version compiled once (mathjs `compile` of the checked tree, `specs/formulas/`), and
 * one evaluation of it: a finite number rounded to the version's decimals, or no value and the
 * reason (division by zero, NaN, a result that is not a number). Never a stored NaN or infinity.
 */
import { parseFormula } from '../../specs/formulas/math.ts';
import type { Formula, Statistic } from '../../specs/formulas/schema.ts';
import { validateFormula } from '../../specs/formulas/validate.ts';

/** A variable that reads a statistic of a metric's day. */
export interface MetricInput {
  readonly name: string;
  readonly metric: string;
  readonly stat: Statistic;
}

/** A variable that reads another formula's result. */
export interface FormulaInput {
  readonly name: string;
  readonly formula: string;
}

/** A version ready to evaluate. */
export interface CompiledFormula {
  readonly formula: Formula;
  /** The variables' names, in the order of `formula.variables`. */
  readonly names: readonly string[];
  readonly metricInputs: readonly MetricInput[];
  readonly formulaInputs: readonly FormulaInput[];
  /** The metrics its own variables read, each once. */
  readonly metrics: readonly string[];
  /**
   * The scope evaluations fill and pass to `run`, one per version: an evaluation is synchronous and
   * mathjs keeps no reference to it.
   */
  readonly scope: Map<string, number>;
  /** Evaluates with each variable's value; what mathjs returns (a number or boolean when checked). */
  run(scope: Map<string, number>): unknown;
}

/** An evaluation's outcome: a value, or none and why. */
export type Outcome =
  | { readonly value: number; readonly reason?: undefined }
  | { readonly value?: undefined; readonly reason: string };

/** Thrown when a version does not pass the checks it passed when it was saved (it never should). */
export class FormulaCompileError extends Error {
  override readonly name = 'FormulaCompileError';
}

/** Compiles a version; the expression is checked again first (the allowlist guards the compile). */
export function compileFormula(formula: Formula): CompiledFormula {
  const issues = validateFormula(formula);
  if (issues.length > 0)
    throw new FormulaCompileError(
      `formula ${formula.id} version ${formula.version}: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const code = parseFormula(formula.expression).compile();
  const metricInputs: MetricInput[] = [];
  const formulaInputs: FormulaInput[] = [];
  for (const [name, v] of Object.entries(formula.variables)) {
    if ('metric' in v) metricInputs.push({ name, metric: v.metric, stat: v.stat });
    else formulaInputs.push({ name, formula: v.formula });
  }
  return {
    formula,
    names: Object.keys(formula.variables),
    metricInputs,
    formulaInputs,
    metrics: [...new Set(metricInputs.map((i) => i.metric))],
    scope: new Map(),
    run: (scope) => code.evaluate(scope),
  };
}

/** The outcome of a value mathjs returned, rounded to `decimals` when given. */
export function outcomeOf(raw: unknown, decimals?: number): Outcome {
  let value: number;
  if (typeof raw === 'number') value = raw;
  else if (typeof raw === 'boolean') value = raw ? 1 : 0;
  else return { reason: `the result is not a number (${raw === null ? 'null' : typeof raw})` };
  if (Number.isNaN(value))
    return { reason: 'the result is not a number (NaN: 0/0, sqrt or log of a negative…)' };
  if (!Number.isFinite(value))
    return { reason: `the result is ${value > 0 ? '' : '-'}infinite (division by zero or overflow)` };
  if (decimals !== undefined) {
    const scale = 10 ** decimals;
    const rounded = Math.round(value * scale) / scale;
    value = Number.isFinite(rounded) ? rounded : value;
  }
  return { value: Object.is(value, -0) ? 0 : value };
}

/** Evaluates a compiled version with `scope`; an exception of mathjs becomes the reason. */
export function evaluateCompiled(compiled: CompiledFormula, scope: Map<string, number>): Outcome {
  let raw: unknown;
  try {
    raw = compiled.run(scope);
  } catch (error) {
    return { reason: `evaluation failed: ${(error as Error).message}` };
  }
  return outcomeOf(raw, compiled.formula.decimals);
}
