/**
 * How the window operator names its windows, and the way from a slot to the platform's
 * `WindowAggregate`. A bucket is one window of one scope and size (`scope|size|start`); a row is a
 * key within it, its name ending in a unit separator (`product US`, `product US customer US`). A
 * partial (this shard's part of a product or customer × product window) is the field
 * `bucket RS row` of the published map state `partials`.
 */
import {
  type AggregateScope,
  type Enriched,
  type MetricStats,
  readStats,
  STATS_STRIDE,
  type WindowAggregate,
  type WindowSize,
  windowRevision,
} from '../../topology/index.ts';
import type { Slot } from './slots.ts';

/** Ends each part of a row name (the unit separator). */
export const US = '\x1f';
/** Separates a partial's bucket from its row (the record separator). */
const RS = '\x1e';
/** Stands for a customer the master data does not know (`customer_id: null`). */
const NO_CUSTOMER = '\x00';

/** The id of the bucket of one window of a scope and size. */
export function bucketId(scope: AggregateScope, size: WindowSize, start: number): string {
  return `${scope}|${size}|${start}`;
}

/** The field of a partial: a bucket's row. */
export function partialField(bucket: string, row: string): string {
  return `${bucket}${RS}${row}`;
}

/** Row names (`key US`) of keys that recur across batches (products), so the hot loop builds no string. */
export function rowNames() {
  const byKey = new Map<string, string>();
  return (key: string): string => {
    let name = byKey.get(key);
    if (name === undefined) {
      if (byKey.size > 10_000) byKey.clear();
      name = `${key}${US}`;
      byKey.set(key, name);
    }
    return name;
  };
}

/** The row name of a record's key in a shared scope; product rows come from `productRow`. */
export function rowNameOf(
  scope: AggregateScope,
  record: Enriched,
  productRow: (key: string) => string,
): string {
  if (scope === 'product') return productRow(record.productId);
  return `${record.productId}${US}${record.customer_id ?? NO_CUSTOMER}${US}`;
}

/** A partial's field parsed: its window and row. */
export interface PartialKey {
  readonly scope: AggregateScope;
  readonly size: WindowSize;
  readonly start: number;
  readonly product: string;
  /** The customer of a customer × product row (`null`: unknown to the master data). */
  readonly customer: string | null;
}

/** Parses a partial's field (see {@link partialField}). */
export function parsePartial(field: string): PartialKey {
  const [bucket = '', row = ''] = field.split(RS);
  const [scope, size, start] = bucket.split('|') as [AggregateScope, WindowSize, string];
  const [product = '', customer] = row.split(US);
  return {
    scope,
    size,
    start: Number(start),
    product,
    customer: customer === undefined || customer === NO_CUSTOMER ? null : customer,
  };
}

/** The statistics of column `c` of a slot. */
export function statsOf(slot: Slot, c: number): MetricStats {
  return readStats(slot.data, STATS_STRIDE * c);
}

/** A device window's aggregates, one per metric: `window` names it, `slot` holds its statistics. */
export function deviceAggregates(
  window: Pick<Slot, 'product' | 'device' | 'size' | 'start' | 'end'>,
  slot: Slot,
  final: boolean,
  out: WindowAggregate[],
): void {
  for (let c = 0; c < slot.columns.length; c++) {
    const stats = statsOf(slot, c);
    out.push({
      scope: 'device',
      window: window.size,
      productId: window.product,
      metric: slot.columns[c]!,
      windowStart: window.start,
      windowEnd: window.end,
      revision: windowRevision(stats.count, final),
      final,
      stats,
      deviceId: window.device,
    });
  }
}

/** A merged partial's aggregates, one per metric. */
export function sharedAggregates(
  key: PartialKey,
  merged: Slot,
  final: boolean,
  out: WindowAggregate[],
): void {
  for (let c = 0; c < merged.columns.length; c++) {
    const stats = statsOf(merged, c);
    const revision = windowRevision(stats.count, final);
    const metric = merged.columns[c]!;
    // one object each, not a copy of the product's with the customer added
    out.push(
      key.scope === 'customer-product'
        ? {
            scope: key.scope,
            window: key.size,
            productId: key.product,
            metric,
            windowStart: merged.start,
            windowEnd: merged.end,
            revision,
            final,
            stats,
            customerId: key.customer,
          }
        : {
            scope: key.scope,
            window: key.size,
            productId: key.product,
            metric,
            windowStart: merged.start,
            windowEnd: merged.end,
            revision,
            final,
            stats,
          },
    );
  }
}
