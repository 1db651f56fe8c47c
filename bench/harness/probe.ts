/**
 * End-to-end latency read from the store, not from the pipeline: marker records go in with the rest
 * of the workload, and a probe polls the store until each marker shows. A `VisibilityProbe` knows
 * how to make a marker its store will show and how to see it; the Hot store's probe (a marker
 * device's latest state appearing) is meant to implement the same interface.
 */
import type { IngestEnvelope } from '../../topology/index.ts';

/** One marker: its lane (markers of one lane share a partition key, so one shard) and index. */
export interface Marker {
  readonly lane: number;
  /** From 0, in the order the lane's markers were sent. */
  readonly index: number;
  /** When it was handed to the stream or source (the envelope's `receivedAt`, epoch ms). */
  readonly receivedAt: number;
}

/** Makes markers and finds them in a store. */
export interface VisibilityProbe {
  /** The store it reads, e.g. `warm.product_hourly_counts`. */
  readonly store: string;
  /** The partition key of each lane's markers; lane `i` should land on shard `i` where possible. */
  readonly laneKeys: readonly string[];
  /** The envelope that is marker `index` of `lane`. */
  envelope(lane: number, index: number, receivedAt: number): IngestEnvelope;
  /** Reads what the store already holds, so markers of earlier runs are not counted. */
  start(): Promise<void>;
  /** Of `pending` markers, those the store shows now. */
  visible(pending: readonly Marker[]): Promise<readonly Marker[]>;
}

const HOUR = 3_600_000;
/** Marker hours start this far back: older than any late record a workload sends (≤ 6 h). */
const MARKER_AGE_HOURS = 48;

/** Reads `product_hourly_counts`-like totals: count per hour start of one product. */
export type HourlyCountReader = (
  productId: string,
  hourStarts: readonly number[],
) => Promise<Map<number, number>>;

/**
 * A probe on the hourly counts (today's Warm aggregate). Each lane owns one past hour of
 * `thermo-t1` that no workload record falls in; marker `k` of a lane is visible once that hour's
 * count has grown by `k + 1`. Markers of a lane share a shard, whose batches the sink applies in
 * order, so the count cannot grow past a marker that is not yet stored.
 */
export function hourlyCountProbe(
  store: string,
  read: HourlyCountReader,
  laneKeys: readonly string[],
  now: number,
): VisibilityProbe {
  const product = 'thermo-t1';
  const anchor = Math.floor(now / HOUR) * HOUR;
  const hours = laneKeys.map((_, lane) => anchor - (MARKER_AGE_HOURS + lane) * HOUR);
  const baseline = new Map<number, number>();
  return {
    store,
    laneKeys,
    envelope: (lane, index, receivedAt) => ({
      v: 1,
      protocol: 'mqtt',
      topic: `devices/${laneKeys[lane]}/telemetry`,
      receivedAt,
      productId: product,
      encoding: 'utf8',
      payload: JSON.stringify({
        device_id: laneKeys[lane],
        ts: hours[lane]! + 1_800_000 + (index % 1_000_000),
        metrics: { temperature: 20, humidity: 50, marker: index },
      }),
    }),
    async start() {
      const counts = await read(product, hours);
      for (const h of hours) baseline.set(h, counts.get(h) ?? 0);
    },
    async visible(pending) {
      if (pending.length === 0) return [];
      const counts = await read(product, hours);
      return pending.filter((m) => {
        const h = hours[m.lane]!;
        return (counts.get(h) ?? 0) - (baseline.get(h) ?? 0) > m.index;
      });
    },
  };
}
