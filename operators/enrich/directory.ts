/**
 * What the enrich operator reads master data through: a directory answering, for a set of devices
 * in one round trip, each device's placement history (the Warm store implements it in
 * `sinks/warm/masterdata/deviceDirectory.ts`), and a feed of invalidations telling it which cached
 * devices changed. Placements make any event time resolvable from the cache.
 */
import type { SourceGauge } from '../../topology/index.ts';

/** A period [from, to) in which a device was at `siteId`, which belonged to `customerId`. */
export interface DevicePlacement {
  readonly from: number;
  /** Exclusive; `Infinity` while open. */
  readonly to: number;
  readonly siteId: string;
  readonly customerId: string | null;
}

/** Placement histories of devices; unknown devices are absent from the answer. */
export interface DeviceDirectory {
  lookup(deviceIds: readonly string[]): Promise<ReadonlyMap<string, readonly DevicePlacement[]>>;
}

/** Devices whose master data changed; `'all'` when the publisher cannot say which (or some were lost). */
export type DeviceInvalidation = readonly string[] | 'all';

/** A feed of device invalidations. */
export interface DeviceInvalidations {
  /** Adds a listener; returns its removal. */
  subscribe(listener: (devices: DeviceInvalidation) => void): () => void;
  /** The feed's own gauges (is it connected?), exported with the operator's. */
  gauges?(): readonly SourceGauge[];
}

/** The placement in force at `time`, or undefined (the device was at no site then). */
export function placementAt(
  placements: readonly DevicePlacement[],
  time: number,
): DevicePlacement | undefined {
  // newest first: most readings are recent
  for (let i = placements.length - 1; i >= 0; i--) {
    const p = placements[i]!;
    if (time >= p.from) return time < p.to ? p : undefined;
  }
  return undefined;
}

/** A directory kept in memory (tests, the demo, the benchmark): the same answers, no round trips. */
export function memoryDeviceDirectory(
  devices: ReadonlyMap<string, readonly DevicePlacement[]>,
): DeviceDirectory & {
  readonly roundTrips: number;
} {
  let roundTrips = 0;
  return {
    get roundTrips() {
      return roundTrips;
    },
    lookup: async (ids) => {
      roundTrips++;
      const answer = new Map<string, readonly DevicePlacement[]>();
      for (const id of ids) {
        const p = devices.get(id);
        if (p !== undefined) answer.set(id, p);
      }
      return answer;
    },
  };
}
