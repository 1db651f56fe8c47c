/**
 * The window acceptance workload (issue 6) and its brute-force answer, independent of the pipeline.
 *
 * A fleet from `bench/workloads` (devices, customers, sites: the master data) of three products, each
 * reporting five metrics as JSON over MQTT, one reading per device per `intervalMs` for `hours` hours of
 * event time. What the generator decides for every reading, and so what the test knows without asking
 * the pipeline:
 *
 * - **in order**: arrives 0–5 min after its event time (the stream, sorted by arrival, is out of order
 *   by at most the allowed 5 min, so no shard watermark ever passes it);
 * - **late, kept** (`lateKeptShare`): arrives 20–90 min after its event time, beyond the allowed
 *   lateness (10 min: its window may already be final and is then re-emitted) but within retention
 *   (2 h past the window's end) under any watermark, since no shard's watermark passes its arrival;
 * - **too late** (`tooLateShare` of all readings, drawn among those taken at least 35 h before the
 *   end): arrives 30–34 h after its event time, while in-order data still flows, so beyond retention
 *   under any global watermark the shards can hold while they stay within 26 h of event time of each
 *   other (a batch is classified against the watermark from before it, so a batch's span counts
 *   too): a `too-late` dead letter, in no window. Read from a backlog, the shards of one worker
 *   drifted 21 h apart within 20 s and more on CI, so the runs hold them within 1 h of each other
 *   (`maxShardDriftMs`, the window operator's watermark alignment).
 *
 * Which readings are too late therefore does not depend on timing. The customer of a reading is the
 * one its device's site belonged to at the event time (the enrich rule); some devices move to another
 * customer's site mid-run. Every shard starts with a metric-less "open" reading at the first event time
 * (so every shard holds the global watermark back before any data flows) and ends with a metric-less
 * "close" reading an hour past the last day, which moves the watermark past every window.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import pg from 'pg';
import { buildFleet, siteId } from '../../bench/workloads/fleet.ts';
import { shardRouter } from '../../gateways/kinesis/kplAggregation.ts';
import { kinesisProducer, openShardRanges } from '../../gateways/kinesis/producer.ts';
import { mulberry32 } from '../../gateways/simulator/fleet.ts';
import { windowAssigner } from '../../operators/windows/index.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient } from '../../sinks/postgres/sql.ts';
import type { MasterDataRowChange } from '../../sinks/warm/masterdata/change.ts';
import { type ImportEntity, importChanges, rowChange } from '../../sinks/warm/masterdata/import.ts';
import {
  type AggregateScope,
  type IngestEnvelope,
  type MetricStats,
  type Position,
  systemClock,
  type WindowSize,
} from '../../topology/index.ts';
import { matchesReference, statsOf } from './windowBruteForce.ts';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The products of the workload and their five metrics: name, low, high, decimals. */
const REFERENCE_PRODUCTS = {
  'thermo-t1': [
    ['temperature', -20, 40, 2],
    ['humidity', 0, 100, 1],
    ['dew_point', -30, 30, 2],
    ['battery', 0, 100, 0],
    ['rssi', -120, -30, 0],
  ],
  'meter-m2': [
    ['power', 0, 11_000, 1],
    ['energy', 0, 50_000, 3],
    ['voltage', 200, 250, 1],
    ['current', 0, 50, 2],
    ['frequency', 49.5, 50.5, 3],
  ],
  'air-a3': [
    ['pm25', 0, 300, 1],
    ['pm10', 0, 500, 1],
    ['co2', 400, 2000, 0],
    ['voc', 0, 1000, 0],
    ['temperature', -20, 40, 2],
  ],
} as const satisfies Record<string, ReadonlyArray<readonly [string, number, number, number]>>;
type ReferenceProduct = keyof typeof REFERENCE_PRODUCTS;

/** Window policy of the acceptance tests (the worker's `windows:` section). */
export const REFERENCE_WINDOWS = {
  allowedOutOfOrdernessMs: 5 * MINUTE,
  allowedLatenessMs: 10 * MINUTE,
  retentionMs: 2 * HOUR,
  // no shard may drop out of the global watermark while its worker is being replaced
  idleTimeoutMs: 30 * MINUTE,
  maxShardDriftMs: HOUR,
  flushIntervalMs: 60_000,
} as const;

/** How a reading's arrival relates to its event time. */
export type ReadingTiming = 'in-order' | 'late-kept' | 'too-late';

/** One reading as the device took it and as it reached the stream. */
export interface Reading {
  readonly deviceId: string;
  readonly productId: ReferenceProduct;
  /** Event time (ms). */
  readonly at: number;
  /** When it reached the gateway (ms): the stream is in this order. */
  readonly arrival: number;
  readonly timing: ReadingTiming;
  readonly metrics: Readonly<Record<string, number>>;
}

/** A device moved to a site of another customer at `at`. */
export interface DeviceMove {
  readonly deviceId: string;
  readonly at: number;
  readonly fromCustomer: string;
  readonly toCustomer: string;
  readonly toSite: string;
}

/** The generated workload. */
export interface ReferenceWorkload {
  /** First event time: a UTC midnight. */
  readonly start: number;
  readonly hours: number;
  /** Every reading, in arrival order. */
  readonly readings: readonly Reading[];
  readonly devices: ReadonlyArray<{
    deviceId: string;
    productId: string;
    customerId: string;
    siteId: string;
  }>;
  readonly moves: ReadonlyMap<string, DeviceMove>;
  /** The customer of a device at an event time (what enrich must resolve). */
  customerAt(deviceId: string, at: number): string | null;
}

/** Options of {@link referenceWorkload}. */
export interface ReferenceWorkloadOptions {
  readonly devices: number;
  readonly hours: number;
  /** One reading per device per interval. */
  readonly intervalMs: number;
  readonly start: number;
  readonly seed: number;
  readonly lateKeptShare: number;
  readonly tooLateShare: number;
  /** Share of devices moved to another customer mid-run. */
  readonly moveShare: number;
}

const round = (x: number, decimals: number) => Math.round(x * 10 ** decimals) / 10 ** decimals;

/**
 * The issue's acceptance workload: 3 products x 5 metrics, one reading per device per hour for 48 h
 * ending a few days ago, 0.25 % late but kept, 0.25 % too late, 2 % of devices moving customer.
 */
export function acceptanceWorkload(devices: number, seed: number): ReferenceWorkload {
  return referenceWorkload({
    devices,
    hours: 48,
    intervalMs: HOUR,
    start: Math.floor(Date.now() / DAY) * DAY - 4 * DAY,
    seed,
    lateKeptShare: 0.0025,
    tooLateShare: 0.0025,
    moveShare: 0.02,
  });
}

/** Generates the workload (deterministic for a seed). */
function referenceWorkload(o: ReferenceWorkloadOptions): ReferenceWorkload {
  const fleet = buildFleet({
    devices: o.devices,
    customers: 200,
    sitesPerCustomer: 5,
    mix: { 'thermo-t1': 1, 'meter-m2': 1, 'air-a3': 1 },
    seed: o.seed,
  });
  const random = mulberry32(o.seed * 31 + 7);
  const devices = fleet.devices.map((d) => ({
    deviceId: d.deviceId,
    productId: d.productId,
    customerId: d.customerId,
    siteId: d.siteId,
  }));
  const moves = new Map<string, DeviceMove>();
  for (const d of devices) {
    if (random() >= o.moveShare) continue;
    const c = Math.floor(random() * fleet.customers);
    const toCustomer = `cust-${String(c + 1).padStart(4, '0')}`;
    if (toCustomer === d.customerId) continue;
    const at = o.start + Math.floor((0.2 + 0.6 * random()) * o.hours * HOUR);
    moves.set(d.deviceId, {
      deviceId: d.deviceId,
      at,
      fromCustomer: d.customerId,
      toCustomer,
      toSite: siteId(c, 0),
    });
  }
  const readings: Reading[] = [];
  const end = o.start + o.hours * HOUR;
  // only readings taken 35 h before the end can arrive too late: they carry the whole share
  const tooLateBoost = o.hours / Math.max(1, o.hours - 35);
  for (const d of devices) {
    const product = d.productId as ReferenceProduct;
    const spec = REFERENCE_PRODUCTS[product];
    for (let at = o.start + Math.floor(random() * o.intervalMs); at < end; at += o.intervalMs) {
      const draw = random();
      let timing: ReadingTiming = 'in-order';
      let delay = Math.floor(random() * 5 * MINUTE);
      // too late only while in-order data still flows when it arrives (the watermark moves on)
      if (at + 35 * HOUR <= end && draw < o.tooLateShare * tooLateBoost) {
        timing = 'too-late';
        delay = 30 * HOUR + Math.floor(random() * 4 * HOUR);
      } else if (draw >= 1 - o.lateKeptShare) {
        timing = 'late-kept';
        delay = 20 * MINUTE + Math.floor(random() * 70 * MINUTE);
      }
      const metrics: Record<string, number> = {};
      for (const [name, lo, hi, decimals] of spec) metrics[name] = round(lo + (hi - lo) * random(), decimals);
      readings.push({ deviceId: d.deviceId, productId: product, at, arrival: at + delay, timing, metrics });
    }
  }
  readings.sort((a, b) => a.arrival - b.arrival || (a.deviceId < b.deviceId ? -1 : 1));
  const byId = new Map(devices.map((d) => [d.deviceId, d]));
  return {
    start: o.start,
    hours: o.hours,
    readings,
    devices,
    moves,
    customerAt(deviceId, at) {
      const move = moves.get(deviceId);
      if (move !== undefined && at >= move.at) return move.toCustomer;
      return byId.get(deviceId)?.customerId ?? null;
    },
  };
}

/** Writes the three products' specs (JSON over MQTT, five metrics each) to a new directory. */
export function writeReferenceSpecs(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-reference-specs-'));
  for (const [product, metrics] of Object.entries(REFERENCE_PRODUCTS)) {
    const lines = [
      `id: reference-${product}`,
      'version: 1',
      `productId: ${product}`,
      `match: { productId: ${product} }`,
      'format:',
      '  type: json',
      '  fields:',
      '    device_id: device_id',
      '    ts: ts',
      ...metrics.map(([m]) => `    ${m}: metrics.${m}`),
      'telemetry:',
      '  deviceId: { from: field, field: device_id }',
      '  timestamp: { field: ts, kind: epoch-ms }',
      'contract:',
      '  maxAgeMs: 2592000000',
      '  metrics:',
      ...metrics.map(([m]) => `    ${m}: { type: number }`),
    ];
    writeFileSync(join(dir, `${product}.yaml`), `${lines.join('\n')}\n`);
  }
  return dir;
}

/** The envelope a device's gateway puts on the stream for a reading (no metrics: a watermark tick). */
export function envelopeOf(
  deviceId: string,
  productId: string,
  at: number,
  receivedAt: number,
  metrics: Readonly<Record<string, number>>,
): IngestEnvelope {
  return {
    v: 1,
    protocol: 'mqtt',
    topic: `devices/${deviceId}/telemetry`,
    receivedAt,
    productId,
    encoding: 'utf8',
    payload: JSON.stringify({ device_id: deviceId, ts: at, metrics }),
  };
}

/**
 * Loads the fleet's master data into a Warm database (migrating it first): devices, each site's
 * customer, each device's site from long before the workload, and the moves.
 */
export async function loadMasterData(url: string, workload: ReferenceWorkload): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const client = pgSqlClient(pool);
  try {
    await migrateWarm(client);
    const since = new Date(workload.start - 30 * DAY).toISOString();
    const importedAt = Date.now();
    const rows: Array<[ImportEntity, Record<string, unknown>]> = [];
    const sites = new Map<string, string>();
    for (const d of workload.devices) sites.set(d.siteId, d.customerId);
    for (const m of workload.moves.values()) sites.set(m.toSite, m.toCustomer);
    for (const [site, customer] of sites)
      rows.push(['site-assignments', { site_id: site, customer_id: customer, valid_from: since }]);
    for (const d of workload.devices) {
      rows.push(['devices', { device_id: d.deviceId, product_id: d.productId }]);
      rows.push(['device-assignments', { device_id: d.deviceId, site_id: d.siteId, valid_from: since }]);
    }
    for (const m of workload.moves.values())
      rows.push([
        'device-assignments',
        { device_id: m.deviceId, site_id: m.toSite, valid_from: new Date(m.at).toISOString() },
      ]);
    const changes: MasterDataRowChange[] = rows.map(([entity, values], line) => {
      const change = rowChange(entity, { line: line + 1, values }, importedAt);
      if (typeof change === 'string') throw new Error(`master data row ${line + 1}: ${change}`);
      return change;
    });
    for (let i = 0; i < changes.length; i += 2_000) await importChanges(client, changes.slice(i, i + 2_000));
  } finally {
    await client.close();
  }
}

/** A partition key per open shard: the metric-less ticks that open and close every shard. */
export async function tickKeys(kinesis: KinesisClient, stream: string): Promise<Map<string, string>> {
  const route = shardRouter(await openShardRanges(kinesis, stream));
  const keys = new Map<string, string>();
  const shards = (await openShardRanges(kinesis, stream)).length;
  for (let i = 0; keys.size < shards; i++) {
    const key = `tick-${i}`;
    const shard = route(key);
    if (!keys.has(shard)) keys.set(shard, key);
  }
  return keys;
}

/** Puts one metric-less reading at `at` on every shard (one Kinesis record each); returns their positions. */
export async function putTicks(
  kinesis: KinesisClient,
  stream: string,
  keys: ReadonlyMap<string, string>,
  at: number,
): Promise<Map<string, Position>> {
  const positions = new Map<string, Position>();
  for (const [shard, key] of keys) {
    const envelope = envelopeOf(key, 'thermo-t1', at, at, {});
    const out = await kinesis.send(
      new PutRecordCommand({
        StreamName: stream,
        PartitionKey: key,
        Data: new TextEncoder().encode(JSON.stringify(envelope)),
      }),
    );
    if (out.ShardId !== shard) throw new Error(`tick ${key} landed on ${out.ShardId}, not ${shard}`);
    positions.set(shard, { sequenceNumber: out.SequenceNumber!, subSequenceNumber: 0 });
  }
  return positions;
}

/** Puts readings in arrival order as KPL aggregates of at most `aggregateBytes`. */
export async function putReadings(
  kinesis: KinesisClient,
  stream: string,
  readings: readonly Reading[],
  aggregateBytes: number,
): Promise<number> {
  const producer = kinesisProducer({
    client: kinesis,
    clock: systemClock,
    streamName: stream,
    aggregation: { maxBytes: aggregateBytes },
  });
  const chunk = 5_000;
  for (let i = 0; i < readings.length; i += chunk) {
    await producer.put(
      readings
        .slice(i, i + chunk)
        .map((r) => envelopeOf(r.deviceId, r.productId, r.at, r.arrival, r.metrics)),
    );
  }
  return producer.recordsPut;
}

// ---------------------------------------------------------------------------------------------------
// The brute force and the comparison with what the stores hold.

const SIZES: readonly WindowSize[] = ['1h', '6h', '1d'];

/** The identity of one window of one key and metric (as `aggregateKey` of the shared suite). */
function keyOf(
  scope: AggregateScope,
  size: WindowSize,
  start: number,
  product: string,
  key: string,
  m: string,
) {
  return `${scope}|${size}|${start}|${product}|${key}|${m}`;
}

/** Expected statistics of the readings, by brute force, for the scopes asked. */
function bruteForce(
  readings: Iterable<Reading>,
  scopes: readonly ('product' | 'device' | 'customer-product')[],
  customerAt: (deviceId: string, at: number) => string | null,
): Map<string, MetricStats> {
  const assign = windowAssigner('UTC');
  const points = new Map<string, [number, number][]>();
  const add = (key: string, at: number, value: number) => {
    const list = points.get(key);
    if (list === undefined) points.set(key, [[at, value]]);
    else list.push([at, value]);
  };
  for (const r of readings) {
    for (const scope of scopes) {
      const sizes: readonly WindowSize[] = scope === 'customer-product' ? ['1d'] : SIZES;
      const key =
        scope === 'product' ? '' : scope === 'device' ? r.deviceId : String(customerAt(r.deviceId, r.at));
      for (const size of sizes) {
        const { start } = assign(r.at, size);
        for (const [m, v] of Object.entries(r.metrics))
          add(keyOf(scope, size, start, r.productId, key, m), r.at, v);
      }
    }
  }
  return new Map([...points].map(([k, p]) => [k, statsOf(p)]));
}

/** One stored final aggregate row, as read back. */
interface StoredRow {
  readonly key: string;
  readonly final: boolean;
  readonly revision: number;
  readonly stats: MetricStats;
}

/** Mismatches between stored rows and the expected statistics (same rules as `compareAggregates`). */
function compareRows(rows: readonly StoredRow[], expected: ReadonlyMap<string, MetricStats>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    seen.add(row.key);
    const want = expected.get(row.key);
    if (want === undefined) {
      problems.push(`${row.key}: stored but not expected (${JSON.stringify(row.stats)})`);
      continue;
    }
    const ok = matchesReference(row, want);
    if (!ok) problems.push(`${row.key}: stored ${JSON.stringify(row)} want ${JSON.stringify(want)}`);
  }
  for (const key of expected.keys()) if (!seen.has(key)) problems.push(`${key}: not stored`);
  return problems;
}

const STATS_COLUMNS = `count::float8 AS count, sum, min, max, mean, m2, first, last,
  (extract(epoch FROM first_at) * 1000)::float8 AS first_at,
  (extract(epoch FROM last_at) * 1000)::float8 AS last_at, revision, final`;

interface StatsColumns {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  first: number;
  last: number;
  first_at: number;
  last_at: number;
  revision: number;
  final: boolean;
}

const statsOfColumns = (r: StatsColumns): MetricStats => ({
  count: r.count,
  sum: r.sum,
  min: r.min,
  max: r.max,
  mean: r.mean,
  m2: r.m2,
  first: r.first,
  firstAt: r.first_at,
  last: r.last,
  lastAt: r.last_at,
});

/** What the comparison found. */
export interface ComparisonReport {
  /** Stored rows compared, per scope. */
  readonly rows: Record<'product' | 'device' | 'customer-product', number>;
  /** The first mismatches (empty when every window matches). */
  readonly problems: readonly string[];
}

/**
 * Compares every stored window with the brute force over `accepted` readings: product windows (Hot)
 * at once, device windows (Hot) device by device as they stream in key order, daily customer ×
 * product windows (Warm) at once. Memory stays at one device's windows plus the product and customer
 * ones, whatever the fleet's size.
 */
export async function compareStoredAggregates(
  url: string,
  workload: ReferenceWorkload,
  accepted: readonly Reading[],
): Promise<ComparisonReport> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => {});
  const problems: string[] = [];
  const note = (found: readonly string[]) => {
    if (problems.length < 20) problems.push(...found.slice(0, 20 - problems.length));
  };
  const rows = { product: 0, device: 0, 'customer-product': 0 };
  try {
    const product = await pool.query<
      StatsColumns & { product_id: string; metric: string; window_size: WindowSize; ws: number }
    >(
      `SELECT product_id, metric, window_size, (extract(epoch FROM window_start) * 1000)::float8 AS ws, ${STATS_COLUMNS}
       FROM hot_aggregates WHERE scope = 'product'`,
    );
    rows.product = product.rows.length;
    note(
      compareRows(
        product.rows.map((r) => ({
          key: keyOf('product', r.window_size, r.ws, r.product_id, '', r.metric),
          final: r.final,
          revision: r.revision,
          stats: statsOfColumns(r),
        })),
        bruteForce(accepted, ['product'], workload.customerAt),
      ),
    );

    const daily = await pool.query<
      StatsColumns & { product_id: string; metric: string; customer_id: string | null; ws: number }
    >(
      `SELECT product_id, metric, customer_id, (extract(epoch FROM day_start) * 1000)::float8 AS ws, ${STATS_COLUMNS}
       FROM customer_product_daily_aggregates`,
    );
    rows['customer-product'] = daily.rows.length;
    note(
      compareRows(
        daily.rows.map((r) => ({
          key: keyOf('customer-product', '1d', r.ws, r.product_id, String(r.customer_id), r.metric),
          final: r.final,
          revision: r.revision,
          stats: statsOfColumns(r),
        })),
        bruteForce(accepted, ['customer-product'], workload.customerAt),
      ),
    );

    // device windows: keyset pages in primary-key order, compared one device at a time
    const byDevice = new Map<string, Reading[]>();
    for (const r of accepted) {
      const list = byDevice.get(r.deviceId);
      if (list === undefined) byDevice.set(r.deviceId, [r]);
      else list.push(r);
    }
    const compared = new Set<string>();
    let pending: StoredRow[] = [];
    let pendingDevice: string | undefined;
    const flush = () => {
      if (pendingDevice === undefined) return;
      compared.add(pendingDevice);
      note(
        compareRows(pending, bruteForce(byDevice.get(pendingDevice) ?? [], ['device'], workload.customerAt)),
      );
      pending = [];
    };
    let after: unknown[] | undefined;
    for (;;) {
      const page = await pool.query<
        StatsColumns & {
          key: string;
          product_id: string;
          metric: string;
          window_size: WindowSize;
          window_start: Date;
          ws: number;
        }
      >(
        `SELECT key, product_id, metric, window_size, window_start, (extract(epoch FROM window_start) * 1000)::float8 AS ws, ${STATS_COLUMNS}
         FROM hot_aggregates WHERE scope = 'device'
         ${after ? `AND (scope, key, metric, window_size, window_start) > ('device', $1, $2, $3, $4)` : ''}
         ORDER BY scope, key, metric, window_size, window_start LIMIT 20000`,
        after ?? [],
      );
      for (const r of page.rows) {
        if (r.key !== pendingDevice) {
          flush();
          pendingDevice = r.key;
        }
        pending.push({
          key: keyOf('device', r.window_size, r.ws, r.product_id, r.key, r.metric),
          final: r.final,
          revision: r.revision,
          stats: statsOfColumns(r),
        });
      }
      rows.device += page.rows.length;
      const last = page.rows.at(-1);
      if (last === undefined || page.rows.length < 20000) break;
      after = [last.key, last.metric, last.window_size, last.window_start];
    }
    flush();
    const missing = [...byDevice.keys()].filter((d) => !compared.has(d));
    if (missing.length > 0)
      note([`no device window stored for ${missing.length} devices, e.g. ${missing[0]}`]);
  } finally {
    await pool.end();
  }
  return { rows, problems };
}
