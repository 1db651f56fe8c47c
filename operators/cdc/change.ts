/**
 * The typed change events the CDC decoder produces from AWS DMS and MongoDB change-stream records,
 * and the master-data applier consumes.
 *
 * `version` orders the changes of one key: fixed-width digits, so plain string comparison orders
 * them. It is the source's commit order (DMS `metadata.timestamp` in microseconds, then the
 * transaction record id; Mongo `clusterTime` seconds and increment), then the stream position as a
 * tie-break. A change whose version is not above the stored one is stale and changes nothing.
 */
import type { MasterDataEntity } from '../../topology/index.ts';

export type {
  MasterDataChange,
  MasterDataControl,
  MasterDataEntity,
  MasterDataRowChange,
} from '../../topology/index.ts';

/** The master-data entities a change can feed. */
export const MASTER_DATA_ENTITIES = [
  'customer',
  'site',
  'product',
  'device',
  'device-assignment',
  'site-assignment',
] as const satisfies readonly MasterDataEntity[];

/** The target fields each entity has (besides its key); every value is text or null. */
export const ENTITY_FIELDS = {
  customer: ['name'],
  site: ['name', 'timezone'],
  product: ['name'],
  device: ['product_id', 'hub_id', 'name'],
  'device-assignment': ['site_id'],
  'site-assignment': ['customer_id'],
} as const satisfies Record<MasterDataEntity, readonly string[]>;

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
