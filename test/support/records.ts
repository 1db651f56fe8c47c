/**
 * The records tests build, one builder each, so that a change of a record's shape is made once: raw
 * stream records (`rawRecord`), decoded telemetry (`reading`) and telemetry joined with its master
 * data (`enriched`). A reading is what the decode stage makes of a thermo-t1 payload, every optional
 * part of its stream reference filled in, so that a store that drops one is caught.
 */
import type { Enriched, RawRecord, Telemetry } from '../../topology/index.ts';

/** The shard every builder puts its records on unless told otherwise. */
const SHARD = 'shardId-000000000000';

let lastSequence = 0;

/**
 * A stream record carrying `data` (text as UTF-8): on shard 0 of stream `telemetry` at the next
 * sequence number of the test file, partition key `pk`, arrived at 0; `fields` replace any of these.
 */
export function rawRecord(
  data: Uint8Array | string,
  fields: Partial<Omit<RawRecord, 'data'>> = {},
): RawRecord {
  return {
    stream: 'telemetry',
    shardId: SHARD,
    sequenceNumber: String(++lastSequence),
    partitionKey: 'pk',
    arrivedAt: 0,
    ...fields,
    data: typeof data === 'string' ? Buffer.from(data) : data,
  };
}

/**
 * A thermo-t1 reading of `deviceId` at `at` (epoch ms), received 250 ms later, from stream position
 * `seq` of shard 0.
 */
export function reading(
  deviceId: string,
  at: number,
  seq = 1,
  metrics: Telemetry['metrics'] = { temperature: 20 },
): Telemetry {
  return {
    device_id: deviceId,
    device_timestamp: at,
    productId: 'thermo-t1',
    metrics,
    ingest_timestamp: at + 250,
    rawRef: {
      protocol: 'mqtt',
      topic: `devices/${deviceId}/telemetry`,
      format: 'json',
      stream: 'telemetry',
      shardId: SHARD,
      sequenceNumber: String(seq),
      subSequenceNumber: 0,
      specId: 'thermo-t1',
      specVersion: 1,
    },
  };
}

/** {@link reading}'s record joined with its master data: a device at `site-1` of `customer-1`. */
export function enriched(...args: Parameters<typeof reading>): Enriched {
  return { ...reading(...args), site_id: 'site-1', customer_id: 'customer-1' };
}
