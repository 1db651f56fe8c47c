/**
 * The Hot store: what the live dashboards read. One interface, two implementations that pass one
 * conformance suite (`test/support/hotConformance.ts`): PostgreSQL (local runs, the embedded demo,
 * CI) and MongoDB / Amazon DocumentDB (production).
 *
 * Every write is an upsert by a natural key, so a replayed batch leaves the same rows: telemetry by
 * device, device time and stream position; latest state per device, moving only forward in device
 * time; window aggregates by (scope, key, metric, window, window start), keeping the highest revision;
 * open alarms by episode id, moving only forward in the episode's event number.
 */
import type {
  AlarmTarget,
  Enriched,
  Episode,
  RawRef,
  Severity,
  WindowAggregate,
  WindowSize,
} from '../../topology/index.ts';

/** Each device's latest record, as the dashboards show it. */
export interface DeviceState {
  readonly deviceId: string;
  readonly productId: string;
  /** Event time of the record the state comes from (epoch ms). */
  readonly deviceTimestamp: number;
  readonly siteId: string | null;
  readonly customerId: string | null;
  readonly metrics: Enriched['metrics'];
}

/** Which recent telemetry to read: a device or a product, over `[from, to)` in device time. */
export interface TelemetryQuery {
  readonly deviceId?: string;
  readonly productId?: string;
  readonly from: number;
  readonly to: number;
  /** At most this many records, oldest first; all when absent. */
  readonly limit?: number;
}

/** Which window aggregates to read: windows of one key starting in `[from, to)`. */
export interface AggregateQuery {
  readonly scope: 'product' | 'device';
  /** The product id (scope product) or the device id (scope device). */
  readonly key: string;
  readonly window: WindowSize;
  readonly from: number;
  readonly to: number;
  readonly metric?: string;
}

/** An alarm as a customer's dashboard shows it. */
export interface OpenAlarm {
  readonly episodeId: string;
  readonly ruleId: string;
  readonly target: AlarmTarget;
  readonly customerId: string | null;
  readonly siteId: string | null;
  readonly deviceId: string | null;
  readonly productId: string | null;
  readonly severity: Severity;
  readonly status: Episode['status'];
  readonly acknowledged: boolean;
  readonly latched: boolean;
  readonly assignee: string | null;
  readonly shelvedUntil: number | null;
  readonly flapping: boolean;
  readonly value: number | null;
  readonly message: string;
  readonly openedAt: number;
  readonly updatedAt: number;
  readonly lastEventSeq: number;
}

/** Which open alarms to read: most severe first, then newest. */
export interface OpenAlarmQuery {
  readonly customerId?: string;
  /** Only this device's alarms: what a device page shows. */
  readonly deviceId?: string;
  /** Only alarms at least this severe. */
  readonly minSeverity?: Severity;
  /** At most this many; 1,000 when absent. */
  readonly limit?: number;
}

/** The Hot store's writes (write endpoint) and reads (read endpoint). */
export interface HotStore {
  /** The technology, for the topology description. */
  readonly kind: 'postgresql' | 'mongodb';
  /** Days of joined telemetry kept, counted back from the current time. */
  readonly retentionDays: number;
  /** Creates what the store needs (tables by migration, indexes); idempotent. */
  prepare(): Promise<void>;
  /**
   * Upserts joined telemetry and moves each device's latest state forward. Records older than the
   * retention at `now` are not written (they would expire at once).
   */
  writeTelemetry(batch: readonly Enriched[], now: number): Promise<void>;
  /** Upserts product- and device-scope window aggregates; a lower revision never replaces a higher. */
  writeAggregates(batch: readonly WindowAggregate[]): Promise<void>;
  /**
   * Brings the open alarms to these episodes' states: an episode newer (by `lastEventSeq`) than the
   * stored one replaces it, a closed one leaves the dashboards (its row is kept, marked closed, until
   * the retention, so a replayed older event cannot bring it back).
   */
  writeOpenAlarms(episodes: readonly Episode[]): Promise<void>;
  /** Open alarms, most severe first, then newest opened. */
  readOpenAlarms(query: OpenAlarmQuery): Promise<OpenAlarm[]>;
  /**
   * Removes telemetry (and closed alarms) older than the retention at `now`; returns how many
   * days/partitions of telemetry it dropped.
   */
  expire(now: number): Promise<number>;
  readTelemetry(query: TelemetryQuery): Promise<Enriched[]>;
  /** Number of telemetry records with device time in `[from, to)`. */
  countTelemetry(from: number, to: number): Promise<number>;
  readLatestState(deviceId: string): Promise<DeviceState | undefined>;
  readAggregates(query: AggregateQuery): Promise<WindowAggregate[]>;
  close(): Promise<void>;
}

/** One day in milliseconds. */
export const DAY_MS = 86_400_000;

/** Start of the UTC day holding `at`. */
export function utcDayStart(at: number): number {
  return Math.floor(at / DAY_MS) * DAY_MS;
}

/** The oldest device time the retention keeps at `now`. */
export function retentionCutoff(now: number, retentionDays: number): number {
  return now - retentionDays * DAY_MS;
}

/** The Hot key of an aggregate: the product id (scope product) or the device id (scope device). */
export function hotAggregateKey(a: WindowAggregate): string {
  return a.scope === 'device' ? (a.deviceId ?? '') : a.productId;
}

/** True for the aggregates the Hot store keeps (scopes product and device). */
export function isHotAggregate(a: WindowAggregate): boolean {
  return a.scope === 'product' || (a.scope === 'device' && a.deviceId !== undefined);
}

/**
 * The records of a batch that survive upsert in one statement: the last record per natural key
 * (PostgreSQL refuses to update one row twice in a statement; MongoDB would apply both).
 */
export function lastByKey<T>(batch: readonly T[], key: (t: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const t of batch) byKey.set(key(t), t);
  return [...byKey.values()];
}

/**
 * The raw reference as the Hot store keeps it: without the partition key, which is for keyed state
 * in the pipeline (usually the device id again), so stored rows keep their shape and size.
 */
export function storedRawRef(ref: RawRef): Omit<RawRef, 'partitionKey'> {
  const { partitionKey: _partitionKey, ...stored } = ref;
  return stored;
}

/** The natural key of a telemetry record: device, device time and stream position. */
export function telemetryKey(e: Enriched): string {
  const r = e.rawRef;
  return `${e.device_id}\u0001${e.device_timestamp}\u0001${r.stream}\u0001${r.shardId}\u0001${r.sequenceNumber}\u0001${r.subSequenceNumber ?? 0}`;
}

/** The natural key of an aggregate. */
function aggregateKey(a: WindowAggregate): string {
  return `${a.scope}\u0001${hotAggregateKey(a)}\u0001${a.metric}\u0001${a.window}\u0001${a.windowStart}`;
}

/**
 * A map's values in the order of their keys. Upserts write rows in key order, so two shards' writers
 * touching the same rows lock them in the same order and cannot deadlock each other.
 */
function inKeyOrder<T>(byKey: ReadonlyMap<string, T>): T[] {
  return [...byKey.keys()].sort().map((key) => byKey.get(key)!);
}

/** Per device, the batch's latest record (a later record in the batch wins a tie in device time). */
export function latestPerDevice(batch: readonly Enriched[]): Enriched[] {
  const latest = new Map<string, Enriched>();
  for (const e of batch) {
    const current = latest.get(e.device_id);
    if (current === undefined || current.device_timestamp <= e.device_timestamp) latest.set(e.device_id, e);
  }
  return inKeyOrder(latest);
}

/** Per aggregate key, the batch's highest revision (a later one wins a tie). */
export function highestRevisions(batch: readonly WindowAggregate[]): WindowAggregate[] {
  const best = new Map<string, WindowAggregate>();
  for (const a of batch) {
    const key = aggregateKey(a);
    const current = best.get(key);
    if (current === undefined || current.revision <= a.revision) best.set(key, a);
  }
  return inKeyOrder(best);
}

/** Per episode, the batch's latest state (highest event number), in episode id order. */
export function latestEpisodes(batch: readonly Episode[]): Episode[] {
  const latest = new Map<string, Episode>();
  for (const e of batch) {
    const current = latest.get(e.id);
    if (current === undefined || current.lastEventSeq < e.lastEventSeq) latest.set(e.id, e);
  }
  return inKeyOrder(latest);
}

/** The dashboard row of an episode. */
export function openAlarmOf(e: Episode): OpenAlarm {
  return {
    episodeId: e.id,
    ruleId: e.ruleId,
    target: e.target,
    customerId: e.customerId,
    siteId: e.siteId,
    deviceId: e.deviceId,
    productId: e.productId,
    severity: e.severity,
    status: e.status,
    acknowledged: e.acknowledged,
    latched: e.latched,
    assignee: e.assignee,
    shelvedUntil: e.shelvedUntil,
    flapping: e.flapping,
    value: e.value,
    message: e.message,
    openedAt: e.openedAt,
    updatedAt: e.updatedAt,
    lastEventSeq: e.lastEventSeq,
  };
}

/** Open alarms per read unless asked otherwise. */
export const OPEN_ALARMS_LIMIT = 1000;
