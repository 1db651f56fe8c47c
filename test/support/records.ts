/**
 * The records tests build, one builder each, so that a change of a record's shape is made once: raw
 * stream records (`rawRecord`) and decoded telemetry (`reading`) here; joined telemetry in
 * `hotConformance.ts` (`enriched`).
 */
import type { RawRecord, Telemetry } from '../../topology/index.ts';

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

/** A thermo-t1 reading of `deviceId` at `at` (epoch ms), from stream position `seq` of shard `s0`. */
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
    ingest_timestamp: at,
    rawRef: {
      protocol: 'mqtt',
      format: 'json',
      stream: 'telemetry',
      shardId: 's0',
      sequenceNumber: String(seq),
    },
  };
}
