/**
 * Daily customer x product aggregates into `customer_product_daily_aggregates`: the window stage's
 * `customer-product` scope, 1-day windows. One multi-row upsert (`jsonb_to_recordset`) per
 * chunk; a row is replaced only by a revision at least as high, so a replay or a late, lower
 * revision changes nothing. Other scopes and window sizes in the same stream belong to the Hot
 * store and are passed over.
 */
import type { Sink, WindowAggregate } from '../../topology/index.ts';
import { type SqlClient, writeJsonRows } from '../postgres/sql.ts';
import { statsJson } from '../postgres/statsRow.ts';

const UPSERT = `INSERT INTO customer_product_daily_aggregates (customer_key, customer_id, product_id, metric, day_start,
    day_end, revision, final, count, sum, min, max, mean, m2, first, first_at, last, last_at)
  SELECT coalesce(cu, ''), cu, p, me, to_timestamp(ds / 1000), to_timestamp(de / 1000), rv, f, c, su, mi, ma, mn, m2, fi,
    to_timestamp(fa / 1000), la, to_timestamp(lt / 1000)
  FROM jsonb_to_recordset($1::jsonb) AS u(cu text, p text, me text, ds float8, de float8, rv int, f bool, c float8,
    su float8, mi float8, ma float8, mn float8, m2 float8, fi float8, fa float8, la float8, lt float8)
  ON CONFLICT (customer_key, product_id, metric, day_start) DO UPDATE SET day_end = EXCLUDED.day_end,
    revision = EXCLUDED.revision, final = EXCLUDED.final, count = EXCLUDED.count, sum = EXCLUDED.sum,
    min = EXCLUDED.min, max = EXCLUDED.max, mean = EXCLUDED.mean, m2 = EXCLUDED.m2, first = EXCLUDED.first,
    first_at = EXCLUDED.first_at, last = EXCLUDED.last, last_at = EXCLUDED.last_at, updated_at = now()
  WHERE customer_product_daily_aggregates.revision <= EXCLUDED.revision`;

/** True for the aggregates this sink keeps: customer x product, 1-day windows. */
function isDailyCustomerProduct(a: WindowAggregate): boolean {
  return a.scope === 'customer-product' && a.window === '1d';
}

function highestRevisions(batch: readonly WindowAggregate[]): WindowAggregate[] {
  const best = new Map<string, WindowAggregate>();
  for (const a of batch) {
    const key = `${a.customerId ?? ''}\u0001${a.productId}\u0001${a.metric}\u0001${a.windowStart}`;
    const current = best.get(key);
    if (current === undefined || current.revision <= a.revision) best.set(key, a);
  }
  // in key order: two shards' upserts of the same rows lock them in the same order (no deadlock)
  return [...best.keys()].sort().map((key) => best.get(key)!);
}

/** Writes daily customer x product aggregates to the Warm store's write endpoint. */
export function warmDailyAggregateSink(client: SqlClient): Sink<WindowAggregate> {
  return {
    type: 'postgres-daily-aggregates',
    stores: [{ name: 'warm.customer_product_daily_aggregates', kind: 'postgresql' }],
    durability: 'on-write',
    // forward-only upserts by (customer, product, metric, day): any part of a batch stands alone
    rejects: 'isolate',
    async write(batch) {
      const rows = highestRevisions(batch.filter(isDailyCustomerProduct));
      await writeJsonRows(client, UPSERT, rows, (a) => ({
        cu: a.customerId ?? null,
        p: a.productId,
        me: a.metric,
        ds: a.windowStart,
        de: a.windowEnd,
        rv: a.revision,
        f: a.final,
        ...statsJson(a.stats),
      }));
    },
  };
}
