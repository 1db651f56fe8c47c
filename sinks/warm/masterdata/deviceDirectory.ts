/**
 * The device directory the enrich operator reads (on the read endpoint): for a set of devices, in
 * one query, each known device's placement history — the periods in which it was at a site, cut
 * where the site's customer changed. The enrich operator caches it, so any event time of a cached
 * device resolves without another round trip. Its shape matches `DeviceDirectory` in
 * `operators/enrich/directory.ts` (sinks may not import operators).
 */
import type { SqlClient } from '../../postgres/sql.ts';

/** A period [from, to) in which a device was at `siteId`, which belonged to `customerId`. */
export interface DevicePlacement {
  readonly from: number;
  /** Exclusive; `Infinity` while open. */
  readonly to: number;
  readonly siteId: string;
  readonly customerId: string | null;
}

/** Answers placement histories for devices; unknown devices are absent from the answer. */
export interface PgDeviceDirectory {
  lookup(deviceIds: readonly string[]): Promise<ReadonlyMap<string, readonly DevicePlacement[]>>;
  /** Round trips made so far (one per `lookup`). */
  readonly roundTrips: number;
}

interface Row {
  d: string;
  live: boolean;
  s: string | null;
  af: number | null;
  at: number | null;
  c: string | null;
  cf: number | null;
  ct: number | null;
}

const ms = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;

// A device is known when it has a live row or any assignment (a deleted device's history still
// resolves its late readings). Customer periods are clipped to the site period they overlap.
const LOOKUP = `
  SELECT q.device_id AS d, (dv.device_id IS NOT NULL AND NOT dv.deleted) AS live,
         a.site_id AS s, ${ms('a.valid_from')} AS af, ${ms('a.valid_to')} AS at,
         sc.customer_id AS c, ${ms('greatest(sc.valid_from, a.valid_from)')} AS cf,
         ${ms('least(sc.valid_to, a.valid_to)')} AS ct
  FROM unnest($1::text[]) AS q(device_id)
  LEFT JOIN devices dv ON dv.device_id = q.device_id
  LEFT JOIN device_site_assignments a ON a.device_id = q.device_id
  LEFT JOIN site_customer_assignments sc ON sc.site_id = a.site_id
    AND (a.valid_to IS NULL OR sc.valid_from < a.valid_to)
    AND (sc.valid_to IS NULL OR sc.valid_to > a.valid_from)
  ORDER BY q.device_id, a.valid_from, sc.valid_from`;

/** A device directory over the Warm store's read endpoint. */
export function pgDeviceDirectory(read: SqlClient): PgDeviceDirectory {
  let roundTrips = 0;
  return {
    get roundTrips() {
      return roundTrips;
    },
    async lookup(deviceIds) {
      const answer = new Map<string, DevicePlacement[]>();
      if (deviceIds.length === 0) return answer;
      roundTrips++;
      const { rows } = await read.query<Row>(LOOKUP, [deviceIds]);
      let i = 0;
      while (i < rows.length) {
        const device = rows[i]!.d;
        const placements: DevicePlacement[] = [];
        let known = false;
        for (; i < rows.length && rows[i]!.d === device; ) {
          const r = rows[i]!;
          known ||= r.live || r.s !== null;
          if (r.s === null || r.af === null) {
            i++;
            continue;
          }
          // one site period: its customer segments follow, in order; gaps have no customer
          const siteEnd = r.at ?? Number.POSITIVE_INFINITY;
          let cursor = r.af;
          const site = r.s;
          const from = r.af;
          for (
            ;
            i < rows.length && rows[i]!.d === device && rows[i]!.s === site && rows[i]!.af === from;
            i++
          ) {
            const seg = rows[i]!;
            if (seg.c === null || seg.cf === null) continue;
            const segEnd = seg.ct ?? Number.POSITIVE_INFINITY;
            if (seg.cf > cursor)
              placements.push({ from: cursor, to: seg.cf, siteId: site, customerId: null });
            placements.push({ from: Math.max(seg.cf, cursor), to: segEnd, siteId: site, customerId: seg.c });
            cursor = segEnd;
          }
          if (cursor < siteEnd)
            placements.push({ from: cursor, to: siteEnd, siteId: site, customerId: null });
        }
        if (known) answer.set(device, placements);
      }
      return answer;
    },
  };
}
