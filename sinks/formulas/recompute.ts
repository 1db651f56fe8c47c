/**
 * `shardflow formulas recompute`: one version of a formula evaluated over past days from the stored
 * aggregates (Warm's daily customer × product aggregates; the Hot store's device 1-day aggregates
 * for a device-scoped version), wherever it would be in force (as if active and effective; a more
 * specific version of the same formula still wins), the formulas it reads resolved as on each day.
 * Its rows are upserted like the sink's, so the rows of other versions stay as they are; a dry run
 * writes nothing. Each day is compared with the results stored for the formula before (the highest
 * other version's row of each target).
 */
import type { Formula } from '../../specs/formulas/schema.ts';
import type { HotStore } from '../hot/hotStore.ts';
import type { SqlClient } from '../postgres/sql.ts';
import { readDailyAggregates } from '../warm/dailyAggregates.ts';
import { readFormulas } from './catalog.ts';
import { compileFormula } from './compile.ts';
import { gatherDays, resultRows, type TargetDay } from './days.ts';
import { indexVersions, versionsInForce } from './inForce.ts';
import { type FormulaResult, readFormulaResults, writeFormulaResults } from './results.ts';

const DAY_MS = 86_400_000;

/** What to recompute. */
export interface RecomputeRequest {
  readonly formulaId: string;
  /** The version; the highest stored one when absent. */
  readonly version?: number;
  /** First day (its start, epoch ms, UTC) and the day after the last. */
  readonly from: number;
  readonly to: number;
  readonly dryRun: boolean;
  /** Called after each day. */
  readonly onDay?: (done: number, of: number, day: DayDifference) => void;
}

/** One day's results against what was stored before. */
export interface DayDifference {
  readonly dayStart: number;
  /** Targets evaluated. */
  readonly results: number;
  /** Of those, with no result (a reason instead). */
  readonly withoutValue: number;
  /** Targets with no stored result of another version. */
  readonly added: number;
  /** Targets whose value (or whether there is one) differs from the stored one. */
  readonly changed: number;
  /** The largest absolute difference among the changed values. */
  readonly maxAbsDelta: number;
}

/** What a recompute did. */
export interface RecomputeOutcome {
  readonly formula: Formula;
  readonly days: readonly DayDifference[];
  readonly written: number;
}

/** Refused: no such formula or version, or a retired one. */
export class RecomputeError extends Error {
  override readonly name = 'RecomputeError';
}

function targetKey(r: Pick<FormulaResult, 'customerId' | 'deviceId'>): string {
  return `${r.customerId ?? ''}\u0001${r.deviceId ?? ''}`;
}

function differenceOf(
  dayStart: number,
  rows: readonly FormulaResult[],
  before: ReadonlyMap<string, FormulaResult>,
): DayDifference {
  let added = 0;
  let changed = 0;
  let maxAbsDelta = 0;
  for (const r of rows) {
    const old = before.get(targetKey(r));
    if (old === undefined) {
      added++;
      continue;
    }
    if (old.value === r.value) continue;
    changed++;
    if (old.value !== null && r.value !== null)
      maxAbsDelta = Math.max(maxAbsDelta, Math.abs(old.value - r.value));
  }
  return {
    dayStart,
    results: rows.length,
    withoutValue: rows.filter((r) => r.value === null).length,
    added,
    changed,
    maxAbsDelta,
  };
}

/** Recomputes a version over `[from, to)`; see the file's comment. */
export async function recomputeFormula(
  deps: { readonly warm: SqlClient; readonly hot: Pick<HotStore, 'readAggregates'> },
  request: RecomputeRequest,
): Promise<RecomputeOutcome> {
  const stored = (await readFormulas(deps.warm)).map((s) => s.formula);
  const versions = stored.filter((f) => f.id === request.formulaId);
  if (versions.length === 0) throw new RecomputeError(`no formula "${request.formulaId}" in the Warm store`);
  const formula =
    request.version === undefined
      ? versions.reduce((a, b) => (b.version > a.version ? b : a))
      : versions.find((f) => f.version === request.version);
  if (formula === undefined)
    throw new RecomputeError(
      `formula ${request.formulaId} has no version ${request.version} (stored: ${versions.map((f) => f.version).join(', ')})`,
    );
  if (formula.status === 'retired')
    throw new RecomputeError(`formula ${formula.id} version ${formula.version} is retired`);
  const candidate = compileFormula(formula);
  const others = stored.filter((f) => f.productId === formula.productId && f.status === 'active');
  const index =
    indexVersions(others, (f, error) => {
      throw new RecomputeError(
        `formula ${f.id} version ${f.version} does not compile: ${(error as Error).message}`,
      );
    }).get(formula.productId) ?? new Map();

  const dayCount = Math.max(0, Math.ceil((request.to - request.from) / DAY_MS));
  const days: DayDifference[] = [];
  let written = 0;
  for (let i = 0; i < dayCount; i++) {
    const dayStart = request.from + i * DAY_MS;
    const dayEnd = dayStart + DAY_MS;
    let targetDays: Map<string, TargetDay>;
    if (formula.scope === 'device') {
      targetDays = new Map();
      for (const deviceId of formula.targets)
        gatherDays(
          await deps.hot.readAggregates({
            scope: 'device',
            key: deviceId,
            window: '1d',
            from: dayStart,
            to: dayEnd,
          }),
          targetDays,
        );
    } else {
      const aggregates = await readDailyAggregates(deps.warm, {
        productId: formula.productId,
        from: dayStart,
        to: dayEnd,
      });
      const targets = new Set(formula.targets);
      targetDays = gatherDays(
        formula.scope === 'customer'
          ? aggregates.filter((a) => a.customerId != null && targets.has(a.customerId))
          : aggregates,
      );
    }
    const rows: FormulaResult[] = [];
    for (const day of targetDays.values()) {
      const inForce = versionsInForce(index, day.target, day.dayStart, candidate);
      if (inForce.get(formula.id) === candidate) rows.push(...resultRows(day, inForce, formula.id));
    }
    const before = new Map<string, FormulaResult>();
    for (const r of await readFormulaResults(deps.warm, {
      formulaId: formula.id,
      productId: formula.productId,
      from: dayStart,
      to: dayEnd,
    })) {
      if (r.version === formula.version) continue;
      const seen = before.get(targetKey(r));
      if (seen === undefined || seen.version < r.version) before.set(targetKey(r), r);
    }
    const difference = differenceOf(dayStart, rows, before);
    if (!request.dryRun && rows.length > 0) {
      await writeFormulaResults(deps.warm, rows);
      written += rows.length;
    }
    days.push(difference);
    request.onDay?.(i + 1, dayCount, difference);
  }
  return { formula, days, written };
}
