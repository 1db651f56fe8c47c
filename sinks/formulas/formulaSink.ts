/**
 * The formula sink, `formula-results`: when a day becomes final (a 1-day window aggregate with
 * `final`), and again for each later revision of it (late data), every formula in force for that
 * day is evaluated and its result upserted into `formula_results` (Warm, `results.ts`).
 *
 * - Customer × product days: the day's metrics are the batch's aggregates of that day together with
 *   the ones the Warm store holds (`customer_product_daily_aggregates`, on the write endpoint: the
 *   daily-aggregates sink writes the same batch beside this one), the highest revision of each.
 * - A device's day (device-scoped formulas only): the batch's and the Hot store's device 1-day
 *   aggregates.
 *
 * Exactly once comes from the results' input revisions: the same aggregates give the same results
 * with the same input revision, which the upsert does not apply again; more data gives a higher one.
 */
import type { BatchContext, Sink, WindowAggregate } from '../../topology/index.ts';
import type { HotStore } from '../hot/hotStore.ts';
import type { SqlClient } from '../postgres/sql.ts';
import { type CustomerProductDay, readDailyAggregatesOf } from '../warm/dailyAggregates.ts';
import { dayKeyOf, gatherDays, resultRows } from './days.ts';
import type { FormulasInForce } from './inForce.ts';
import { type FormulaResult, writeFormulaResults } from './results.ts';

const DAY_MS = 86_400_000;

/** What the sink reads and writes. */
export interface FormulaSinkDeps {
  /** The Warm store's write endpoint: the daily aggregates are read, the results written. */
  readonly warm: SqlClient;
  /** Device 1-day aggregates, for device-scoped formulas. */
  readonly hot: Pick<HotStore, 'readAggregates'>;
  readonly formulas: FormulasInForce;
}

/** The days of `batch` whose final (or a later revision of it) is in the batch, and that have formulas. */
function dueDays(batch: readonly WindowAggregate[], formulas: FormulasInForce) {
  const customerDays = new Map<string, CustomerProductDay>();
  const devices = new Map<string, { deviceId: string; dayStart: number }>();
  for (const a of batch) {
    if (a.window !== '1d' || !a.final) continue;
    if (a.scope === 'customer-product' && formulas.hasCustomerDays(a.productId))
      customerDays.set(dayKeyOf(a), {
        customerId: a.customerId ?? null,
        productId: a.productId,
        dayStart: a.windowStart,
      });
    else if (a.scope === 'device' && formulas.hasDevice(a.deviceId!))
      devices.set(dayKeyOf(a), { deviceId: a.deviceId!, dayStart: a.windowStart });
  }
  return { customerDays, devices };
}

/** Evaluates the formulas of the days made final in each batch; see the file's comment. */
export function formulaSink({ warm, hot, formulas }: FormulaSinkDeps): Sink<WindowAggregate> {
  return {
    type: 'formula-results',
    stores: [
      { name: 'warm.formula_results', kind: 'postgresql' },
      { name: 'warm.customer_product_daily_aggregates', kind: 'postgresql' },
    ],
    durability: 'on-write',
    async write(batch: readonly WindowAggregate[], _ctx: BatchContext) {
      const { customerDays, devices } = dueDays(batch, formulas);
      if (customerDays.size === 0 && devices.size === 0) return;
      const inBatch = batch.filter(
        (a) => a.window === '1d' && (customerDays.has(dayKeyOf(a)) || devices.has(dayKeyOf(a))),
      );
      const days = gatherDays(await readDailyAggregatesOf(warm, [...customerDays.values()]));
      for (const { deviceId, dayStart } of devices.values())
        gatherDays(
          await hot.readAggregates({
            scope: 'device',
            key: deviceId,
            window: '1d',
            from: dayStart,
            to: dayStart + DAY_MS,
          }),
          days,
        );
      gatherDays(inBatch, days);
      const rows: FormulaResult[] = [];
      for (const day of days.values())
        rows.push(...resultRows(day, formulas.forDay(day.productId, day.target, day.dayStart)));
      await writeFormulaResults(warm, rows);
    },
  };
}
