/**
 * Each site's IANA time zone, from the master data (`sites.timezone`), as a snapshot kept in memory
 * (`snapshot.ts`): the rule operator reads schedules in `zone: site` in it. A site without a zone, or
 * with one this runtime does not know (logged once per refresh that finds it), is read in UTC, as
 * before the site had one.
 */
import { type Clock, isKnownZone, type Logger } from '../../../topology/index.ts';
import type { SqlClient } from '../../postgres/sql.ts';
import { type MasterDataSnapshot, pgSnapshot } from './snapshot.ts';

/** The site → zone snapshot. */
export interface SiteZones extends Omit<MasterDataSnapshot, 'get'> {
  zoneOf(siteId: string): string | undefined;
}

/** A snapshot of the live sites' zones on the Warm store's read endpoint. */
export function pgSiteZones(read: SqlClient, clock: Clock, log: Logger): SiteZones {
  const snapshot = pgSnapshot(
    read,
    {
      label: 'site zones',
      sql: "SELECT site_id AS k, timezone AS v FROM sites WHERE NOT deleted AND coalesce(timezone, '') <> ''",
      keep: (site, zone) => {
        if (isKnownZone(zone)) return true;
        log.warn(
          { site, zone },
          'a site names a time zone this runtime does not know; its schedules read UTC',
        );
        return false;
      },
    },
    clock,
    log,
  );
  return Object.assign(snapshot, { zoneOf: snapshot.get });
}
