/**
 * The seam between a Kinesis record and shardflow's `RawRecord`. Today one Kinesis record is one
 * `RawRecord`; KPL de-aggregation will replace this function's body, turning one aggregated record
 * into its user records, each with its `subSequenceNumber`, without the reader changing.
 */
import type { _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { RawRecord } from '../../../topology/index.ts';

const EMPTY = new Uint8Array(0);

/** The `RawRecord`s one Kinesis record carries (one, until KPL de-aggregation is added). */
export function toRawRecords(stream: string, shardId: string, record: KinesisRecord): readonly RawRecord[] {
  return [
    {
      stream,
      shardId,
      sequenceNumber: record.SequenceNumber!,
      partitionKey: record.PartitionKey ?? '',
      arrivedAt: record.ApproximateArrivalTimestamp?.getTime() ?? 0,
      data: record.Data ?? EMPTY,
    },
  ];
}
