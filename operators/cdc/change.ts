/**
 * The typed change events the CDC decoder produces from AWS DMS and MongoDB change-stream records,
 * and the master-data applier consumes.
 *
 * `version` orders the changes of one key: fixed-width digits, so plain string comparison orders
 * them. It is the source's commit order (DMS `metadata.timestamp` in microseconds, then the
 * transaction record id; Mongo `clusterTime` seconds and increment), then the stream position as a
 * tie-break. A change whose version is not above the stored one is stale and changes nothing.
 */

/** The master-data entities a change can feed. */
export const MASTER_DATA_ENTITIES = [
  'customer',
  'site',
  'product',
  'device',
  'device-assignment',
  'site-assignment',
] as const;
/** One of {@link MASTER_DATA_ENTITIES}. */
export type MasterDataEntity = (typeof MASTER_DATA_ENTITIES)[number];

/** The target fields each entity has (besides its key); every value is text or null. */
export const ENTITY_FIELDS = {
  customer: ['name'],
  site: ['name', 'timezone'],
  product: ['name'],
  device: ['product_id', 'hub_id', 'name'],
  'device-assignment': ['site_id'],
  'site-assignment': ['customer_id'],
} as const satisfies Record<MasterDataEntity, readonly string[]>;

/** A row change of one entity key. */
export interface MasterDataRowChange {
  readonly kind: 'change';
  readonly entity: MasterDataEntity;
  /** `upsert` carries the full row, `patch` only the changed fields (a Mongo update without fullDocument). */
  readonly op: 'upsert' | 'patch' | 'delete';
  /** The entity's id (for assignments: the device id or the site id). */
  readonly key: string;
  readonly fields: Readonly<Record<string, string | null>>;
  /** Ordering value; see the file comment. */
  readonly version: string;
  /** When the change takes effect (epoch ms): an assignment's new period starts here. */
  readonly effectiveAt: number;
  /** Where it came from, e.g. `dms:crm.devices` or `mongo:iot.sites`. */
  readonly origin: string;
}

/** A DMS control record (table created, dropped, altered): recorded, otherwise ignored. */
export interface MasterDataControl {
  readonly kind: 'control';
  readonly origin: string;
  readonly operation: string;
  readonly version: string;
  readonly at: number;
  /** The record's metadata as JSON text. */
  readonly detail: string;
}

/** What the CDC decoder emits. */
export type MasterDataChange = MasterDataRowChange | MasterDataControl;

const pad = (n: bigint | number, width: number) => n.toString().padStart(width, '0');

/**
 * A version from a commit time in microseconds, an order inside the commit, and the stream
 * position (sequence number, sub-sequence) as the last tie-break.
 */
export function changeVersion(
  micros: bigint,
  order: bigint | number,
  sequenceNumber: string,
  subSequence = 0,
): string {
  return `${pad(micros, 17)}.${pad(order, 20)}.${sequenceNumber.padStart(64, '0')}.${pad(subSequence, 6)}`;
}
