/**
 * The window operator reading Kinesis positions from its records (`positionsFromRecords`, as the
 * worker runs it): a shard read again from its checkpoint in batches cut differently from the first
 * reading (a new owner after a failover), or a stolen lease's old owner still applying a batch the new
 * owner already covered, counts every record once, in one state call per batch unless the batch
 * straddles the applied position. Known by their last positions only, the same deliveries count the
 * overlap twice.
 */
import { describe, expect, it } from 'vitest';
import { windowAggregate, windowAggregateConfigSchema } from '../../../operators/windows/index.ts';
import { embeddedWindowState } from '../../../state/embeddedWindowState.ts';
import { type Enriched, ManualClock, type WindowAggregate } from '../../../topology/index.ts';
import {
  compareAggregates,
  enriched,
  latestAggregates,
  referenceAggregates,
} from '../../support/windowBruteForce.ts';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const T0 = Date.UTC(2026, 0, 5);
const config = windowAggregateConfigSchema.parse({
  flushIntervalMs: 0,
  customerFlushIntervalMs: 0,
  deviceFlushIntervalMs: 0,
});

/** Kinesis record `seq` (a KPL aggregate) of `n` readings, a minute apart from `seq` minutes in. */
function aggregate(seq: number, n: number): Enriched[] {
  return Array.from({ length: n }, (_, i) => {
    const r = enriched(`d${i}`, 'p', 'c', T0 + (seq * n + i) * MIN, { v: seq * 10 + i });
    return { ...r, rawRef: { ...r.rawRef, sequenceNumber: String(1000 + seq), subSequenceNumber: i } };
  });
}

/** Delivers batches (lists of Kinesis records) to one operator or another; returns what they emitted. */
async function deliver(
  deliveries: ReadonlyArray<{ worker: 0 | 1; records: readonly number[] }>,
  positionsFromRecords: boolean,
): Promise<{ out: WindowAggregate[]; records: Enriched[]; calls: number }> {
  const embedded = embeddedWindowState();
  let calls = 0;
  const backend: typeof embedded = {
    ...embedded,
    apply: (request) => {
      calls++;
      return embedded.apply(request);
    },
  };
  const clock = new ManualClock(T0);
  const make = () => windowAggregate(config, backend, { positionsFromRecords });
  const workers = [make(), make()];
  await backend.open();
  const out: WindowAggregate[] = [];
  const byRecord = new Map<number, Enriched[]>();
  const records = (seq: number) => {
    if (!byRecord.has(seq)) byRecord.set(seq, aggregate(seq, 3));
    return byRecord.get(seq)!;
  };
  const close = 99;
  for (const d of [...deliveries, { worker: 0 as const, records: [close] }]) {
    const batch = d.records.flatMap((seq) =>
      seq === close
        ? [
            {
              ...enriched('close', 'close', null, T0 + 30 * DAY, {}),
              rawRef: { ...records(1)[0]!.rawRef, sequenceNumber: '1099' },
            },
          ]
        : records(seq),
    );
    const last = batch.at(-1)!.rawRef.sequenceNumber;
    const emitted = await workers[d.worker]!.process(batch, {
      node: 'windows',
      shardId: 'shard-0',
      position: { sequenceNumber: last, subSequenceNumber: 0 },
      clock,
      side: () => {},
    });
    out.push(...emitted);
    await clock.advance(1_000);
  }
  return { out, records: [...byRecord.values()].flat(), calls };
}

describe('window operator under redelivery', () => {
  // first owner: [1 2] [3 4]; it dies after applying both, its checkpoint at 2; the new owner reads
  // [3 4 5] [6]; then a stolen lease: the old owner's in-flight [5 6 7] lands after the new owner's [7]
  const deliveries = [
    { worker: 0, records: [1, 2] },
    { worker: 0, records: [3, 4] },
    { worker: 1, records: [3, 4, 5] },
    { worker: 1, records: [6, 7] },
    { worker: 0, records: [5, 6, 7] },
    { worker: 1, records: [8] },
  ] as const;

  it('counts every record once however the deliveries are cut', async () => {
    const { out, records, calls } = await deliver(deliveries, true);
    const problems = compareAggregates(latestAggregates(out), referenceAggregates(records, config.windows));
    expect(problems).toEqual([]);
    // seven deliveries, one call each, but [3 4 5] straddles the applied position (4): two calls
    expect(calls).toBe(8);
  });

  it('(known by their last positions only, the overlapping deliveries count twice)', async () => {
    const { out, records } = await deliver(deliveries, false);
    const problems = compareAggregates(latestAggregates(out), referenceAggregates(records, config.windows));
    expect(problems.length).toBeGreaterThan(0);
  });
});
