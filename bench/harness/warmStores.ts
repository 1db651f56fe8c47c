/**
 * The Warm store as the benchmark uses it: the write endpoint wrapped to count round trips (every
 * statement, plus BEGIN and COMMIT of a transaction), and what it and the Hot tables in it hold.
 */
import type { SqlClient } from '../../sinks/postgres/sql.ts';
import type { WarmStore } from '../../sinks/postgres/store.ts';

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

/**
 * Telemetry rows in the Hot table and dead letters of malformed input, in a Warm store holding the
 * Hot tables. A Hot row is one decoded record (a hub's child, a logger's row) under its natural key,
 * so a replayed batch rewrites rows instead of adding any: the rows are the workload's telemetry
 * records exactly, markers included. Too-late records are in Hot as well as dead-lettered by the
 * windows: their dead letters are not malformed input.
 */
export async function storeTotals(client: SqlClient): Promise<{ stored: number; deadLetters: number }> {
  const { rows } = await client.query<{ stored: string; dead: string }>(
    `SELECT (SELECT count(*) FROM hot_telemetry)::text AS stored,
            (SELECT count(*) FROM dead_letters WHERE code IS DISTINCT FROM 'too-late')::text AS dead`,
  );
  return { stored: Number(rows[0]?.stored ?? 0), deadLetters: Number(rows[0]?.dead ?? 0) };
}
