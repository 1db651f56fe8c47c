/**
 * End-to-end latency read from the store, not from the pipeline: marker records go in with the rest
 * of the workload, and a probe polls the store until each marker shows. A `VisibilityProbe` knows
 * how to make a marker its store will show and how to see it: the Hot store's probe reads a marker
 * device's latest state reaching the marker, what a dashboard reads.
 */
import type { DeviceState } from '../../sinks/hot/hotStore.ts';
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
  /** The store it reads, e.g. `hot.device_state (PostgreSQL)`. */
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

const MARKER_PRODUCT = 'thermo-t1';

/** The hour each lane's markers fall in: past hours no workload record falls in. */
function markerHours(laneKeys: readonly string[], now: number): number[] {
  const anchor = Math.floor(now / HOUR) * HOUR;
  return laneKeys.map((_, lane) => anchor - (MARKER_AGE_HOURS + lane) * HOUR);
}

/** Device time of marker `index` of `lane`: one millisecond apart, inside the lane's hour. */
function markerTime(hours: readonly number[], lane: number, index: number): number {
  return hours[lane]! + 1_800_000 + (index % 1_000_000);
}

/** A marker as a `thermo-t1` JSON reading from the lane's own device. */
function markerEnvelope(deviceId: string, ts: number, receivedAt: number): IngestEnvelope {
  return {
    v: 1,
    protocol: 'mqtt',
    topic: `devices/${deviceId}/telemetry`,
    receivedAt,
    productId: MARKER_PRODUCT,
    encoding: 'utf8',
    payload: JSON.stringify({ device_id: deviceId, ts, metrics: { temperature: 20, humidity: 50 } }),
  };
}

/** Reads a device's latest state from the Hot store (`HotStore.readLatestState`). */
export type LatestStateReader = (deviceId: string) => Promise<DeviceState | undefined>;

/**
 * A probe on the Hot store's latest device state, what a dashboard reads. Each lane's markers come
 * from a device of its own (the lane's key, placed in the master data, sending nothing else), each
 * marker one millisecond of device time after the previous; marker `k` is visible once the device's
 * latest state has reached its device time. The state only moves forward in device time, and a
 * lane's markers share a shard whose batches the sink writes in order.
 */
export function hotStateProbe(
  store: string,
  read: LatestStateReader,
  laneKeys: readonly string[],
  now: number,
): VisibilityProbe {
  const hours = markerHours(laneKeys, now);
  const floor = laneKeys.map(() => Number.NEGATIVE_INFINITY);
  const latest = async () =>
    Promise.all(laneKeys.map(async (key) => (await read(key))?.deviceTimestamp ?? Number.NEGATIVE_INFINITY));
  return {
    store,
    laneKeys,
    envelope: (lane, index, receivedAt) =>
      markerEnvelope(laneKeys[lane]!, markerTime(hours, lane, index), receivedAt),
    async start() {
      // A marker device left by an earlier run sharing the store: its markers must not count.
      const states = await latest();
      for (const [lane, t] of states.entries()) floor[lane] = t;
    },
    async visible(pending) {
      if (pending.length === 0) return [];
      const lanes = [...new Set(pending.map((m) => m.lane))];
      const states = new Map(
        await Promise.all(
          lanes.map(async (lane) => [lane, (await read(laneKeys[lane]!))?.deviceTimestamp] as const),
        ),
      );
      return pending.filter((m) => {
        const t = markerTime(hours, m.lane, m.index);
        const at = states.get(m.lane);
        return at !== undefined && at >= t && t > floor[m.lane]!;
      });
    },
  };
}
