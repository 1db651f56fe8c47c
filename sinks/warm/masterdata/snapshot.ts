/**
 * A map of the master data kept in memory, for stages that ask synchronously on every record: read
 * whole from the Warm store's read endpoint, then again on an interval. A failed refresh keeps the
 * previous map (the stage goes on; the next refresh tries again). `deviceProducts.ts` and
 * `siteZones.ts` are two.
 */
import type { Clock, Logger } from '../../../topology/index.ts';
import { errorMessage } from '../../../topology/index.ts';
import type { SqlClient } from '../../postgres/sql.ts';

/** A key → value map of the master data, refreshed. */
export interface MasterDataSnapshot {
  get(key: string): string | undefined;
  /** Keys in the map. */
  readonly size: number;
  /** Reads the map again now. */
  refresh(): Promise<void>;
  /** Refreshes every `intervalMs` until `signal` aborts. */
  watch(intervalMs: number, signal: AbortSignal): Promise<void>;
}

/** What a snapshot reads: a query of rows `{ k, v }`, and what to call it in a log line. */
export interface SnapshotQuery {
  /** E.g. `device registry`. */
  readonly label: string;
  /** Selects the pairs as columns `k` and `v`. */
  readonly sql: string;
  /** Keeps a row or not (e.g. a value that cannot be used); all when absent. */
  readonly keep?: (key: string, value: string) => boolean;
}

/** A snapshot of `query`'s pairs on the read endpoint `read`. */
export function pgSnapshot(
  read: SqlClient,
  query: SnapshotQuery,
  clock: Clock,
  log: Logger,
): MasterDataSnapshot {
  let map = new Map<string, string>();
  const refresh = async () => {
    const { rows } = await read.query<{ k: string; v: string }>(query.sql);
    const keep = query.keep;
    map = new Map(rows.filter((r) => keep === undefined || keep(r.k, r.v)).map((r) => [r.k, r.v]));
  };
  return {
    get: (key) => map.get(key),
    get size() {
      return map.size;
    },
    refresh,
    async watch(intervalMs, signal) {
      while (!signal.aborted) {
        await clock.sleep(intervalMs, signal).catch(() => {});
        if (signal.aborted) return;
        await refresh().catch((error) =>
          log.warn({ error: errorMessage(error) }, `${query.label} refresh failed; keeping the previous one`),
        );
      }
    },
  };
}
