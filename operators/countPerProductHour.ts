/**
 * Counts records per product per UTC hour of event time, pre-aggregated per batch: one partial per
 * (product, hour) leaves the operator for each batch, never one per record. The first slice's
 * aggregate; the windowed aggregation stage supersedes it.
 */
import type { Operator, ProductHourCount, Telemetry } from '../topology/index.ts';

const HOUR_MS = 3_600_000;

interface MutableCount {
  productId: string;
  hourStart: number;
  count: number;
}

/** Per-batch partial counts of records per product and UTC hour. */
export function countPerProductHour(): Operator<Telemetry, ProductHourCount> {
  return {
    type: 'count-per-product-hour',
    process: function countBatch(batch) {
      // product → hour start → count; nested maps avoid building a key string per record
      const byProduct = new Map<string, Map<number, MutableCount>>();
      const out: MutableCount[] = [];
      for (const record of batch) {
        const hourStart = record.device_timestamp - (record.device_timestamp % HOUR_MS);
        let byHour = byProduct.get(record.productId);
        if (byHour === undefined) {
          byHour = new Map();
          byProduct.set(record.productId, byHour);
        }
        const current = byHour.get(hourStart);
        if (current !== undefined) {
          current.count++;
        } else {
          const partial = { productId: record.productId, hourStart, count: 1 };
          byHour.set(hourStart, partial);
          out.push(partial);
        }
      }
      return out;
    },
  };
}
