/**
 * The records that flow between shardflow's components (architecture page, section 2).
 * Sources produce `RawRecord`s; the decode stage turns them into `Telemetry`.
 */

/** A source's place in one shard: a Kinesis sequence number (decimal string) and sub-sequence. */
export interface Position {
  readonly sequenceNumber: string;
  /** Index of a user record inside a KPL-aggregated record; 0 when not aggregated. */
  readonly subSequenceNumber: number;
}

/** Orders two positions of the same shard (sequence numbers are unbounded decimal strings). */
export function comparePositions(a: Position, b: Position): number {
  const sa = a.sequenceNumber;
  const sb = b.sequenceNumber;
  if (sa.length !== sb.length) return sa.length < sb.length ? -1 : 1;
  if (sa !== sb) return sa < sb ? -1 : 1;
  return a.subSequenceNumber - b.subSequenceNumber;
}

/** The later of two positions; `undefined` counts as "nothing yet". */
export function maxPosition(a: Position | undefined, b: Position): Position {
  return a === undefined || comparePositions(a, b) < 0 ? b : a;
}

/** One record as read from a stream shard, before any decoding. */
export interface RawRecord {
  readonly stream: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber?: number;
  readonly partitionKey: string;
  /** Approximate arrival time at the stream (epoch ms). */
  readonly arrivedAt: number;
  readonly data: Uint8Array;
}

/**
 * The position of a record in its shard: its sequence number and sub-sequence number (0 when it is
 * not a user record of a KPL aggregate). A `RawRef` carries the same two fields and maps the same way.
 */
export function positionOfRecord(record: Pick<RawRecord, 'sequenceNumber' | 'subSequenceNumber'>): Position {
  return { sequenceNumber: record.sequenceNumber, subSequenceNumber: record.subSequenceNumber ?? 0 };
}

/** What gateways write to the stream: a device payload and how it arrived. */
export interface IngestEnvelope {
  readonly v: 1;
  readonly protocol: 'mqtt' | 'tcp' | 'rest' | 'file';
  readonly topic?: string;
  readonly source?: string;
  /** When the gateway received the payload (epoch ms). */
  readonly receivedAt: number;
  readonly productId?: string;
  readonly encoding: 'base64' | 'utf8' | 'hex';
  readonly payload: string;
  /**
   * Set by a gateway that could not take the bytes as a message (a TCP stream's framing broke, a
   * file's record could not be cut): why. The decode stage makes it a `gateway-rejected` dead letter
   * with the payload as its bytes, so that nothing a device sent is lost.
   */
  readonly rejected?: string;
}

/** Where a decoded record came from, so any output can be traced to its stream position. */
export interface RawRef {
  readonly protocol: IngestEnvelope['protocol'];
  readonly topic?: string;
  readonly format: string;
  readonly stream: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber?: number;
  /**
   * The raw record's Kinesis partition key, as the decode stage copies it: what a stateful operator
   * downstream keys its state by, so the state follows the key's records across a reshard.
   */
  readonly partitionKey?: string;
  /** The product spec that decoded the record, and its version. */
  readonly specId?: string;
  readonly specVersion?: number;
}

/** The standard telemetry structure every format decodes into. Carries no customer or site. */
export interface Telemetry {
  readonly device_id: string;
  /** Event time (epoch ms). */
  readonly device_timestamp: number;
  readonly productId: string;
  readonly metrics: Readonly<Record<string, number | string | boolean | null>>;
  readonly hub_id?: string;
  readonly hub_timestamp?: number;
  readonly childDeviceId?: string;
  /** When the gateway received the payload (epoch ms). */
  readonly ingest_timestamp: number;
  readonly rawRef: RawRef;
}

/**
 * Telemetry joined with master data: the site and customer the device belonged to at the record's
 * event time (`device_timestamp`), or `null` when the device is unknown to the master data.
 */
export interface Enriched extends Telemetry {
  readonly site_id: string | null;
  readonly customer_id: string | null;
}

/**
 * The running statistics of one metric in one window, in mergeable form: two partials of the same
 * key combine exactly (count/mean/m2 by Chan's parallel variance; first/last by event time). Their
 * layout as slots of a `Float64Array` and their arithmetic are in `metricStats.ts`.
 */
export interface MetricStats {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Sum of squared differences from the mean; population variance = m2 / count. */
  readonly m2: number;
  readonly first: number;
  /** Event time of `first` (epoch ms). */
  readonly firstAt: number;
  readonly last: number;
  /** Event time of `last` (epoch ms). */
  readonly lastAt: number;
}

/** A window size: tumbling 1 hour, 6 hours or 1 day. */
export type WindowSize = '1h' | '6h' | '1d';

/** What a window aggregate is keyed by. */
export type AggregateScope = 'product' | 'device' | 'customer-product';

/**
 * One emitted window aggregate: a metric's statistics over one tumbling window of one key. Emitted
 * while open (running values, `final: false`) and when final; a late record re-emits it with a
 * higher `revision`, and stores keep the highest revision.
 */
export interface WindowAggregate {
  readonly scope: AggregateScope;
  readonly window: WindowSize;
  readonly productId: string;
  /** Set for `device` scope. */
  readonly deviceId?: string;
  /** Set for `customer-product` scope (`null` customer: devices unknown to the master data). */
  readonly customerId?: string | null;
  readonly metric: string;
  /** Window start and end (epoch ms, end exclusive). */
  readonly windowStart: number;
  readonly windowEnd: number;
  /**
   * Grows with the window's content, not with its emissions: `windowRevision(stats.count, final)`.
   * The same records give the same revision whoever emits them and however often (a redelivery, a
   * replay after the window state was lost), and more records a higher one.
   */
  readonly revision: number;
  /** True once the global watermark passed the window's end plus the allowed lateness. */
  readonly final: boolean;
  readonly stats: MetricStats;
}

/**
 * The revision of a window aggregate over `count` records: 2 × count, plus 1 once final. A final
 * outranks the running value of the same records; a late record outranks the final before it. The
 * records of a window only ever grow, so equal revisions mean equal statistics, and a replay of the
 * stream from before the window gives the revisions it had, so stores that keep the highest revision
 * (at least as high: the same content) take the recomputed values after a loss of the window state.
 */
export function windowRevision(count: number, final: boolean): number {
  return 2 * count + (final ? 1 : 0);
}

/** A master-data entity that change-data capture feeds. */
export type MasterDataEntity =
  | 'customer'
  | 'site'
  | 'product'
  | 'device'
  | 'device-assignment'
  | 'site-assignment';

/**
 * A row change of one master-data key, as the CDC decoder emits it and the applier consumes it.
 * `version` orders the changes of one key as plain text (fixed-width digits: the source's commit
 * order, then the stream position); a change not above the stored version is stale.
 */
export interface MasterDataRowChange {
  readonly kind: 'change';
  readonly entity: MasterDataEntity;
  /** `upsert` carries the full row, `patch` only the changed fields (a Mongo update without fullDocument). */
  readonly op: 'upsert' | 'patch' | 'delete';
  /** The entity's id (for assignments: the device id or the site id). */
  readonly key: string;
  readonly fields: Readonly<Record<string, string | null>>;
  readonly version: string;
  /** When the change takes effect (epoch ms): an assignment's new period starts here. */
  readonly effectiveAt: number;
  /** Where it came from, e.g. `dms:crm.devices` or `mongo:iot.sites`. */
  readonly origin: string;
}

/** A CDC control record (table created, dropped, altered): recorded, otherwise ignored. */
export interface MasterDataControl {
  readonly kind: 'control';
  readonly origin: string;
  readonly operation: string;
  readonly version: string;
  readonly at: number;
  /** The record's metadata as JSON text. */
  readonly detail: string;
}

/** What flows from the CDC decoder to the master-data applier. */
export type MasterDataChange = MasterDataRowChange | MasterDataControl;

/** A record that could not be processed, with the reason, kept so nothing is lost. */
export interface DeadLetter {
  /** The node that rejected the record. */
  readonly node: string;
  /** Human-readable: what was wrong. */
  readonly reason: string;
  /** Stable reason code (e.g. `checksum-mismatch`), when the node gives one. */
  readonly code?: string;
  /** The spec that was applied, when one matched. */
  readonly specId?: string;
  readonly specVersion?: number;
  readonly stream: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber?: number;
  /**
   * Which of the raw record's outputs this is, when one raw record yields several (a hub frame's
   * children, a logger's rows): part of the dead letter's identity, so they do not collapse into one.
   */
  readonly item?: string;
  /** The original bytes, base64-encoded. */
  readonly payloadBase64: string;
  readonly failedAt: number;
}

/** The dead letter of a raw record that `node` refused, keeping its bytes and stream position. */
export function deadLetterOf(
  record: RawRecord,
  node: string,
  reason: string,
  failedAt: number,
  extra: Pick<DeadLetter, 'code' | 'specId' | 'specVersion'> = {},
): DeadLetter {
  return {
    node,
    reason,
    ...extra,
    stream: record.stream,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    subSequenceNumber: record.subSequenceNumber,
    payloadBase64: Buffer.from(record.data).toString('base64'),
    failedAt,
  };
}
