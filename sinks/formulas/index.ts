/** What the CLI, the tests and the benchmarks import of the formulas. */
export {
  FORMULA_CHANNEL,
  type FormulaImport,
  FormulaInvalidError,
  type FormulaToStore,
  FormulaVersionConflictError,
  formulaFeed,
  importFormulas,
  readFormulas,
  type StoredFormula,
} from './catalog.ts';
export {
  type CompiledFormula,
  compileFormula,
  evaluateCompiled,
  type Outcome,
  outcomeOf,
} from './compile.ts';
export { type DayAggregate, type DayResult, evaluateDay, statisticOf } from './evaluate.ts';
export { formulaSink } from './formulaSink.ts';
export { type DayTarget, FormulasInForce, versionsInForce } from './inForce.ts';
export {
  type DayDifference,
  RecomputeError,
  type RecomputeOutcome,
  type RecomputeRequest,
  recomputeFormula,
} from './recompute.ts';
export {
  type FormulaResult,
  type FormulaResultFilter,
  type FormulaResultRevision,
  readFormulaResultHistory,
  readFormulaResults,
  type StoredFormulaResult,
  writeFormulaResults,
} from './results.ts';
