/**
 * A Kinesis record as shardflow's `RawRecord`. One Kinesis record is one `RawRecord` here; a
 * KPL-aggregated record is split into its user records by the `kpl-deaggregation` operator that runs
 * right after the source (so that a corrupt aggregate can go to the dead-letter side output).
 */
import type { _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { RawRecord } from '../../../topology/index.ts';

const EMPTY = new Uint8Array(0);

/** The `RawRecord` of one Kinesis record. */
export function toRawRecord(stream: string, shardId: string, record: KinesisRecord): RawRecord {
  return {
    stream,
    shardId,
    sequenceNumber: record.SequenceNumber!,
    partitionKey: record.PartitionKey ?? '',
    arrivedAt: record.ApproximateArrivalTimestamp?.getTime() ?? 0,
    data: record.Data ?? EMPTY,
  };
}
