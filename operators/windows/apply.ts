/**
 * A batch's way through the state backend: aggregated, then applied in one call that also moves the
 * shard's position (exactly-once under redelivery), publishes its watermark and claims the windows to
 * emit. When records carry their Kinesis positions (`positionsFromRecords`), the call also names the
 * batch's first position, and a batch that straddles the shard's applied position (redelivered after
 * a failover in pages cut differently, or a stolen lease's last batch) comes back as an `overlap`: its
 * records up to the applied position are duplicates (their first delivery's late records and claims
 * are repeated), the rest is applied as a batch of its own.
 */
import {
  type Classification,
  comparePositions,
  type Enriched,
  type OperatorContext,
  type Position,
  type WatermarkPolicy,
  type WindowAggregate,
  type WindowBackend,
} from '../../topology/index.ts';
import { type batchAggregator, partialsOf } from './aggregate.ts';
import type { FlushSchedule, FlushTake } from './flush.ts';
import { aggregateOf } from './keys.ts';
import type { ShardTicks } from './ticks.ts';
import type { GlobalWatermark } from './watermark.ts';

const after = (a: Position, b: Position) => comparePositions(a, b) > 0;

/** What applying a batch takes. */
export interface BatchApplication {
  readonly backend: WindowBackend;
  readonly policy: WatermarkPolicy;
  readonly aggregator: ReturnType<typeof batchAggregator>;
  readonly schedule: FlushSchedule;
  readonly global: GlobalWatermark;
  /** See `WindowAggregateOptions.positionsFromRecords`. */
  readonly positionsFromRecords: boolean | undefined;
}

/** Applies a shard's batch (`flush`: what its call flushes) and returns the windows it claimed. */
export function batchApplier(app: BatchApplication) {
  const { backend, policy, aggregator, schedule, global } = app;

  /** Records of a batch that were late when the batches that applied them classified them. */
  const lateAmong = (
    records: readonly Enriched[],
    positionOf: (r: Enriched) => Position,
    classified: readonly Classification[],
    otherwise: number,
  ): Enriched[] => {
    const late: Enriched[] = [];
    for (const record of records) {
      const t = record.device_timestamp;
      if (!Number.isFinite(t)) continue;
      const q = positionOf(record);
      let w = otherwise;
      for (const c of classified)
        if (!after(q, c.position)) {
          w = c.watermark;
          break;
        }
      if (aggregator.tooLate(t, w)) late.push(record);
    }
    return late;
  };

  return async function applyBatch(
    batch: readonly Enriched[],
    ctx: OperatorContext<{ late: Enriched }>,
    now: number,
    flush: FlushTake,
    t: ShardTicks,
  ): Promise<WindowAggregate[]> {
    const last = ctx.position;
    const positionOf = app.positionsFromRecords
      ? (r: Enriched): Position => ({ sequenceNumber: r.rawRef.sequenceNumber, subSequenceNumber: 0 })
      : () => last;
    const out: WindowAggregate[] = [];
    let records = batch;
    for (;;) {
      let first = last;
      for (const r of records) {
        const p = positionOf(r);
        if (after(first, p)) first = p;
      }
      const classifiedWith = global.value;
      const built = aggregator.aggregate(records, classifiedWith);
      const result = await backend.apply({
        shardId: ctx.shardId,
        position: last,
        firstPosition: first,
        classifiedWith,
        maxEventTime: built.maxEventTime,
        now,
        policy,
        partials: partialsOf(built),
        flush: flush.selection,
        flushLimit: flush.limit,
      });
      global.raise(result.globalWatermark);
      if (result.status === 'stale-watermark') continue;
      if (built.maxEventTime > t.maxEventTime) t.maxEventTime = built.maxEventTime;
      if (result.status === 'applied') {
        schedule.flushed(flush, now, result.moreToFlush, result.emissions);
        for (const record of built.late) ctx.side('late', record);
        for (const e of result.emissions) out.push(aggregateOf(e));
        return out;
      }
      // applied before (all of it, or up to `applied`): the first deliveries decide which records
      // were late, and their claims are emitted again
      const applied = result.status === 'overlap' ? result.applied : last;
      const done =
        result.status === 'overlap' ? records.filter((r) => !after(positionOf(r), applied)) : records;
      for (const record of lateAmong(done, positionOf, result.classified, result.globalWatermark))
        ctx.side('late', record);
      for (const e of result.emissions) out.push(aggregateOf(e));
      if (result.status === 'duplicate') return out;
      records = records.filter((r) => after(positionOf(r), applied));
    }
  };
}
