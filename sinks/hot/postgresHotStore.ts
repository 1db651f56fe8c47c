/**
 * The Hot store on PostgreSQL (tables from migration 200). Telemetry lives in `hot_telemetry`,
 * partitioned by UTC day: a day's partition is created the first time a batch reaches that day
 * (and the next day's ahead of it, so midnight does not wait on DDL), and retention drops whole
 * partitions, which costs no vacuum. Writes are one `INSERT … SELECT FROM unnest(arrays)` per
 * chunk: the statement text and its 15 parameters stay the same whatever the batch size.
 */
import type { Enriched, WindowAggregate } from '../../topology/index.ts';
import { migrateWarm } from '../warm/migrate.ts';
import type { SqlClient } from '../warm/sql.ts';
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
  retentionCutoff,
  type TelemetryQuery,
  telemetryKey,
  utcDayStart,
} from './hotStore.ts';

/** Rows per statement: large enough to amortise a round trip, small enough to keep memory flat. */
const CHUNK = 5000;
const PARTITION = /^hot_telemetry_p(\d{4})(\d{2})(\d{2})$/;

const INSERT_TELEMETRY = `INSERT INTO hot_telemetry (device_id, device_timestamp, stream, shard_id, sequence_number,
    sub_sequence_number, product_id, site_id, customer_id, hub_id, hub_timestamp, child_device_id, ingest_timestamp,
    metrics, raw_ref)
  SELECT d, to_timestamp(t / 1000), st, sh, sq, ss, p, si, cu, hb, to_timestamp(ht / 1000), ch, to_timestamp(it / 1000),
    m::jsonb, r::jsonb
  FROM unnest($1::text[], $2::float8[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[],
    $9::text[], $10::text[], $11::float8[], $12::text[], $13::float8[], $14::text[], $15::text[])
    AS u(d, t, st, sh, sq, ss, p, si, cu, hb, ht, ch, it, m, r)
  ON CONFLICT (device_id, device_timestamp, stream, shard_id, sequence_number, sub_sequence_number) DO UPDATE SET
    product_id = EXCLUDED.product_id, site_id = EXCLUDED.site_id, customer_id = EXCLUDED.customer_id,
    hub_id = EXCLUDED.hub_id, hub_timestamp = EXCLUDED.hub_timestamp, child_device_id = EXCLUDED.child_device_id,
    ingest_timestamp = EXCLUDED.ingest_timestamp, metrics = EXCLUDED.metrics, raw_ref = EXCLUDED.raw_ref`;

const UPSERT_STATE = `INSERT INTO hot_device_state (device_id, product_id, device_timestamp, site_id, customer_id, metrics,
    stream, shard_id, sequence_number, sub_sequence_number)
  SELECT d, p, to_timestamp(t / 1000), si, cu, m::jsonb, st, sh, sq, ss
  FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
    $9::text[], $10::int[]) AS u(d, p, t, si, cu, m, st, sh, sq, ss)
  ON CONFLICT (device_id) DO UPDATE SET product_id = EXCLUDED.product_id, device_timestamp = EXCLUDED.device_timestamp,
    site_id = EXCLUDED.site_id, customer_id = EXCLUDED.customer_id, metrics = EXCLUDED.metrics,
    stream = EXCLUDED.stream, shard_id = EXCLUDED.shard_id, sequence_number = EXCLUDED.sequence_number,
    sub_sequence_number = EXCLUDED.sub_sequence_number, updated_at = now()
  WHERE hot_device_state.device_timestamp <= EXCLUDED.device_timestamp`;

const UPSERT_AGGREGATES = `INSERT INTO hot_aggregates (scope, key, metric, window_size, window_start, window_end,
    product_id, device_id, revision, final, count, sum, min, max, mean, m2, first, first_at, last, last_at)
  SELECT sc, k, me, w, to_timestamp(ws / 1000), to_timestamp(we / 1000), p, d, rv, f, c, su, mi, ma, mn, m2, fi,
    to_timestamp(fa / 1000), la, to_timestamp(lt / 1000)
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[], $8::text[],
    $9::int[], $10::bool[], $11::float8[], $12::float8[], $13::float8[], $14::float8[], $15::float8[], $16::float8[],
    $17::float8[], $18::float8[], $19::float8[], $20::float8[])
    AS u(sc, k, me, w, ws, we, p, d, rv, f, c, su, mi, ma, mn, m2, fi, fa, la, lt)
  ON CONFLICT (scope, key, metric, window_size, window_start) DO UPDATE SET window_end = EXCLUDED.window_end,
    product_id = EXCLUDED.product_id, device_id = EXCLUDED.device_id, revision = EXCLUDED.revision,
    final = EXCLUDED.final, count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
    mean = EXCLUDED.mean, m2 = EXCLUDED.m2, first = EXCLUDED.first, first_at = EXCLUDED.first_at,
    last = EXCLUDED.last, last_at = EXCLUDED.last_at, updated_at = now()
  WHERE hot_aggregates.revision <= EXCLUDED.revision`;

/** Endpoints of the PostgreSQL Hot store (may be the Warm store's own). */
export interface PostgresHotEndpoints {
  readonly write: SqlClient;
  readonly read: SqlClient;
}

/** Options of the PostgreSQL Hot store. */
export interface PostgresHotOptions {
  readonly retentionDays: number;
  /** Closes the endpoints on `close()`; false when they are shared with the Warm store. */
  readonly ownsEndpoints?: boolean;
}

function partitionName(dayStart: number): string {
  return `hot_telemetry_p${new Date(dayStart).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function isAlreadyThere(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  // duplicate_table, or the pg_type unique index when two workers create the same day at once
  return code === '42P07' || code === '23505';
}

function columns<T>(rows: readonly T[], count: number, cells: (row: T) => unknown[]): unknown[][] {
  const out: unknown[][] = Array.from({ length: count }, () => new Array(rows.length));
  for (let i = 0; i < rows.length; i++) {
    const values = cells(rows[i]!);
    for (let c = 0; c < count; c++) out[c]![i] = values[c];
  }
  return out;
}

interface TelemetryRow {
  device_id: string;
  device_timestamp: Date;
  product_id: string;
  site_id: string | null;
  customer_id: string | null;
  hub_id: string | null;
  hub_timestamp: Date | null;
  child_device_id: string | null;
  ingest_timestamp: Date;
  metrics: Enriched['metrics'];
  raw_ref: Enriched['rawRef'];
}

interface AggregateRow {
  scope: 'product' | 'device';
  metric: string;
  window_size: WindowAggregate['window'];
  window_start: Date;
  window_end: Date;
  product_id: string;
  device_id: string | null;
  revision: number;
  final: boolean;
  count: string | number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  first: number;
  first_at: Date;
  last: number;
  last_at: Date;
}

const json = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);

/** The Hot store on PostgreSQL over a write and a read endpoint. */
export function postgresHotStore(endpoints: PostgresHotEndpoints, options: PostgresHotOptions): HotStore {
  const { write, read } = endpoints;
  const known = new Set<number>();

  async function ensurePartition(dayStart: number): Promise<void> {
    if (known.has(dayStart)) return;
    const from = new Date(dayStart).toISOString();
    const to = new Date(dayStart + DAY_MS).toISOString();
    try {
      await write.query(
        `CREATE TABLE IF NOT EXISTS ${partitionName(dayStart)} PARTITION OF hot_telemetry FOR VALUES FROM ('${from}') TO ('${to}')`,
      );
    } catch (error) {
      if (!isAlreadyThere(error)) throw error;
    }
    known.add(dayStart);
  }

  return {
    kind: 'postgresql',
    retentionDays: options.retentionDays,

    async prepare() {
      await migrateWarm(write);
    },

    async writeTelemetry(batch, now) {
      const cutoff = retentionCutoff(now, options.retentionDays);
      const kept = lastByKey(
        batch.filter((e) => e.device_timestamp >= cutoff),
        telemetryKey,
      );
      if (kept.length === 0) return;
      const days = new Set(kept.map((e) => utcDayStart(e.device_timestamp)));
      for (const day of days) {
        await ensurePartition(day);
        await ensurePartition(day + DAY_MS);
      }
      for (let i = 0; i < kept.length; i += CHUNK) {
        const chunk = kept.slice(i, i + CHUNK);
        await write.query(
          INSERT_TELEMETRY,
          columns(chunk, 15, (e) => [
            e.device_id,
            e.device_timestamp,
            e.rawRef.stream,
            e.rawRef.shardId,
            e.rawRef.sequenceNumber,
            e.rawRef.subSequenceNumber ?? 0,
            e.productId,
            e.site_id,
            e.customer_id,
            e.hub_id ?? null,
            e.hub_timestamp ?? null,
            e.childDeviceId ?? null,
            e.ingest_timestamp,
            JSON.stringify(e.metrics),
            JSON.stringify(e.rawRef),
          ]),
        );
      }
      const latest = latestPerDevice(kept);
      for (let i = 0; i < latest.length; i += CHUNK) {
        const chunk = latest.slice(i, i + CHUNK);
        await write.query(
          UPSERT_STATE,
          columns(chunk, 10, (e) => [
            e.device_id,
            e.productId,
            e.device_timestamp,
            e.site_id,
            e.customer_id,
            JSON.stringify(e.metrics),
            e.rawRef.stream,
            e.rawRef.shardId,
            e.rawRef.sequenceNumber,
            e.rawRef.subSequenceNumber ?? 0,
          ]),
        );
      }
    },

    async writeAggregates(batch) {
      const best = highestRevisions(batch.filter(isHotAggregate));
      for (let i = 0; i < best.length; i += CHUNK) {
        const chunk = best.slice(i, i + CHUNK);
        await write.query(
          UPSERT_AGGREGATES,
          columns(chunk, 20, (a) => [
            a.scope,
            hotAggregateKey(a),
            a.metric,
            a.window,
            a.windowStart,
            a.windowEnd,
            a.productId,
            a.deviceId ?? null,
            a.revision,
            a.final,
            a.stats.count,
            a.stats.sum,
            a.stats.min,
            a.stats.max,
            a.stats.mean,
            a.stats.m2,
            a.stats.first,
            a.stats.firstAt,
            a.stats.last,
            a.stats.lastAt,
          ]),
        );
      }
    },

    async expire(now) {
      const cutoff = retentionCutoff(now, options.retentionDays);
      const { rows } = await write.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = 'hot_telemetry'`,
      );
      let dropped = 0;
      for (const { name } of rows) {
        const m = PARTITION.exec(name);
        if (m === null) continue;
        const dayStart = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
        // A partition goes only when all of its day is past the retention.
        if (dayStart + DAY_MS > cutoff) continue;
        await write.query(`DROP TABLE IF EXISTS ${name}`);
        known.delete(dayStart);
        dropped++;
      }
      return dropped;
    },

    async readTelemetry(query: TelemetryQuery) {
      const where = ['device_timestamp >= $1', 'device_timestamp < $2'];
      const params: unknown[] = [new Date(query.from).toISOString(), new Date(query.to).toISOString()];
      if (query.deviceId !== undefined) {
        params.push(query.deviceId);
        where.push(`device_id = $${params.length}`);
      }
      if (query.productId !== undefined) {
        params.push(query.productId);
        where.push(`product_id = $${params.length}`);
      }
      const limit = query.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(query.limit))}`;
      const { rows } = await read.query<TelemetryRow>(
        `SELECT device_id, device_timestamp, product_id, site_id, customer_id, hub_id, hub_timestamp, child_device_id,
           ingest_timestamp, metrics, raw_ref
         FROM hot_telemetry WHERE ${where.join(' AND ')}
         ORDER BY device_timestamp, device_id, stream, shard_id, sequence_number, sub_sequence_number${limit}`,
        params,
      );
      return rows.map(
        (r): Enriched => ({
          device_id: r.device_id,
          device_timestamp: new Date(r.device_timestamp).getTime(),
          productId: r.product_id,
          metrics: json(r.metrics),
          ...(r.hub_id !== null ? { hub_id: r.hub_id } : {}),
          ...(r.hub_timestamp !== null ? { hub_timestamp: new Date(r.hub_timestamp).getTime() } : {}),
          ...(r.child_device_id !== null ? { childDeviceId: r.child_device_id } : {}),
          ingest_timestamp: new Date(r.ingest_timestamp).getTime(),
          rawRef: json(r.raw_ref),
          site_id: r.site_id,
          customer_id: r.customer_id,
        }),
      );
    },

    async countTelemetry(from, to) {
      const { rows } = await read.query<{ n: string }>(
        'SELECT count(*)::text AS n FROM hot_telemetry WHERE device_timestamp >= $1 AND device_timestamp < $2',
        [new Date(from).toISOString(), new Date(to).toISOString()],
      );
      return Number(rows[0]!.n);
    },

    async readLatestState(deviceId) {
      const { rows } = await read.query<{
        product_id: string;
        device_timestamp: Date;
        site_id: string | null;
        customer_id: string | null;
        metrics: DeviceState['metrics'];
      }>(
        'SELECT product_id, device_timestamp, site_id, customer_id, metrics FROM hot_device_state WHERE device_id = $1',
        [deviceId],
      );
      const r = rows[0];
      if (r === undefined) return undefined;
      return {
        deviceId,
        productId: r.product_id,
        deviceTimestamp: new Date(r.device_timestamp).getTime(),
        siteId: r.site_id,
        customerId: r.customer_id,
        metrics: json(r.metrics),
      };
    },

    async readAggregates(query: AggregateQuery) {
      const params: unknown[] = [
        query.scope,
        query.key,
        query.window,
        new Date(query.from).toISOString(),
        new Date(query.to).toISOString(),
      ];
      let metric = '';
      if (query.metric !== undefined) {
        params.push(query.metric);
        metric = ' AND metric = $6';
      }
      const { rows } = await read.query<AggregateRow>(
        `SELECT scope, metric, window_size, window_start, window_end, product_id, device_id, revision, final, count, sum,
           min, max, mean, m2, first, first_at, last, last_at
         FROM hot_aggregates
         WHERE scope = $1 AND key = $2 AND window_size = $3 AND window_start >= $4 AND window_start < $5${metric}
         ORDER BY window_start, metric`,
        params,
      );
      return rows.map(
        (r): WindowAggregate => ({
          scope: r.scope,
          window: r.window_size,
          productId: r.product_id,
          ...(r.device_id !== null ? { deviceId: r.device_id } : {}),
          metric: r.metric,
          windowStart: new Date(r.window_start).getTime(),
          windowEnd: new Date(r.window_end).getTime(),
          revision: Number(r.revision),
          final: r.final,
          stats: {
            count: Number(r.count),
            sum: Number(r.sum),
            min: Number(r.min),
            max: Number(r.max),
            mean: Number(r.mean),
            m2: Number(r.m2),
            first: Number(r.first),
            firstAt: new Date(r.first_at).getTime(),
            last: Number(r.last),
            lastAt: new Date(r.last_at).getTime(),
          },
        }),
      );
    },

    async close() {
      if (options.ownsEndpoints === false) return;
      await write.close();
      if (read !== write) await read.close();
    },
  };
}
