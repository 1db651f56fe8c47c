/** Reads of the daily customer x product aggregates, on the Warm store's read endpoint. */
import type { WindowAggregate } from '../../topology/index.ts';
import type { SqlClient } from '../postgres/sql.ts';
import { type StatsRow, statsOfRow } from '../postgres/statsRow.ts';

/** Which daily aggregates to read; every condition given must hold. */
export interface DailyAggregateFilter {
  readonly productId?: string;
  /** A customer id, or `null` for devices unknown to the master data. */
  readonly customerId?: string | null;
  readonly metric?: string;
  /** Days starting at or after this time (epoch ms). */
  readonly from?: number;
  /** Days starting before this time (epoch ms). */
  readonly to?: number;
}

interface Row extends StatsRow {
  customer_id: string | null;
  product_id: string;
  metric: string;
  day_start: Date;
  day_end: Date;
  revision: number;
  final: boolean;
}

/** Daily customer x product aggregates matching `filter`, by day, customer, product and metric. */
export async function readDailyAggregates(
  client: SqlClient,
  filter: DailyAggregateFilter = {},
): Promise<WindowAggregate[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filter.productId !== undefined) where.push(`product_id = ${param(filter.productId)}`);
  if (filter.customerId !== undefined) where.push(`customer_key = ${param(filter.customerId ?? '')}`);
  if (filter.metric !== undefined) where.push(`metric = ${param(filter.metric)}`);
  if (filter.from !== undefined) where.push(`day_start >= ${param(new Date(filter.from).toISOString())}`);
  if (filter.to !== undefined) where.push(`day_start < ${param(new Date(filter.to).toISOString())}`);
  return rowsOf(
    await client.query<Row>(
      `SELECT ${COLUMNS}
       FROM customer_product_daily_aggregates${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
       ORDER BY day_start, customer_key, product_id, metric`,
      params,
    ),
  );
}

/** One customer x product day. */
export interface CustomerProductDay {
  /** `null`: devices unknown to the master data. */
  readonly customerId: string | null;
  readonly productId: string;
  readonly dayStart: number;
}

/** Every metric's aggregate of each of `days` (one query), by day, customer, product and metric. */
export async function readDailyAggregatesOf(
  client: SqlClient,
  days: readonly CustomerProductDay[],
): Promise<WindowAggregate[]> {
  if (days.length === 0) return [];
  return rowsOf(
    await client.query<Row>(
      `SELECT ${COLUMNS}
       FROM customer_product_daily_aggregates
       WHERE (customer_key, product_id, day_start) IN (
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]))
       ORDER BY day_start, customer_key, product_id, metric`,
      [
        days.map((d) => d.customerId ?? ''),
        days.map((d) => d.productId),
        days.map((d) => new Date(d.dayStart).toISOString()),
      ],
    ),
  );
}

const COLUMNS = `customer_id, product_id, metric, day_start, day_end, revision, final, count, sum, min, max, mean, m2,
  first, first_at, last, last_at`;

function rowsOf({ rows }: { rows: Row[] }): WindowAggregate[] {
  return rows.map((r) => ({
    scope: 'customer-product',
    window: '1d',
    productId: r.product_id,
    customerId: r.customer_id,
    metric: r.metric,
    windowStart: new Date(r.day_start).getTime(),
    windowEnd: new Date(r.day_end).getTime(),
    revision: Number(r.revision),
    final: r.final,
    stats: statsOfRow(r),
  }));
}
