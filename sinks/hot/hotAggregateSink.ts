/**
 * Writes product- and device-scope window aggregates to the Hot store, keeping the highest revision
 * of each window. Customer x product aggregates in the same stream are the Warm store's
 * (`warmDailyAggregateSink`) and are passed over here.
 */
import type { Sink, WindowAggregate } from '../../topology/index.ts';
import { type HotStore, isHotAggregate } from './hotStore.ts';

/** The Hot store's aggregate sink (scopes product and device). */
export function hotAggregateSink(store: HotStore): Sink<WindowAggregate> {
  return {
    type: `hot-aggregates-${store.kind}`,
    stores: [{ name: 'hot.aggregates', kind: store.kind }],
    durability: 'on-write',
    // forward-only upserts by window key: any part of a batch can be written on its own
    rejects: 'isolate',
    async write(batch) {
      const hot = batch.filter(isHotAggregate);
      if (hot.length > 0) await store.writeAggregates(hot);
    },
  };
}
