/**
 * Turns KPL-aggregated Kinesis records into their user records. It is an operator placed right
 * after the Kinesis source, not part of the shard reader, so that a corrupt aggregate goes to the
 * engine's dead-letter side output like any other bad record (with its node, reason and stream
 * position) instead of failing or stalling the shard. The batch's source position is unchanged:
 * checkpoints still name the Kinesis record, and each user record carries its `subSequenceNumber`.
 *
 * ```ts
 * const records = b.source('kinesis', source).via('kpl-deaggregation', kplDeaggregation());
 * records.side('dlq').to('kpl-dead-letters', deadLetterSink); // any Sink<DeadLetter>
 * ```
 */
import { type DeadLetter, deadLetterOf, type Operator, type RawRecord } from '../../topology/index.ts';
import { deaggregate } from './retrieval/kpl.ts';

/**
 * De-aggregates KPL records: plain records pass through as they are, each user record of an
 * aggregate becomes a `RawRecord` with its own partition key and `subSequenceNumber` (its index in
 * the aggregate), and a corrupt aggregate goes whole to `dlq`. A user record's explicit hash key
 * is dropped: it only chose the shard, and `RawRecord` has no field for it.
 */
export function kplDeaggregation(): Operator<RawRecord, RawRecord, { dlq: DeadLetter }> {
  return {
    type: 'kpl-deaggregation',
    sideOutputs: ['dlq'],
    process: function kplDeaggregationBatch(batch, ctx) {
      const out: RawRecord[] = [];
      for (const record of batch) {
        const result = deaggregate(record.data);
        if (result.kind === 'plain') {
          out.push(record);
        } else if (result.kind === 'aggregate') {
          const users = result.records;
          for (let i = 0; i < users.length; i++) {
            const user = users[i]!;
            out.push({
              stream: record.stream,
              shardId: record.shardId,
              sequenceNumber: record.sequenceNumber,
              subSequenceNumber: i,
              partitionKey: user.partitionKey,
              arrivedAt: record.arrivedAt,
              data: user.data,
            });
          }
        } else {
          ctx.side(
            'dlq',
            deadLetterOf(record, ctx.node, `corrupt KPL aggregate: ${result.reason}`, ctx.clock.now()),
          );
        }
      }
      return out;
    },
  };
}
