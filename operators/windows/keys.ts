/**
 * How the window operator names what it keeps in the state backend, and the way back. A bucket is one
 * window of one scope and size (`scope|size|start`); a field is its key's row name followed by the
 * metric, the row name ending in a unit separator (`product US`, `product US device US`,
 * `product US customer US`), so a backend can keep every metric of a key in one row. The backend
 * treats both as opaque; a claimed window comes back as the platform's `WindowAggregate`.
 */
import {
  type AggregateScope,
  type Emission,
  type Enriched,
  type WindowAggregate,
  type WindowSize,
  windowRevision,
} from '../../topology/index.ts';

/** Ends each part of a row name (the unit separator): a field's metric follows the last one. */
export const US = '\x1f';
/** Stands for a customer the master data does not know (`customer_id: null`). */
const NO_CUSTOMER = '\x00';

/** The id of the bucket of one window of a scope and size. */
export function bucketId(scope: AggregateScope, size: WindowSize, start: number): string {
  return `${scope}|${size}|${start}`;
}

/**
 * Row names (`key US`) of keys that recur across batches (products), so the hot loop builds no string
 * for them; device and customer keys are too many to keep.
 */
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

/** The row name of a record's key in a scope; product rows come from `productRow` (see {@link rowNames}). */
export function rowNameOf(
  scope: AggregateScope,
  record: Enriched,
  productRow: (key: string) => string,
): string {
  if (scope === 'product') return productRow(record.productId);
  if (scope === 'device') return `${record.productId}${US}${record.device_id}${US}`;
  return `${record.productId}${US}${record.customer_id ?? NO_CUSTOMER}${US}`;
}

const parsedBuckets = new Map<string, { scope: AggregateScope; window: WindowSize; start: number }>();

/** A bucket id's scope, size and start, parsed once per bucket rather than once per field. */
function bucketOf(id: string) {
  let parsed = parsedBuckets.get(id);
  if (parsed === undefined) {
    const [scope, window, start] = id.split('|') as [AggregateScope, WindowSize, string];
    if (parsedBuckets.size > 10_000) parsedBuckets.clear();
    parsed = { scope, window, start: Number(start) };
    parsedBuckets.set(id, parsed);
  }
  return parsed;
}

/** Turns a claimed window back into the platform's record. */
export function aggregateOf(e: Emission): WindowAggregate {
  const { scope, window, start } = bucketOf(e.bucket);
  const f = e.field;
  const first = f.indexOf(US);
  const last = f.lastIndexOf(US);
  const productId = f.slice(0, first);
  const metric = f.slice(last + 1);
  // one object literal per shape: spreading a base object per emission doubles the allocations
  if (scope === 'device')
    return {
      scope,
      window,
      productId,
      metric,
      windowStart: start,
      windowEnd: e.windowEnd,
      revision: windowRevision(e.stats.count, e.final),
      final: e.final,
      stats: e.stats,
      deviceId: f.slice(first + 1, last),
    };
  if (scope === 'customer-product') {
    const customer = f.slice(first + 1, last);
    return {
      scope,
      window,
      productId,
      metric,
      windowStart: start,
      windowEnd: e.windowEnd,
      revision: windowRevision(e.stats.count, e.final),
      final: e.final,
      stats: e.stats,
      customerId: customer === NO_CUSTOMER ? null : customer,
    };
  }
  return {
    scope,
    window,
    productId,
    metric,
    windowStart: start,
    windowEnd: e.windowEnd,
    revision: windowRevision(e.stats.count, e.final),
    final: e.final,
    stats: e.stats,
  };
}

/** A field's row name: up to and including its last unit separator. */
export function rowOfField(field: string): string {
  return field.slice(0, field.lastIndexOf(US) + 1);
}
