/**
 * Open alarms in the MongoDB / DocumentDB Hot store (collection `hot_open_alarms`, `_id` the episode
 * id): the bulk upserts, the dashboard's filter and sort, and the document's shape. Forward-only as
 * the other upserts of this store: the filter asks for an older `lastEventSeq`, so when the stored
 * document is as new or newer the upsert's insert fails with a duplicate key, which means "already
 * newer". A closed episode keeps its document (with `closedAt`) until the TTL index on `closedAt`
 * removes it after the retention.
 */
import type { AnyBulkWriteOperation, Filter } from 'mongodb';
import { type Episode, SEVERITIES, severityRank } from '../../topology/index.ts';
import { latestEpisodes, type OpenAlarm, type OpenAlarmQuery } from './hotStore.ts';

/** The collection's name. */
export const OPEN_ALARMS = 'hot_open_alarms';

/** An open alarm as stored. */
export interface OpenAlarmDoc
  extends Omit<OpenAlarm, 'episodeId' | 'shelvedUntil' | 'openedAt' | 'updatedAt'> {
  _id: string;
  severityRank: number;
  shelvedUntil: Date | null;
  openedAt: Date;
  updatedAt: Date;
  closedAt: Date | null;
}

/** The dashboard's index: a customer's open alarms by severity and opening time. */
export const OPEN_ALARMS_INDEX = { customerId: 1, closedAt: 1, severityRank: -1, openedAt: -1 } as const;

/** A device page's index: the device's open alarms by severity and opening time. */
export const DEVICE_ALARMS_INDEX = { deviceId: 1, closedAt: 1, severityRank: -1, openedAt: -1 } as const;

/** The forward-only upserts of the batch's latest state of each episode. */
export function openAlarmOps(episodes: readonly Episode[]): AnyBulkWriteOperation<OpenAlarmDoc>[] {
  return latestEpisodes(episodes).map((e) => ({
    updateOne: {
      filter: { _id: e.id, lastEventSeq: { $lt: e.lastEventSeq } },
      update: {
        $set: {
          ruleId: e.ruleId,
          target: { kind: e.target.kind, id: e.target.id },
          customerId: e.customerId,
          siteId: e.siteId,
          deviceId: e.deviceId,
          productId: e.productId,
          severity: e.severity,
          severityRank: severityRank(e.severity),
          status: e.status,
          acknowledged: e.acknowledged,
          latched: e.latched,
          assignee: e.assignee,
          shelvedUntil: e.shelvedUntil === null ? null : new Date(e.shelvedUntil),
          flapping: e.flapping,
          value: e.value !== null && Number.isFinite(e.value) ? e.value : null,
          message: e.message,
          openedAt: new Date(e.openedAt),
          updatedAt: new Date(e.updatedAt),
          closedAt: e.closedAt === null ? null : new Date(e.closedAt),
          lastEventSeq: e.lastEventSeq,
        },
      },
      upsert: true,
    },
  }));
}

/** The filter of a dashboard read. */
export function openAlarmFilter(query: OpenAlarmQuery): Filter<OpenAlarmDoc> {
  return {
    closedAt: null,
    ...(query.customerId === undefined ? {} : { customerId: query.customerId }),
    ...(query.deviceId === undefined ? {} : { deviceId: query.deviceId }),
    ...(query.minSeverity === undefined
      ? {}
      : { severityRank: { $gte: SEVERITIES.indexOf(query.minSeverity) } }),
  };
}

/** The sort of a dashboard read: most severe first, then newest. */
export const OPEN_ALARMS_SORT = { severityRank: -1, openedAt: -1, _id: 1 } as const;

/** A stored document as an {@link OpenAlarm}. */
export function openAlarmOfDoc(d: OpenAlarmDoc): OpenAlarm {
  return {
    episodeId: d._id,
    ruleId: d.ruleId,
    target: d.target,
    customerId: d.customerId,
    siteId: d.siteId,
    deviceId: d.deviceId,
    productId: d.productId,
    severity: d.severity,
    status: d.status,
    acknowledged: d.acknowledged,
    latched: d.latched,
    assignee: d.assignee,
    shelvedUntil: d.shelvedUntil === null ? null : d.shelvedUntil.getTime(),
    flapping: d.flapping,
    value: d.value,
    message: d.message,
    openedAt: d.openedAt.getTime(),
    updatedAt: d.updatedAt.getTime(),
    lastEventSeq: d.lastEventSeq,
  };
}
