/**
 * The formulas in force for one target (a customer × product day, or a device's day) evaluated over
 * that day's aggregates: each variable is a statistic of a metric's day or another formula's
 * result for the same target, formulas that read formulas are evaluated after them (once each), and
 * every result carries its input revision: the sum of the revisions of the metric aggregates it
 * read, through the formulas it read too. Aggregates only grow and their revisions with them, so a
 * result from more data has a higher input revision, and the same data the same one.
 *
 * This runs once per formula per target day (a million times for a day of 10,000 customers × 20
 * products × 5 formulas), so it allocates only the result: the scope is the version's own, and the
 * metrics a formula read are kept as a set only when it reads another formula.
 */
import type { Statistic } from '../../specs/formulas/schema.ts';
import type { MetricStats } from '../../topology/index.ts';
import { type CompiledFormula, evaluateCompiled } from './compile.ts';

/** A metric's aggregate of the day: its statistics and revision. */
export interface DayAggregate {
  readonly stats: MetricStats;
  readonly revision: number;
}

/** One formula's result for the target: a value, or none and why. */
export interface DayResult {
  readonly formula: CompiledFormula;
  readonly value: number | undefined;
  readonly reason: string | undefined;
  /** Sum of the revisions of the metric aggregates read (directly or through other formulas). */
  readonly inputRevision: number;
}

/** A statistic of an aggregate (`variance`: the population's, m2 / count). */
export function statisticOf(stats: MetricStats, stat: Statistic): number {
  switch (stat) {
    case 'variance':
      return stats.count > 0 ? stats.m2 / stats.count : Number.NaN;
    default:
      return stats[stat];
  }
}

/** A result and the metrics it read, for the formulas that read it. */
interface Done {
  readonly result: DayResult;
  readonly metrics: ReadonlySet<string> | readonly string[];
}

/** One day's evaluation: the formulas in force, the aggregates, what is done. */
class Day {
  private readonly done = new Map<string, Done | string>();
  private readonly visiting = new Set<string>();

  constructor(
    private readonly inForce: ReadonlyMap<string, CompiledFormula>,
    private readonly aggregates: ReadonlyMap<string, DayAggregate>,
  ) {}

  /** The formula's result (evaluated once), or why it has none here. */
  evaluate(id: string): Done | string {
    const known = this.done.get(id);
    if (known !== undefined) return known;
    const compiled = this.inForce.get(id);
    if (compiled === undefined) return `formula "${id}" is not in force here`;
    if (this.visiting.has(id)) return `formula "${id}" depends on itself`;
    this.visiting.add(id);
    const { scope } = compiled;
    scope.clear();
    let missing: string | undefined;
    for (const input of compiled.metricInputs) {
      const aggregate = this.aggregates.get(input.metric);
      if (aggregate === undefined) missing ??= `no aggregate of metric "${input.metric}" for the day`;
      else scope.set(input.name, statisticOf(aggregate.stats, input.stat));
    }
    let metrics: ReadonlySet<string> | readonly string[] = compiled.metrics;
    if (compiled.formulaInputs.length > 0) {
      const all = new Set(compiled.metrics);
      for (const input of compiled.formulaInputs) {
        const read = this.evaluate(input.formula);
        if (typeof read === 'string') {
          missing ??= read;
          continue;
        }
        for (const m of read.metrics) all.add(m);
        if (read.result.value === undefined)
          missing ??= `formula "${input.formula}" has no result: ${read.result.reason}`;
        else scope.set(input.name, read.result.value);
      }
      metrics = all;
    }
    this.visiting.delete(id);
    let inputRevision = 0;
    for (const m of metrics) inputRevision += this.aggregates.get(m)?.revision ?? 0;
    let value: number | undefined;
    let reason = missing;
    if (missing === undefined) {
      // the formulas it read refilled their own scopes, not this one
      const outcome = evaluateCompiled(compiled, scope);
      value = outcome.value;
      reason = outcome.reason;
    }
    const entry: Done = { result: { formula: compiled, value, reason, inputRevision }, metrics };
    this.done.set(id, entry);
    return entry;
  }
}

/**
 * Evaluates every formula of `inForce` (by formula id) over `aggregates` (by metric), in the map's
 * order (`versionsInForce` gives them by id). A formula whose input is missing, or whose input
 * formula has no result, has no result and says why.
 */
export function evaluateDay(
  inForce: ReadonlyMap<string, CompiledFormula>,
  aggregates: ReadonlyMap<string, DayAggregate>,
): DayResult[] {
  const day = new Day(inForce, aggregates);
  const results: DayResult[] = [];
  for (const id of inForce.keys()) {
    const done = day.evaluate(id);
    if (typeof done !== 'string') results.push(done.result);
  }
  return results;
}
