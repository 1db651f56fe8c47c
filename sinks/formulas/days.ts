/**
 * A day's aggregates gathered by target (a customer × product day, a device's day) and the results
 * of the formulas in force for it: what the sink and `recompute` share.
 */
import type { WindowAggregate } from '../../topology/index.ts';
import type { CompiledFormula } from './compile.ts';
import { type DayAggregate, evaluateDay } from './evaluate.ts';
import type { DayTarget } from './inForce.ts';
import type { FormulaResult } from './results.ts';

/** One target's day and its metrics' aggregates (the highest revision of each). */
export interface TargetDay {
  readonly productId: string;
  readonly target: DayTarget;
  readonly dayStart: number;
  readonly aggregates: Map<string, DayAggregate>;
}

/** The target of a 1-day aggregate: its customer × product, or its device. */
export function dayKeyOf(a: WindowAggregate): string {
  return a.scope === 'device'
    ? `d\u0001${a.deviceId}\u0001${a.productId}\u0001${a.windowStart}`
    : `c\u0001${a.customerId ?? ''}\u0001${a.productId}\u0001${a.windowStart}`;
}

/** Gathers 1-day aggregates (customer × product or device scope) into their target days. */
export function gatherDays(
  aggregates: Iterable<WindowAggregate>,
  into = new Map<string, TargetDay>(),
): Map<string, TargetDay> {
  for (const a of aggregates) {
    const key = dayKeyOf(a);
    let day = into.get(key);
    if (day === undefined) {
      const target: DayTarget =
        a.scope === 'device'
          ? { kind: 'device', deviceId: a.deviceId! }
          : { kind: 'customer', customerId: a.customerId ?? null };
      day = { productId: a.productId, target, dayStart: a.windowStart, aggregates: new Map() };
      into.set(key, day);
    }
    const seen = day.aggregates.get(a.metric);
    if (seen === undefined || seen.revision < a.revision)
      day.aggregates.set(a.metric, { stats: a.stats, revision: a.revision });
  }
  return into;
}

/** The rows of the results of `inForce` over `day`; with `only`, that formula's alone. */
export function resultRows(
  day: TargetDay,
  inForce: ReadonlyMap<string, CompiledFormula>,
  only?: string,
): FormulaResult[] {
  const rows: FormulaResult[] = [];
  for (const r of evaluateDay(inForce, day.aggregates)) {
    const f = r.formula.formula;
    if (only !== undefined && f.id !== only) continue;
    rows.push({
      formulaId: f.id,
      version: f.version,
      productId: day.productId,
      customerId: day.target.kind === 'customer' ? day.target.customerId : null,
      deviceId: day.target.kind === 'device' ? day.target.deviceId : null,
      dayStart: day.dayStart,
      value: r.value ?? null,
      reason: r.reason ?? null,
      unit: f.unit ?? null,
      inputRevision: r.inputRevision,
    });
  }
  return rows;
}
