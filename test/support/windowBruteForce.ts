/**
 * The window operator's reference workloads and their brute-force aggregates, shared by its unit tests
 * (test driver, embedded keyed state) and its integration tests (Redis, several workers, workers lost):
 * statistics computed the slow way, generated fleets, and the comparison of what a run emitted with
 * what it should have.
 */
import { windowAssigner } from '../../operators/windows/index.ts';
import type {
  AggregateScope,
  Enriched,
  MetricStats,
  WindowAggregate,
  WindowSize,
} from '../../topology/index.ts';

/** Statistics of a list of (event time, value) pairs, computed the slow way. */
export function statsOf(points: readonly (readonly [number, number])[]): MetricStats {
  const values = points.map(([, v]) => v);
  const count = values.length;
  const sum = values.reduce((a, b) => a + b, 0);
  const mean = sum / count;
  const byTime = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const first = byTime[0]!;
  const last = [...points].sort((a, b) => b[0] - a[0] || b[1] - a[1])[0]!;
  return {
    count,
    sum,
    min: Math.min(...values),
    max: Math.max(...values),
    mean,
    m2: values.reduce((a, v) => a + (v - mean) ** 2, 0),
    first: first[1],
    firstAt: first[0],
    last: last[1],
    lastAt: last[0],
  };
}

/** A telemetry record with its master data, as the window operator reads it. */
export function enriched(
  device: string,
  productId: string,
  customer: string | null,
  t: number,
  metrics: Enriched['metrics'],
  shardId = 'shard-0',
): Enriched {
  return {
    device_id: device,
    device_timestamp: t,
    productId,
    metrics,
    ingest_timestamp: t,
    rawRef: { protocol: 'mqtt', format: 'json', stream: 'telemetry', shardId, sequenceNumber: '0' },
    site_id: null,
    customer_id: customer,
  };
}

/** A generated fleet's records per shard, in arrival order (event times out of order). */
export function windowWorkload(options: {
  readonly seed: number;
  readonly devices: number;
  readonly products: number;
  readonly metrics: number;
  readonly shards: number;
  readonly records: number;
  readonly spanMs: number;
  readonly start: number;
  readonly outOfOrderMs: number;
  /** Share of records delayed far beyond the lateness. */
  readonly lateShare: number;
  readonly lateByMs: number;
}): Enriched[][] {
  let state = options.seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const perShard: Enriched[][] = Array.from({ length: options.shards }, () => []);
  for (let i = 0; i < options.records; i++) {
    const device = Math.floor(random() * options.devices);
    const progress = options.start + (i / options.records) * options.spanMs;
    let t = Math.round(progress - random() * options.outOfOrderMs);
    if (random() < options.lateShare) t -= options.lateByMs;
    const metrics: Record<string, number | string | boolean | null> = {};
    for (let m = 0; m < options.metrics; m++) metrics[`m${m}`] = Math.round((random() - 0.3) * 1e6) / 100;
    metrics.state = 'ok';
    metrics.alarm = random() < 0.5;
    metrics.missing = null;
    perShard[device % options.shards]!.push(
      enriched(
        `dev-${device}`,
        `prod-${device % options.products}`,
        device % 7 === 0 ? null : `cust-${device % 13}`,
        t,
        metrics,
        `shard-${device % options.shards}`,
      ),
    );
  }
  return perShard;
}

/** The identity of one window of one key and metric, as a string. */
export function aggregateKey(a: Omit<WindowAggregate, 'stats' | 'revision' | 'final' | 'windowEnd'>): string {
  const key = a.scope === 'device' ? a.deviceId : a.scope === 'customer-product' ? String(a.customerId) : '';
  return `${a.scope}|${a.window}|${a.windowStart}|${a.productId}|${key}|${a.metric}`;
}

/** Aggregates computed by brute force: every record's every numeric metric into every window. */
export function referenceAggregates(
  records: readonly Enriched[],
  windows: readonly WindowSize[],
  zone = 'UTC',
): Map<string, MetricStats> {
  const assign = windowAssigner(zone);
  const points = new Map<string, [number, number][]>();
  const slices: [AggregateScope, WindowSize][] = [
    ...windows.map((w): [AggregateScope, WindowSize] => ['product', w]),
    ...windows.map((w): [AggregateScope, WindowSize] => ['device', w]),
    ['customer-product', '1d'],
  ];
  for (const r of records) {
    for (const [scope, size] of slices) {
      const { start } = assign(r.device_timestamp, size);
      for (const [metric, value] of Object.entries(r.metrics)) {
        if (typeof value !== 'number') continue;
        const key = aggregateKey({
          scope,
          window: size,
          windowStart: start,
          productId: r.productId,
          deviceId: r.device_id,
          customerId: r.customer_id,
          metric,
        });
        const list = points.get(key) ?? [];
        list.push([r.device_timestamp, value]);
        points.set(key, list);
      }
    }
  }
  return new Map([...points].map(([k, p]) => [k, statsOf(p)]));
}

/** The highest revision of every window emitted. */
export function latestAggregates(emitted: readonly WindowAggregate[]): Map<string, WindowAggregate> {
  const latest = new Map<string, WindowAggregate>();
  for (const a of emitted) {
    const key = aggregateKey(a);
    const seen = latest.get(key);
    if (seen === undefined || a.revision > seen.revision) latest.set(key, a);
  }
  return latest;
}

const close = (a: number, b: number, scale: number) =>
  Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(b), scale, 1e-300);

/**
 * True when a stored or emitted window equals the brute force's statistics: final; count, min, max,
 * first and last exact; sum, mean and variance within 1e-9 relative (to the window's magnitude).
 */
export function matchesReference(
  got: { readonly final: boolean; readonly stats: MetricStats },
  want: MetricStats,
) {
  const s = got.stats;
  const scale = Math.max(Math.abs(want.max), Math.abs(want.min));
  return (
    got.final &&
    s.count === want.count &&
    s.min === want.min &&
    s.max === want.max &&
    s.first === want.first &&
    s.firstAt === want.firstAt &&
    s.last === want.last &&
    s.lastAt === want.lastAt &&
    close(s.sum, want.sum, scale * want.count) &&
    close(s.mean, want.mean, scale) &&
    close(s.m2 / s.count, want.m2 / want.count, scale * scale)
  );
}

/** Checks emitted final aggregates against the brute force, window by window; returns the mismatches. */
export function compareAggregates(
  latest: ReadonlyMap<string, WindowAggregate>,
  expected: ReadonlyMap<string, MetricStats>,
): string[] {
  const problems: string[] = [];
  for (const [key, want] of expected) {
    const got = latest.get(key);
    if (got === undefined) {
      problems.push(`${key}: not emitted`);
      continue;
    }
    const ok = matchesReference(got, want);
    if (!ok) problems.push(`${key}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
  }
  for (const key of latest.keys()) if (!expected.has(key)) problems.push(`${key}: emitted but not expected`);
  return problems;
}
