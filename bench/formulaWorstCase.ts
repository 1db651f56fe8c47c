/**
 * The costliest expressions the formula allowlist accepts (`specs/formulas/expression.ts`), for the
 * claim that nothing accepted can allocate more than about a megabyte or run longer than a
 * millisecond per evaluation. Each shape (deeply nested calls, long operator chains, many arguments,
 * nested conditionals, rounding and `mod`…) is grown to the longest expression of at most
 * `MAX_EXPRESSION_LENGTH` characters that `checkExpression` accepts, compiled as the sink compiles a
 * version (`compileFormula`), and evaluated as it evaluates one (`evaluateCompiled`) with the inputs
 * that cost it most among a few (ordinary values, the largest and smallest doubles, a large negative):
 * what a metric's statistic can hold.
 *
 * Time per evaluation is wall time around each call (`performance.now()`), so on a shared machine
 * the tail also holds other processes' turns and collections; the mean is CPU time. Heap allocated per
 * evaluation is the heap's growth over a run of evaluations plus what each collection during it freed
 * (`v8.GCProfiler`).
 */
import v8 from 'node:v8';
import { type CompiledFormula, compileFormula, evaluateCompiled } from '../sinks/formulas/index.ts';
import { checkExpression, MAX_EXPRESSION_LENGTH } from '../specs/formulas/expression.ts';
import { formulaSchema } from '../specs/formulas/schema.ts';

/** A kind of expression, made `n` steps long. */
interface Shape {
  readonly name: string;
  readonly grow: (n: number) => string;
}

/** `inner` wrapped `n` times, the wrappers taken in turn. */
function nest(n: number, wraps: readonly ((inner: string) => string)[]): string {
  let s = 'x';
  for (let i = 0; i < n; i++) s = wraps[i % wraps.length]!(s);
  return s;
}

/** `n` terms joined by `sep`. */
const terms = (n: number, term: (i: number) => string, sep: string) =>
  Array.from({ length: n }, (_, i) => term(i)).join(sep);

const xy = (i: number) => (i % 2 === 0 ? 'x' : 'y');

const SHAPES: readonly Shape[] = [
  {
    name: 'nested pow, hypot, atan2',
    grow: (n) => nest(n, [(s) => `pow(${s},y)`, (s) => `hypot(${s},y)`, (s) => `atan2(${s},y)`]),
  },
  {
    name: 'nested sin, exp, log1p, cbrt, atan',
    grow: (n) =>
      nest(n, [
        (s) => `sin(${s})`,
        (s) => `exp(${s})`,
        (s) => `log1p(${s})`,
        (s) => `cbrt(${s})`,
        (s) => `atan(${s})`,
      ]),
  },
  {
    name: 'nested min, max of three',
    grow: (n) => nest(n, [(s) => `min(${s},x,y)`, (s) => `max(${s},y,x)`]),
  },
  {
    name: 'nested mod, round',
    grow: (n) => nest(n, [(s) => `mod(${s},y)`, (s) => `round(${s},3)`]),
  },
  {
    name: 'operators * / ^ % - in a sum',
    grow: (n) => terms(n, (i) => ['x*y', 'x/y', 'x^y', 'x%y', 'x-y'][i % 5]!, '+'),
  },
  { name: 'unary minus chain', grow: (n) => `${'-'.repeat(n)}x` },
  { name: 'pow tower x^y^x…', grow: (n) => terms(n, xy, '^') },
  { name: 'hypot of many arguments', grow: (n) => `hypot(${terms(n, xy, ',')})` },
  { name: 'max of many arguments', grow: (n) => `max(${terms(n, xy, ',')})` },
  { name: 'nested conditionals', grow: (n) => `${terms(n, (i) => `x>${i}?y:`, '')}x` },
  { name: 'and chain', grow: (n) => terms(n, xy, ' and ') },
  { name: 'or chain', grow: (n) => terms(n, xy, ' or ') },
  { name: 'sum of x%y', grow: (n) => terms(n, () => 'x%y', '+') },
  { name: 'sum of floor(x)', grow: (n) => terms(n, () => 'floor(x)', '+') },
  { name: 'sum of round(x,15)', grow: (n) => terms(n, () => 'round(x,15)', '+') },
  { name: 'sum of 1e308%x (no input needed)', grow: (n) => terms(n, () => '1e308%x', '+') },
];

/** The inputs tried: each shape is measured with the one that costs it most. */
const INPUTS: Readonly<Record<string, { x: number; y: number }>> = {
  ordinary: { x: 0.7, y: 1.3 },
  largest: { x: 1.7e308, y: 1 },
  smallest: { x: 1e-300, y: 7e-301 },
  'large negative': { x: -1.2e308, y: 3 },
};

const DECLARED: ReadonlySet<string> = new Set(['x', 'y']);

/** The longest expression of `shape` the allowlist accepts. */
function longestAccepted(shape: Shape): string {
  let best = '';
  for (let n = 1; ; n++) {
    const expression = shape.grow(n);
    if (expression.length > MAX_EXPRESSION_LENGTH) break;
    if (checkExpression(expression, DECLARED).problems.length > 0) break;
    best = expression;
  }
  if (best === '') throw new Error(`${shape.name}: no expression accepted`);
  return best;
}

/** A version with `expression`, its variables the ones it uses, compiled as the sink compiles it. */
function compiled(expression: string): CompiledFormula {
  const used = checkExpression(expression, DECLARED).used;
  return compileFormula(
    formulaSchema.parse({
      id: 'worst',
      version: 1,
      productId: 'bench',
      expression,
      variables: Object.fromEntries([...used].map((v) => [v, { metric: v, stat: 'mean' }])),
    }),
  );
}

/** One shape's figures. */
export interface WorstCaseFigures {
  readonly shape: string;
  readonly expression: string;
  readonly characters: number;
  readonly input: string;
  /** The outcome: a value, or why none. */
  readonly outcome: string;
  readonly compileMs: number;
  /** The first evaluation of a fresh compile (mathjs itself already warm). */
  readonly firstUs: number;
  readonly evaluations: number;
  readonly meanCpuUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** Evaluations that took longer than a millisecond (wall). */
  readonly overOneMs: number;
  readonly heapBytesPerEvaluation: number;
}

const cpuUs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return u.user + u.system;
};

/** Heap allocated per call of `work`, over `times` calls (collections during them added back). */
function allocatedPerCall(work: () => unknown, times: number, gc: (() => void) | undefined): number {
  gc?.();
  const profiler = new v8.GCProfiler();
  const start = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  for (let i = 0; i < times; i++) work();
  const end = v8.getHeapStatistics().used_heap_size;
  let freed = 0;
  for (const s of profiler.stop().statistics)
    freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  return (end - start + freed) / times;
}

/** Wall time a shape's timed evaluations may take: the costliest stop before `evaluations`. */
const SHAPE_BUDGET_MS = 5000;

/** The input of `INPUTS` that costs `probe` most CPU per evaluation (a few evaluations each, after a few untimed). */
function costliestInput(probe: CompiledFormula): string {
  let input = 'ordinary';
  let costliest = -1;
  for (const [name, values] of Object.entries(INPUTS)) {
    const scope = scopeOf(probe, values);
    for (let i = 0; i < 3; i++) evaluateCompiled(probe, scope);
    const cpu = process.cpuUsage();
    let n = 0;
    const until = performance.now() + 100;
    while (n < 50 && (n < 3 || performance.now() < until)) {
      evaluateCompiled(probe, scope);
      n++;
    }
    const us = cpuUs(cpu) / n;
    if (us > costliest) [costliest, input] = [us, name];
  }
  return input;
}

const scopeOf = (c: CompiledFormula, values: { x: number; y: number }) =>
  new Map(c.names.map((v) => [v, v === 'x' ? values.x : values.y]));

/**
 * Measures one shape with its costliest input: `evaluations` timed evaluations, or as many as
 * `SHAPE_BUDGET_MS` allows (at least 20), after 20 untimed.
 */
function measureShape(shape: Shape, evaluations: number, gc: (() => void) | undefined): WorstCaseFigures {
  const expression = longestAccepted(shape);
  const t0 = performance.now();
  const probe = compiled(expression);
  const compileMs = performance.now() - t0;
  const input = costliestInput(probe);
  const fresh = compiled(expression);
  const scope = scopeOf(fresh, INPUTS[input]!);
  let at = performance.now();
  const outcome = evaluateCompiled(fresh, scope);
  const firstUs = (performance.now() - at) * 1000;
  for (let i = 0; i < 20; i++) evaluateCompiled(fresh, scope);
  const times = new Float64Array(evaluations);
  gc?.();
  const cpu = process.cpuUsage();
  const until = performance.now() + SHAPE_BUDGET_MS;
  let n = 0;
  while (n < evaluations && (n < 20 || performance.now() < until)) {
    at = performance.now();
    evaluateCompiled(fresh, scope);
    times[n++] = (performance.now() - at) * 1000;
  }
  const meanCpuUs = cpuUs(cpu) / n;
  const sorted = times.subarray(0, n).sort();
  // about a second's worth of evaluations, at most 200
  const heapBytesPerEvaluation = allocatedPerCall(
    () => evaluateCompiled(fresh, scope),
    Math.max(1, Math.min(200, Math.floor(1_000_000 / meanCpuUs))),
    gc,
  );
  return {
    shape: shape.name,
    expression,
    characters: expression.length,
    input,
    outcome: outcome.value === undefined ? outcome.reason : String(outcome.value),
    compileMs,
    firstUs,
    evaluations: n,
    meanCpuUs,
    p50Us: sorted[Math.floor(n * 0.5)]!,
    p99Us: sorted[Math.min(n - 1, Math.floor(n * 0.99))]!,
    maxUs: sorted[n - 1]!,
    overOneMs: sorted.filter((t) => t > 1000).length,
    heapBytesPerEvaluation,
  };
}

/** Every shape measured, costliest (mean CPU per evaluation) first; `progress` hears of each. */
export function worstCaseRuns(
  evaluations: number,
  gc: (() => void) | undefined,
  progress: (f: WorstCaseFigures) => void = () => {},
): WorstCaseFigures[] {
  const figures: WorstCaseFigures[] = [];
  for (const shape of SHAPES) {
    const f = measureShape(shape, evaluations, gc);
    progress(f);
    figures.push(f);
  }
  return figures.sort((a, b) => b.meanCpuUs - a.meanCpuUs);
}
