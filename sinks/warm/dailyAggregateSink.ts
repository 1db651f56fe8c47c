/**
 * Daily customer x product aggregates into `customer_product_daily_aggregates`: the window stage's
 * `customer-product` scope, 1-day windows. One multi-row upsert (arrays through `unnest`) per
 * chunk; a row is replaced only by a revision at least as high, so a replay or a late, lower
 * revision changes nothing. Other scopes and window sizes in the same stream belong to the Hot
 * store and are passed over.
 */
import type { Sink, WindowAggregate } from '../../topology/index.ts';
import type { SqlClient } from './sql.ts';

const CHUNK = 5000;

const UPSERT = `INSERT INTO customer_product_daily_aggregates (customer_key, customer_id, product_id, metric, day_start,
    day_end, revision, final, count, sum, min, max, mean, m2, first, first_at, last, last_at)
  SELECT coalesce(cu, ''), cu, p, me, to_timestamp(ds / 1000), to_timestamp(de / 1000), rv, f, c, su, mi, ma, mn, m2, fi,
    to_timestamp(fa / 1000), la, to_timestamp(lt / 1000)
  FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::int[], $7::bool[], $8::float8[],
    $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::float8[], $15::float8[],
    $16::float8[], $17::float8[]) AS u(cu, p, me, ds, de, rv, f, c, su, mi, ma, mn, m2, fi, fa, la, lt)
  ON CONFLICT (customer_key, product_id, metric, day_start) DO UPDATE SET day_end = EXCLUDED.day_end,
    revision = EXCLUDED.revision, final = EXCLUDED.final, count = EXCLUDED.count, sum = EXCLUDED.sum,
    min = EXCLUDED.min, max = EXCLUDED.max, mean = EXCLUDED.mean, m2 = EXCLUDED.m2, first = EXCLUDED.first,
    first_at = EXCLUDED.first_at, last = EXCLUDED.last, last_at = EXCLUDED.last_at, updated_at = now()
  WHERE customer_product_daily_aggregates.revision <= EXCLUDED.revision`;

/** True for the aggregates this sink keeps: customer x product, 1-day windows. */
export function isDailyCustomerProduct(a: WindowAggregate): boolean {
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
    async write(batch) {
      const rows = highestRevisions(batch.filter(isDailyCustomerProduct));
      for (let i = 0; i < rows.length; i += CHUNK) {
        const chunk = rows.slice(i, i + CHUNK);
        const columns: unknown[][] = Array.from({ length: 17 }, () => []);
        for (const a of chunk) {
          const s = a.stats;
          const cells = [
            a.customerId ?? null,
            a.productId,
            a.metric,
            a.windowStart,
            a.windowEnd,
            a.revision,
            a.final,
            s.count,
            s.sum,
            s.min,
            s.max,
            s.mean,
            s.m2,
            s.first,
            s.firstAt,
            s.last,
            s.lastAt,
          ];
          for (let c = 0; c < cells.length; c++) columns[c]!.push(cells[c]);
        }
        await client.query(UPSERT, columns);
      }
    },
  };
}
