/**
 * The stores a worker writes, opened from configuration without connecting: connections are made on
 * first use, so a topology can be built and described with no service running.
 *
 * - Warm: PostgreSQL (write and read endpoints) or embedded PGlite.
 * - Hot: `hot` when configured (PostgreSQL or MongoDB / DocumentDB), else tables in the Warm store.
 * - Dead letters: the Warm table or SQS (`deadLetters`).
 * - Cold: the Iceberg table (`cold`), when configured.
 */
import { type ColdTable, openColdTable } from '../sinks/cold/catalog/coldTable.ts';
import { openDeadLetterStore } from '../sinks/deadletter/config.ts';
import type { DeadLetterStore } from '../sinks/deadletter/deadLetterStore.ts';
import type { HotStore } from '../sinks/hot/hotStore.ts';
import { openHotStore } from '../sinks/hot/openHotStore.ts';
import { postgresHotStore } from '../sinks/hot/postgresHotStore.ts';
import { openWarmStore, type WarmStore } from '../sinks/postgres/store.ts';
import type { Clock } from '../topology/index.ts';
import type { WorkerConfig } from './config.ts';

/** The opened (not yet connected) stores of one worker. */
export interface WorkerStores {
  readonly warm: WarmStore;
  readonly hot: HotStore;
  readonly deadLetters: DeadLetterStore;
  readonly cold?: ColdTable;
  close(): Promise<void>;
}

/**
 * A Hot store opened on first use. `openHotStore` connects at once for MongoDB, so the store is
 * wrapped: its kind and retention are known from the configuration, every method waits for the
 * opened store.
 */
function lazyHotStore(config: NonNullable<WorkerConfig['hot']>): HotStore {
  let opened: Promise<HotStore> | undefined;
  const get = () => {
    opened ??= openHotStore(config);
    return opened;
  };
  const known: Partial<HotStore> = {
    kind: config.kind === 'mongodb' ? 'mongodb' : 'postgresql',
    retentionDays: config.retentionDays,
    close: async () => {
      if (opened) await (await opened).close();
    },
  };
  return new Proxy(known as HotStore, {
    get(target, key: keyof HotStore) {
      if (key in target) return target[key];
      return async (...args: unknown[]) => {
        const store = await get();
        return (store[key] as (...a: unknown[]) => unknown).apply(store, args);
      };
    },
  });
}

/** Opens a worker's stores; `warm` is used as given when the caller already opened it (the demo). */
export async function openWorkerStores(
  config: WorkerConfig,
  clock: Clock,
  given?: WarmStore,
): Promise<WorkerStores> {
  const warm = given ?? openWarmStore(config.warm);
  const hot = config.hot
    ? lazyHotStore(config.hot)
    : postgresHotStore(warm, { retentionDays: 10, ownsEndpoints: false });
  const deadLetters = await openDeadLetterStore(config.deadLetters, warm.write);
  const cold = config.cold ? openColdTable(config.cold, clock, warm.write) : undefined;
  return {
    warm,
    hot,
    deadLetters,
    cold,
    async close() {
      await hot.close();
      await cold?.close();
      // a Warm store handed in belongs to the caller
      if (given === undefined) await warm.close();
    },
  };
}
