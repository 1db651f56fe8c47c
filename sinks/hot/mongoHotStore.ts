/**
 * The Hot store on MongoDB / Amazon DocumentDB, with the official driver and only what DocumentDB 5.0
 * supports: unordered `bulkWrite` of `updateOne` upserts with `$set`/`$setOnInsert`/`$max`, compound
 * and TTL indexes (the TTL is the retention), no retryable writes, and `secondaryPreferred` reads
 * on the read endpoint.
 *
 * Forward-only upserts (latest state, aggregate revisions) filter on the stored value
 * (`deviceTimestamp <= t`, `revision <= r`): when a newer document exists the filter misses, the
 * upsert tries to insert the same `_id` and fails with a duplicate key, which here means "already
 * newer" and is not an error. Metric names are escaped (`$`, `.`, `%`), never passed through as
 * field paths or operators.
 */
import { type AnyBulkWriteOperation, type Db, MongoBulkWriteError, type MongoClient } from 'mongodb';
import type { Enriched, WindowAggregate } from '../../topology/index.ts';
import {
  type AggregateQuery,
  DAY_MS,
  type DeviceState,
  type HotStore,
  highestRevisions,
  hotAggregateKey,
  isHotAggregate,
  lastByKey,
  latestPerDevice,
  OPEN_ALARMS_LIMIT,
  retentionCutoff,
  storedRawRef,
  type TelemetryQuery,
  telemetryKey,
} from './hotStore.ts';
import { classifyMongoError } from './mongoErrors.ts';
import {
  DEVICE_ALARMS_INDEX,
  OPEN_ALARMS,
  OPEN_ALARMS_INDEX,
  OPEN_ALARMS_SORT,
  type OpenAlarmDoc,
  openAlarmFilter,
  openAlarmOfDoc,
  openAlarmOps,
} from './mongoOpenAlarms.ts';

const DUPLICATE_KEY = 11000;
const INDEX_OPTIONS_CONFLICT = 85;
/** Operations per bulkWrite: the driver splits larger ones anyway; this bounds one request's memory. */
const CHUNK = 5000;

/** Escapes a metric name so it is a plain field name on DocumentDB (no `$` prefix, no dots). */
export function escapeFieldName(name: string): string {
  return name.replaceAll('%', '%25').replaceAll('$', '%24').replaceAll('.', '%2E');
}

/** Reverses {@link escapeFieldName}. */
export function unescapeFieldName(name: string): string {
  return name.replaceAll('%2E', '.').replaceAll('%24', '$').replaceAll('%25', '%');
}

function escapeMetrics(metrics: Enriched['metrics']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metrics))
    out[escapeFieldName(k)] = typeof v === 'number' && !Number.isFinite(v) ? null : v;
  return out;
}

function unescapeMetrics(metrics: Record<string, unknown> | undefined): Enriched['metrics'] {
  const out: Record<string, number | string | boolean | null> = {};
  for (const [k, v] of Object.entries(metrics ?? {}))
    out[unescapeFieldName(k)] = v as number | string | boolean | null;
  return out;
}

/** The connected clients: writes on the write endpoint, reads with `secondaryPreferred`. */
export interface MongoHotEndpoints {
  readonly write: MongoClient;
  readonly read: MongoClient;
  readonly database: string;
}

interface TelemetryDoc {
  _id: string;
  deviceId: string;
  deviceTimestamp: Date;
  productId: string;
  siteId: string | null;
  customerId: string | null;
  hubId?: string;
  hubTimestamp?: Date;
  childDeviceId?: string;
  ingestTimestamp: Date;
  metrics: Record<string, unknown>;
  rawRef: Enriched['rawRef'];
}

interface StateDoc {
  _id: string;
  productId: string;
  deviceTimestamp: Date;
  siteId: string | null;
  customerId: string | null;
  metrics: Record<string, unknown>;
  firstSeenAt?: Date;
}

interface AggregateDoc {
  _id: string;
  scope: 'product' | 'device';
  key: string;
  metric: string;
  window: WindowAggregate['window'];
  windowStart: Date;
  windowEnd: Date;
  productId: string;
  deviceId: string | null;
  revision: number;
  final: boolean;
  stats: WindowAggregate['stats'];
}

/** Runs an unordered bulk write; duplicate keys of forward-only upserts mean "already newer". */
async function bulk<T extends { _id: string }>(
  db: Db,
  collection: string,
  ops: AnyBulkWriteOperation<T>[],
  duplicatesMeanNewer: boolean,
): Promise<void> {
  for (let i = 0; i < ops.length; i += CHUNK) {
    try {
      await db.collection<T>(collection).bulkWrite(ops.slice(i, i + CHUNK), { ordered: false });
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError) || !duplicatesMeanNewer) throw classifyMongoError(error);
      const errors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
      if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY))
        throw classifyMongoError(error);
    }
  }
}

/** The Hot store on MongoDB / DocumentDB. */
export function mongoHotStore(endpoints: MongoHotEndpoints, options: { retentionDays: number }): HotStore {
  const writeDb = endpoints.write.db(endpoints.database);
  const readDb = endpoints.read.db(endpoints.database);
  const ttlSeconds = options.retentionDays * (DAY_MS / 1000);

  /** A TTL index, or its TTL changed in place when the retention changed since it was made. */
  async function ttlIndex(collection: string, field: string, name: string): Promise<void> {
    try {
      await writeDb
        .collection(collection)
        .createIndex({ [field]: 1 }, { name, expireAfterSeconds: ttlSeconds });
    } catch (error) {
      if ((error as { code?: unknown }).code !== INDEX_OPTIONS_CONFLICT) throw error;
      await writeDb.command({ collMod: collection, index: { name, expireAfterSeconds: ttlSeconds } });
    }
  }

  return {
    kind: 'mongodb',
    retentionDays: options.retentionDays,

    async prepare() {
      const telemetry = writeDb.collection('hot_telemetry');
      await telemetry.createIndex({ deviceId: 1, deviceTimestamp: 1 });
      await telemetry.createIndex({ productId: 1, deviceTimestamp: 1 });
      await ttlIndex('hot_telemetry', 'deviceTimestamp', 'retention');
      await writeDb
        .collection('hot_aggregates')
        .createIndex({ scope: 1, key: 1, window: 1, windowStart: 1, metric: 1 });
      await writeDb.collection(OPEN_ALARMS).createIndex(OPEN_ALARMS_INDEX, { name: 'dashboard' });
      await writeDb.collection(OPEN_ALARMS).createIndex(DEVICE_ALARMS_INDEX, { name: 'device' });
      // closed episodes stay (a replayed older event finds them newer) until the retention
      await ttlIndex(OPEN_ALARMS, 'closedAt', 'retention');
    },

    async writeTelemetry(batch, now) {
      const cutoff = retentionCutoff(now, options.retentionDays);
      const kept = lastByKey(
        batch.filter((e) => e.device_timestamp >= cutoff),
        telemetryKey,
      );
      if (kept.length === 0) return;
      const telemetry = kept.map((e): AnyBulkWriteOperation<TelemetryDoc> => {
        const set: Omit<TelemetryDoc, '_id'> = {
          deviceId: e.device_id,
          deviceTimestamp: new Date(e.device_timestamp),
          productId: e.productId,
          siteId: e.site_id,
          customerId: e.customer_id,
          ingestTimestamp: new Date(e.ingest_timestamp),
          metrics: escapeMetrics(e.metrics),
          rawRef: storedRawRef(e.rawRef),
          ...(e.hub_id !== undefined ? { hubId: e.hub_id } : {}),
          ...(e.hub_timestamp !== undefined ? { hubTimestamp: new Date(e.hub_timestamp) } : {}),
          ...(e.childDeviceId !== undefined ? { childDeviceId: e.childDeviceId } : {}),
        };
        return { updateOne: { filter: { _id: telemetryKey(e) }, update: { $set: set }, upsert: true } };
      });
      await bulk(writeDb, 'hot_telemetry', telemetry, false);
      const state = latestPerDevice(kept).map((e): AnyBulkWriteOperation<StateDoc> => {
        const at = new Date(e.device_timestamp);
        return {
          updateOne: {
            filter: { _id: e.device_id, deviceTimestamp: { $lte: at } },
            update: {
              $set: {
                productId: e.productId,
                siteId: e.site_id,
                customerId: e.customer_id,
                metrics: escapeMetrics(e.metrics),
              },
              $max: { deviceTimestamp: at },
              $setOnInsert: { firstSeenAt: at },
            },
            upsert: true,
          },
        };
      });
      await bulk(writeDb, 'hot_device_state', state, true);
    },

    async writeAggregates(batch) {
      const ops = highestRevisions(batch.filter(isHotAggregate)).map(
        (a): AnyBulkWriteOperation<AggregateDoc> => ({
          updateOne: {
            filter: {
              _id: JSON.stringify([a.scope, hotAggregateKey(a), a.metric, a.window, a.windowStart]),
              revision: { $lte: a.revision },
            },
            update: {
              $set: {
                scope: a.scope as 'product' | 'device',
                key: hotAggregateKey(a),
                metric: a.metric,
                window: a.window,
                windowStart: new Date(a.windowStart),
                windowEnd: new Date(a.windowEnd),
                productId: a.productId,
                deviceId: a.deviceId ?? null,
                final: a.final,
                stats: { ...a.stats },
              },
              $max: { revision: a.revision },
            },
            upsert: true,
          },
        }),
      );
      await bulk(writeDb, 'hot_aggregates', ops, true);
    },

    async writeOpenAlarms(episodes) {
      await bulk(writeDb, OPEN_ALARMS, openAlarmOps(episodes), true);
    },

    async readOpenAlarms(query) {
      const docs = await readDb
        .collection<OpenAlarmDoc>(OPEN_ALARMS)
        .find(openAlarmFilter(query))
        .sort(OPEN_ALARMS_SORT)
        .limit(Math.max(0, Math.floor(query.limit ?? OPEN_ALARMS_LIMIT)))
        .toArray();
      return docs.map(openAlarmOfDoc);
    },

    async expire(now) {
      // The TTL index removes expired telemetry continuously; this makes the cut exact at `now`.
      const cutoff = new Date(retentionCutoff(now, options.retentionDays));
      const { deletedCount } = await writeDb
        .collection<TelemetryDoc>('hot_telemetry')
        .deleteMany({ deviceTimestamp: { $lt: cutoff } });
      await writeDb.collection<OpenAlarmDoc>(OPEN_ALARMS).deleteMany({ closedAt: { $lt: cutoff } });
      return deletedCount > 0 ? 1 : 0;
    },

    async readTelemetry(query: TelemetryQuery) {
      const filter: Record<string, unknown> = {
        deviceTimestamp: { $gte: new Date(query.from), $lt: new Date(query.to) },
      };
      if (query.deviceId !== undefined) filter.deviceId = query.deviceId;
      if (query.productId !== undefined) filter.productId = query.productId;
      let cursor = readDb
        .collection<TelemetryDoc>('hot_telemetry')
        .find(filter)
        .sort({ deviceTimestamp: 1, _id: 1 });
      if (query.limit !== undefined) cursor = cursor.limit(query.limit);
      const docs = await cursor.toArray();
      return docs.map(
        (d): Enriched => ({
          device_id: d.deviceId,
          device_timestamp: d.deviceTimestamp.getTime(),
          productId: d.productId,
          metrics: unescapeMetrics(d.metrics),
          ...(d.hubId !== undefined ? { hub_id: d.hubId } : {}),
          ...(d.hubTimestamp !== undefined ? { hub_timestamp: d.hubTimestamp.getTime() } : {}),
          ...(d.childDeviceId !== undefined ? { childDeviceId: d.childDeviceId } : {}),
          ingest_timestamp: d.ingestTimestamp.getTime(),
          rawRef: d.rawRef,
          site_id: d.siteId,
          customer_id: d.customerId,
        }),
      );
    },

    countTelemetry(from, to) {
      return readDb
        .collection<TelemetryDoc>('hot_telemetry')
        .countDocuments({ deviceTimestamp: { $gte: new Date(from), $lt: new Date(to) } });
    },

    async readLatestState(deviceId): Promise<DeviceState | undefined> {
      const d = await readDb.collection<StateDoc>('hot_device_state').findOne({ _id: deviceId });
      if (d === null) return undefined;
      return {
        deviceId,
        productId: d.productId,
        deviceTimestamp: d.deviceTimestamp.getTime(),
        siteId: d.siteId,
        customerId: d.customerId,
        metrics: unescapeMetrics(d.metrics),
      };
    },

    async readAggregates(query: AggregateQuery) {
      const filter: Record<string, unknown> = {
        scope: query.scope,
        key: query.key,
        window: query.window,
        windowStart: { $gte: new Date(query.from), $lt: new Date(query.to) },
      };
      if (query.metric !== undefined) filter.metric = query.metric;
      const docs = await readDb
        .collection<AggregateDoc>('hot_aggregates')
        .find(filter)
        .sort({ windowStart: 1, metric: 1 })
        .toArray();
      return docs.map(
        (d): WindowAggregate => ({
          scope: d.scope,
          window: d.window,
          productId: d.productId,
          ...(d.deviceId !== null ? { deviceId: d.deviceId } : {}),
          metric: d.metric,
          windowStart: d.windowStart.getTime(),
          windowEnd: d.windowEnd.getTime(),
          revision: d.revision,
          final: d.final,
          stats: d.stats,
        }),
      );
    },

    async close() {
      await endpoints.write.close();
      if (endpoints.read !== endpoints.write) await endpoints.read.close();
    },
  };
}
