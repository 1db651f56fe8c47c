/**
 * The workload of `bench:formulas` (`formulaThroughput.ts`): per product a file of formulas over five
 * metrics of a heat pump's day, written as YAML and read through the formula loader and checks
 * (`specs/formulas/`), then compiled as the sink compiles them (`compileFormula`); and each customer ×
 * product day's aggregates, generated from the day's index alone, so a day can be made again
 * without keeping it.
 *
 * The formulas come in five kinds, repeated with other ids and constants when a product has more:
 * a ratio guarded by `max` (cop), `min` of a ratio (duty), a conditional (overheat), `sqrt` and `abs`
 * (spread), and a formula reading another formula's result (cop per running hour reads cop).
 * One day in 200 lacks the power metric, so cop and the formula reading it have no result there.
 */
import { all, create } from 'mathjs';
import { mulberry32 } from '../gateways/simulator/fleet.ts';
import { type CompiledFormula, compileFormula, type DayAggregate } from '../sinks/formulas/index.ts';
import { checkFormulaSet, parseFormulaFile } from '../specs/formulas/loader.ts';
import type { MetricStats } from '../topology/index.ts';

/** The metrics of every generated product: a mean per reading and how far it wanders. */
const METRICS = [
  { name: 'heat_kwh', mid: 2, spread: 1.5 },
  { name: 'power_kwh', mid: 0.6, spread: 0.4 },
  { name: 'runtime_h', mid: 0.15, spread: 0.2 },
  { name: 'supply_temp', mid: 48, spread: 16 },
  { name: 'flow_m3', mid: 0.3, spread: 0.2 },
] as const;

/** Readings per device and day (every 15 minutes). */
const READINGS_PER_DEVICE = 96;

/** The day of the workload, 00:00 UTC. */
export const DAY_START = Date.UTC(2026, 0, 5);

/** Product ids start with this, so a run can clear its own rows from a database it was given. */
export const PRODUCT_PREFIX = 'bench-formulas-';

/** The id of product `p` (0-based). */
export const productIdOf = (p: number): string => `${PRODUCT_PREFIX}${String(p + 1).padStart(3, '0')}`;

/** The id of customer `c` (0-based). */
export const customerIdOf = (c: number): string => `bench-customer-${String(c + 1).padStart(6, '0')}`;

/** Formula `i` of a product as a YAML entry; the kind is `i` mod 5, repeats get a suffix and other constants. */
function formulaYaml(productId: string, i: number): string {
  const k = Math.floor(i / 5);
  const s = k === 0 ? '' : `_${k + 1}`;
  const head = `  - productId: ${productId}\n    version: 1\n`;
  switch (i % 5) {
    case 0:
      return `${head}    id: cop${s}
    expression: "heat / max(power, ${0.001 * (k + 1)})"
    variables: { heat: { metric: heat_kwh, stat: sum }, power: { metric: power_kwh, stat: sum } }
    unit: "1"
    decimals: 2
`;
    case 1:
      return `${head}    id: duty${s}
    expression: "min(hours / max(readings * 0.25, 0.25), 1) * ${100 - k}"
    variables: { hours: { metric: runtime_h, stat: sum }, readings: { metric: runtime_h, stat: count } }
    unit: "%"
    decimals: 1
`;
    case 2:
      return `${head}    id: overheat${s}
    expression: "tmax > ${55 + k} ? (tmax - ${55 + k}) * hours : 0"
    variables: { tmax: { metric: supply_temp, stat: max }, hours: { metric: runtime_h, stat: sum } }
    unit: "K.h"
    decimals: 1
`;
    case 3:
      return `${head}    id: spread${s}
    expression: "sqrt(v) / max(abs(m), ${0.001 * (k + 1)})"
    variables: { v: { metric: supply_temp, stat: variance }, m: { metric: supply_temp, stat: mean } }
    unit: "1"
    decimals: 3
`;
    default:
      return `${head}    id: cop_per_hour${s}
    expression: "c / max(hours, ${k + 1})"
    variables: { c: { formula: cop${s} }, hours: { metric: runtime_h, stat: sum } }
    unit: "1/h"
    decimals: 3
`;
  }
}

/** The formulas of product `p` as a formula file. */
export function productFormulasYaml(p: number, formulas: number): string {
  const productId = productIdOf(p);
  return `formulas:\n${Array.from({ length: formulas }, (_, i) => formulaYaml(productId, i)).join('')}`;
}

/**
 * Product `p`'s formulas read through the loader and checks (against the workload's metrics) and
 * compiled: the formulas in force for its days, by id, as the sink gets them.
 */
export function productFormulas(p: number, formulas: number): Map<string, CompiledFormula> {
  const file = `generated/${productIdOf(p)}.yaml`;
  const metrics = new Set<string>(METRICS.map((m) => m.name));
  const parsed = parseFormulaFile(file, productFormulasYaml(p, formulas), () => metrics);
  const problems = [...parsed.problems, ...checkFormulaSet(parsed.formulas)];
  if (problems.length > 0 || parsed.formulas.length !== formulas)
    throw new Error(`the generated formulas do not load: ${problems.map((x) => x.message).join('; ')}`);
  return new Map(parsed.formulas.map(({ formula }) => [formula.id, compileFormula(formula)]));
}

/** A metric's day over `count` readings: mean, spread, extremes, first and last consistent with each other. */
function statsOf(random: () => number, mid: number, spread: number, count: number): MetricStats {
  const mean = mid + spread * (random() - 0.5);
  const sd = spread * (0.1 + 0.3 * random());
  const min = mean - sd * (1 + 1.5 * random());
  const max = mean + sd * (1 + 1.5 * random());
  const between = () => min + (max - min) * random();
  return {
    count,
    sum: mean * count,
    min,
    max,
    mean,
    m2: sd * sd * count,
    first: between(),
    firstAt: DAY_START + Math.floor(900_000 * random()),
    last: between(),
    lastAt: DAY_START + 86_400_000 - Math.floor(900_000 * random()),
  };
}

/**
 * The aggregates of day `index` (customer × product, by metric): 1 to 20 devices' readings, the
 * revision the readings' count (a window's revision grows with its records); one day in 200 has no
 * power aggregate.
 */
export function dayAggregates(index: number): Map<string, DayAggregate> {
  const random = mulberry32(Math.imul(index, 2_654_435_761) + 1);
  const count = READINGS_PER_DEVICE * (1 + Math.floor(20 * random()));
  const lacksPower = index % 200 === 199;
  const day = new Map<string, DayAggregate>();
  for (const m of METRICS) {
    const stats = statsOf(random, m.mid, m.spread, count);
    if (m.name === 'power_kwh' && lacksPower) continue;
    day.set(m.name, { stats, revision: count });
  }
  return day;
}

/** The baseline's mathjs: a plain instance made as `specs/formulas/math.ts` makes its own, nothing disabled. */
const plain = create(all!, { number: 'number', predictable: true });

/**
 * The same formulas, each evaluated with `math.evaluate` on every call (parsed and compiled each
 * time) instead of compiled once: the baseline, run through the same `evaluateDay`.
 */
export function evaluatedEachCall(
  inForce: ReadonlyMap<string, CompiledFormula>,
): Map<string, CompiledFormula> {
  return new Map(
    [...inForce].map(([id, c]) => [
      id,
      { ...c, scope: new Map(), run: (scope) => plain.evaluate(c.formula.expression, scope) },
    ]),
  );
}

/** The product (0-based) of day `index`: days go customer by customer, every product in turn. */
export const productOfDay = (index: number, products: number): number => index % products;

/** The customer (0-based) of day `index`. */
export const customerOfDay = (index: number, products: number): number => Math.floor(index / products);
