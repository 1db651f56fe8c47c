/**
 * Exactly-once window state when a shard changes owner. The state backend applies a call only if its
 * position is beyond the shard's last applied one, and that check covers a whole batch. But batches of
 * one shard are not cut the same way twice: after a failover the new owner reads again from the last
 * checkpoint, in GetRecords pages holding whatever the stream had when they were read; and while a
 * lease is being stolen, its old owner still applies the batches it has in flight. Either way one
 * batch can hold records already applied and records never applied, and applied whole, the first
 * count twice.
 *
 * So the window operator is given one Kinesis record at a time (its user records, at the record's own
 * position: every batch ends at one): each is applied exactly once whoever delivers it, and a record
 * applied before comes back as a duplicate with the windows its batch claimed. With KPL aggregation a
 * Kinesis record holds hundreds of readings, so this costs a round trip per aggregate, not per reading;
 * a stream of single-reading records pays one per reading.
 */
import type { Enriched, Operator, OperatorContext, Position, WindowAggregate } from '../../topology/index.ts';

type WindowOperator = Operator<Enriched, WindowAggregate, { late: Enriched }>;

function before(a: Position, b: Position): boolean {
  if (a.sequenceNumber.length !== b.sequenceNumber.length)
    return a.sequenceNumber.length < b.sequenceNumber.length;
  if (a.sequenceNumber !== b.sequenceNumber) return a.sequenceNumber < b.sequenceNumber;
  return a.subSequenceNumber < b.subSequenceNumber;
}

/** The batch's records by Kinesis record (user records of a KPL aggregate share one), in stream order. */
function byKinesisRecord(batch: readonly Enriched[]): Array<[Position, Enriched[]]> {
  const groups = new Map<string, Enriched[]>();
  for (const record of batch) {
    const seq = record.rawRef.sequenceNumber;
    const group = groups.get(seq);
    if (group === undefined) groups.set(seq, [record]);
    else group.push(record);
  }
  return [...groups]
    .map(([sequenceNumber, records]): [Position, Enriched[]] => [
      { sequenceNumber, subSequenceNumber: 0 },
      records,
    ])
    .sort(([a], [b]) => (before(a, b) ? -1 : 1));
}

/** The window operator, called once per Kinesis record of each batch (see the file comment). */
export function perKinesisRecord(windows: WindowOperator): WindowOperator {
  return {
    ...windows,
    process: async function processPerKinesisRecord(batch, ctx) {
      const groups = byKinesisRecord(batch);
      const out: WindowAggregate[] = [];
      for (const [position, records] of groups) {
        const at: OperatorContext<{ late: Enriched }> = {
          node: ctx.node,
          shardId: ctx.shardId,
          position,
          clock: ctx.clock,
          timers: ctx.timers,
          fromTimer: ctx.fromTimer,
          side: (port, record) => ctx.side(port, record),
        };
        for (const a of await windows.process(records, at)) out.push(a);
      }
      return out;
    },
  };
}
