/**
 * The formulas in force for one target (a customer × product day, or a device's day) evaluated over
 * that day's aggregates: each variable is a statistic of a metric's day or another formula's
 * result for the same target, formulas that read formulas are evaluated after them (once each), and
 * every result carries its input revision: the sum of the revisions of the metric aggregates it
 * read, through the formulas it read too. Aggregates only grow and their revisions with them, so a
 * result from more data has a higher input revision, and the same data the same one.
 */
import type { Statistic } from '../../specs/formulas/schema.ts';
import type { MetricStats } from '../../topology/index.ts';
import { type CompiledFormula, evaluateCompiled, type Outcome } from './compile.ts';

/** A metric's aggregate of the day: its statistics and revision. */
export interface DayAggregate {
  readonly stats: MetricStats;
  readonly revision: number;
}

/** One formula's result for the target. */
export type DayResult = Outcome & {
  readonly formula: CompiledFormula;
  /** Sum of the revisions of the metric aggregates read (directly or through other formulas). */
  readonly inputRevision: number;
};

/** A statistic of an aggregate (`variance`: the population's, m2 / count). */
export function statisticOf(stats: MetricStats, stat: Statistic): number {
  switch (stat) {
    case 'variance':
      return stats.count > 0 ? stats.m2 / stats.count : Number.NaN;
    default:
      return stats[stat];
  }
}

/**
 * Evaluates every formula of `inForce` (by formula id) over `aggregates` (by metric). A formula
 * whose input is missing, or whose input formula has no result, has no result and says why.
 */
export function evaluateDay(
  inForce: ReadonlyMap<string, CompiledFormula>,
  aggregates: ReadonlyMap<string, DayAggregate>,
): DayResult[] {
  const done = new Map<string, { result: DayResult; metrics: ReadonlySet<string> }>();
  const visiting = new Set<string>();
  const evaluate = (id: string): { result: DayResult; metrics: ReadonlySet<string> } | string => {
    const known = done.get(id);
    if (known) return known;
    const compiled = inForce.get(id);
    if (compiled === undefined) return `formula "${id}" is not in force here`;
    if (visiting.has(id)) return `formula "${id}" depends on itself`;
    visiting.add(id);
    const metrics = new Set<string>();
    const scope = new Map<string, number>();
    let missing: string | undefined;
    for (const name of compiled.names) {
      const v = compiled.formula.variables[name]!;
      if ('metric' in v) {
        const aggregate = aggregates.get(v.metric);
        metrics.add(v.metric);
        if (aggregate === undefined) missing ??= `no aggregate of metric "${v.metric}" for the day`;
        else scope.set(name, statisticOf(aggregate.stats, v.stat));
      } else {
        const input = evaluate(v.formula);
        if (typeof input === 'string') {
          missing ??= input;
          continue;
        }
        for (const m of input.metrics) metrics.add(m);
        if (input.result.value === undefined)
          missing ??= `formula "${v.formula}" has no result: ${input.result.reason}`;
        else scope.set(name, input.result.value);
      }
    }
    visiting.delete(id);
    let inputRevision = 0;
    for (const m of metrics) inputRevision += aggregates.get(m)?.revision ?? 0;
    const outcome: Outcome = missing === undefined ? evaluateCompiled(compiled, scope) : { reason: missing };
    const entry = { result: { ...outcome, formula: compiled, inputRevision }, metrics };
    done.set(id, entry);
    return entry;
  };
  const results: DayResult[] = [];
  for (const id of [...inForce.keys()].sort()) {
    const entry = evaluate(id);
    if (typeof entry !== 'string') results.push(entry.result);
  }
  return results;
}
