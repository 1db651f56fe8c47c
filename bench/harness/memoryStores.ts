/**
 * In-memory stand-ins for the Warm store's first-slice tables, for the in-process mode: the same
 * writes the PostgreSQL sinks make (hourly count partials added up per product and hour, dead letters
 * kept), held in maps the visibility probe reads.
 */
import type { DeadLetter, ProductHourCount, Sink } from '../../topology/index.ts';
import type { HourlyCountReader } from './probe.ts';

/** The in-memory Warm tables and their sinks. */
export interface MemoryWarm {
  readonly hourlyCounts: Sink<ProductHourCount>;
  deadLetters(): Sink<DeadLetter>;
  readonly read: HourlyCountReader;
  /** Records counted over every hour and product. */
  counted(): number;
  deadLetterCount(): number;
}

/** Empty in-memory Warm tables. */
export function memoryWarm(): MemoryWarm {
  const counts = new Map<string, number>();
  let counted = 0;
  let dead = 0;
  return {
    hourlyCounts: {
      type: 'memory-hourly-counts',
      stores: [{ name: 'warm.product_hourly_counts', kind: 'memory' }],
      write: async (batch) => {
        for (const p of batch) {
          const key = `${p.productId}\u0000${p.hourStart}`;
          counts.set(key, (counts.get(key) ?? 0) + p.count);
          counted += p.count;
        }
      },
    },
    deadLetters: () => ({
      type: 'memory-dead-letters',
      stores: [{ name: 'warm.dead_letters', kind: 'memory' }],
      write: async (batch) => {
        // Too-late records were decoded and counted already: they are not malformed input.
        for (const d of batch) if (d.code !== 'too-late') dead++;
      },
    }),
    read: async (productId, hourStarts) =>
      new Map(hourStarts.map((h) => [h, counts.get(`${productId}\u0000${h}`) ?? 0])),
    counted: () => counted,
    deadLetterCount: () => dead,
  };
}

/** A sink that only counts what it is given: an in-memory stand-in for a store the probe does not read. */
export function countingSink<T>(store: string): Sink<T> & { readonly count: () => number } {
  let count = 0;
  return {
    type: 'memory-count',
    stores: [{ name: store, kind: 'memory' }],
    write: async (batch) => {
      count += batch.length;
    },
    count: () => count,
  };
}
