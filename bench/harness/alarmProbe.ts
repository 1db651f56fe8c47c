/**
 * Reading → open alarm visible in the Hot store: a `VisibilityProbe` whose markers are readings that
 * raise and clear the probe rule (`probeRules.ts`), seen through the Hot store's open alarms of the
 * lane's device, what a device page reads (`HotStore.readOpenAlarms({ deviceId })`).
 */
import type { OpenAlarm } from '../../sinks/hot/hotStore.ts';
import type { IngestEnvelope } from '../../topology/index.ts';
import type { Marker, VisibilityProbe } from './probe.ts';
import { PROBE_PRODUCT, PROBE_RULE, PROBE_THRESHOLD } from './probeRules.ts';

/** A raising marker's temperature (°C): above the probe rule's threshold, within the spec's contract (≤ 85). */
export const RAISE_CELSIUS = PROBE_THRESHOLD + 4;
/** A clearing marker's temperature (°C). */
export const CLEAR_CELSIUS = 20;

/** The alarm probe: a visibility probe that also says which markers' latency is an upper bound. */
export interface AlarmProbe extends VisibilityProbe {
  /** Whether the marker was seen only through a later raise (its latency is an upper bound). */
  upperBound(marker: Marker): boolean;
}

/** Reads one device's open alarms from the Hot store. */
export type DeviceAlarmsReader = (deviceId: string) => Promise<readonly OpenAlarm[]>;

/** Whether marker `index` of a lane raises the probe rule (even) or clears it (odd). */
export const raises = (index: number): boolean => index % 2 === 0;

/** A marker as a `thermo-t1` JSON reading from the lane's own device. */
function alarmMarkerEnvelope(
  deviceId: string,
  ts: number,
  receivedAt: number,
  raise: boolean,
): IngestEnvelope {
  const temperature = raise ? RAISE_CELSIUS : CLEAR_CELSIUS;
  return {
    v: 1,
    protocol: 'mqtt',
    topic: `devices/${deviceId}/telemetry`,
    receivedAt,
    productId: PROBE_PRODUCT,
    encoding: 'utf8',
    payload: JSON.stringify({ device_id: deviceId, ts, metrics: { temperature, humidity: 50 } }),
  };
}

/**
 * A probe on the Hot store's open alarms. Each lane is a device of its own (the lane's key, placed in
 * the master data under the probe's customer, for which only the probe rule is enabled, sending
 * nothing else), on one shard. Its markers alternate: even ones raise the probe rule (84 °C), odd ones
 * clear it (20 °C). A marker's device time is its `receivedAt`, made strictly increasing per lane, so
 * it is never behind the shard's watermark (the workload's readings are never ahead of the clock)
 * and the rule operator judges it; the alarm a raise opens has `openedAt` = the raise's device time,
 * and the clear after it closes the episode at once (the rule has no delays, hysteresis or latching).
 *
 * What a poll of the lane's device can tell, and so when a marker counts as visible:
 * - **An open alarm** of the probe rule with `openedAt` = t: every marker of the lane with device time
 *   ≤ t has gone through the pipeline (one shard, written in order). A raise marker is visible when
 *   the open alarm's `openedAt` ≥ its device time; a clear marker before that raise is visible then too.
 * - **No open alarm**, after a poll saw raise `k` open: the clear `k + 1` has closed it; it is visible.
 *   With no raise seen, no open alarm says nothing (nothing may have arrived yet).
 * - A raise cleared before any poll saw it open leaves nothing to see: it (and its clear) become
 *   visible only when a later raise is seen open. Their latency is then an upper bound: the time to
 *   that later poll, at least one marker interval more than the true figure. With polls more frequent
 *   than markers this is rare; `upperBound(marker)` says which markers were resolved this way. For the same
 *   reason the harness ends a run with a raise, so the last pair is resolved by it.
 * Alarms opened before `start` (none on fresh devices) are ignored.
 */
export function hotAlarmProbe(
  store: string,
  read: DeviceAlarmsReader,
  laneKeys: readonly string[],
): AlarmProbe {
  /** Each lane's markers' device times, by index. */
  const times: number[][] = laneKeys.map(() => []);
  /** Per lane: the highest raise a poll saw open, and the highest marker known to be through. */
  const raiseSeen = laneKeys.map(() => -1);
  const through = laneKeys.map(() => -1);
  /** Per lane, the markers seen only through a later raise. */
  const inferred = laneKeys.map(() => new Set<number>());
  let floor = Number.POSITIVE_INFINITY;

  /** The highest marker index of `lane` with device time ≤ `t`. */
  const lastAtOrBefore = (lane: number, t: number): number => {
    const ts = times[lane]!;
    let i = ts.length - 1;
    while (i >= 0 && ts[i]! > t) i--;
    return i;
  };

  const observe = (lane: number, alarms: readonly OpenAlarm[]): void => {
    const openedAt = alarms
      .filter((a) => a.ruleId === PROBE_RULE && a.openedAt >= floor)
      .reduce((max, a) => Math.max(max, a.openedAt), Number.NEGATIVE_INFINITY);
    const before = through[lane]!;
    let now = before;
    if (openedAt > Number.NEGATIVE_INFINITY) {
      const k = lastAtOrBefore(lane, openedAt);
      if (k >= 0) {
        raiseSeen[lane] = Math.max(raiseSeen[lane]!, k);
        now = Math.max(now, k);
        // the markers between what was known and this raise were never seen as such
        for (let i = before + 1; i < k; i++) inferred[lane]!.add(i);
      }
    } else if (raiseSeen[lane]! >= 0 && raiseSeen[lane]! + 1 < times[lane]!.length) {
      now = Math.max(now, raiseSeen[lane]! + 1);
    }
    through[lane] = now;
  };

  return {
    store,
    laneKeys,
    envelope(lane, index, receivedAt) {
      const ts = times[lane]!;
      if (index !== ts.length) throw new Error(`alarm marker ${index} of lane ${lane} out of order`);
      const t = Math.max(receivedAt, (ts[index - 1] ?? Number.NEGATIVE_INFINITY) + 1);
      ts.push(t);
      if (t < floor) floor = t;
      return alarmMarkerEnvelope(laneKeys[lane]!, t, receivedAt, raises(index));
    },
    async start() {
      // Alarms a device had before the run (a reused device id) are older than every marker.
      floor = Number.POSITIVE_INFINITY;
    },
    async visible(pending) {
      if (pending.length === 0) return [];
      const lanes = [...new Set(pending.map((m) => m.lane))];
      const polled = await Promise.all(
        lanes.map(async (lane) => [lane, await read(laneKeys[lane]!)] as const),
      );
      for (const [lane, alarms] of polled) observe(lane, alarms);
      return pending.filter((m) => m.index <= through[m.lane]!);
    },
    upperBound: (m) => inferred[m.lane]?.has(m.index) ?? false,
  };
}
