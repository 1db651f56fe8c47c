/**
 * The records tests build, one builder each, so that a change of a record's shape is made once:
 * decoded telemetry here; joined telemetry in `hotConformance.ts` (`enriched`); raw stream records of
 * a payload in `unit/operators/decode/fixtures.ts` (`record`).
 */
import type { Telemetry } from '../../topology/index.ts';

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
