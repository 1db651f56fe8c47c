/**
 * The Warm store as the benchmark uses it: the write endpoint wrapped to count round trips (every
 * statement, plus BEGIN and COMMIT of a transaction), and the probe's read of the hourly counts.
 */
import type { SqlClient } from '../../sinks/warm/sql.ts';
import type { WarmStore } from '../../sinks/warm/store.ts';
import type { HourlyCountReader } from './probe.ts';

/** A Warm store whose writes are counted. */
export interface CountedWarm {
  readonly store: WarmStore;
  /** Round trips made on the write endpoint so far. */
  roundTrips(): number;
}

function counting(client: SqlClient, count: (n: number) => void): SqlClient {
  return {
    query: (text, params) => {
      count(1);
      return client.query(text, params);
    },
    transaction: (work) => {
      count(2);
      return client.transaction((tx) => work(counting(tx, count)));
    },
    close: () => client.close(),
  };
}

/** Wraps `warm` so that statements on its write endpoint are counted. */
export function countedWarm(warm: WarmStore): CountedWarm {
  let trips = 0;
  const write = counting(warm.write, (n) => {
    trips += n;
  });
  return {
    store: { write, read: warm.read, close: () => warm.close() },
    roundTrips: () => trips,
  };
}

/** Reads hourly counts of one product from `product_hourly_counts` on `client`. */
export function sqlHourlyCounts(client: SqlClient): HourlyCountReader {
  return async (productId, hourStarts) => {
    const { rows } = await client.query<{ h: string; n: string }>(
      `SELECT (extract(epoch FROM hour_start) * 1000)::bigint::text AS h, record_count::text AS n
         FROM product_hourly_counts WHERE product_id = $1 AND hour_start = ANY($2::timestamptz[])`,
      [productId, hourStarts.map((h) => new Date(h).toISOString())],
    );
    return new Map(rows.map((r) => [Number(r.h), Number(r.n)]));
  };
}

/** Records counted and dead letters stored in the Warm store. */
export async function warmTotals(client: SqlClient): Promise<{ counted: number; deadLetters: number }> {
  const { rows } = await client.query<{ counted: string; dead: string }>(
    `SELECT (SELECT coalesce(sum(record_count), 0) FROM product_hourly_counts)::text AS counted,
            (SELECT count(*) FROM dead_letters WHERE code IS DISTINCT FROM 'too-late')::text AS dead`,
  );
  return { counted: Number(rows[0]?.counted ?? 0), deadLetters: Number(rows[0]?.dead ?? 0) };
}
