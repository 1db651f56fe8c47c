/**
 * Reads of the first slice's Warm tables. The tables themselves are created by the versioned
 * migrations in `migrations/` (see `migrate.ts`).
 */
import type { SqlClient } from './sql.ts';

/** One row of `product_hourly_counts`. */
export interface ProductHourlyCountRow {
  readonly productId: string;
  readonly hourStart: Date;
  readonly count: number;
}

/** Reads the hourly counts, oldest hour first. */
export async function readProductHourlyCounts(client: SqlClient): Promise<ProductHourlyCountRow[]> {
  const { rows } = await client.query<{
    product_id: string;
    hour_start: Date;
    record_count: string | number;
  }>(
    'SELECT product_id, hour_start, record_count FROM product_hourly_counts ORDER BY hour_start, product_id',
  );
  return rows.map((r) => ({
    productId: r.product_id,
    hourStart: new Date(r.hour_start),
    count: Number(r.record_count),
  }));
}
