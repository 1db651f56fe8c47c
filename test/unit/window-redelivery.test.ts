/**
 * The window operator fed one Kinesis record at a time (`perKinesisRecord`, as the worker runs it):
 * a shard read again from its checkpoint in batches cut differently from the first reading (a new
 * owner after a failover), or a stolen lease's old owner still applying a batch the new owner already
 * covered, counts every record once. Without it, the same deliveries count the overlap twice.
 */
import { describe, expect, it } from 'vitest';
import { windowAggregate, windowAggregateConfigSchema } from '../../operators/windowAggregate.ts';
import { perKinesisRecord } from '../../operators/windows/perKinesisRecord.ts';
import { embeddedWindowState } from '../../state/embeddedWindowState.ts';
import { type Enriched, ManualClock, type WindowAggregate } from '../../topology/index.ts';
import {
  compareAggregates,
  enriched,
  latestAggregates,
  referenceAggregates,
} from '../support/stateConformance.ts';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const T0 = Date.UTC(2026, 0, 5);
const config = windowAggregateConfigSchema.parse({ flushIntervalMs: 0 });

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
  wrap: boolean,
): Promise<{ out: WindowAggregate[]; records: Enriched[] }> {
  const backend = embeddedWindowState();
  const clock = new ManualClock(T0);
  const make = () => {
    const op = windowAggregate(config, backend);
    return wrap ? perKinesisRecord(op) : op;
  };
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
  return { out, records: [...byRecord.values()].flat() };
}

describe('perKinesisRecord', () => {
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
    const { out, records } = await deliver(deliveries, true);
    const problems = compareAggregates(latestAggregates(out), referenceAggregates(records, config.windows));
    expect(problems).toEqual([]);
  });

  it('(without it, the overlapping deliveries count twice)', async () => {
    const { out, records } = await deliver(deliveries, false);
    const problems = compareAggregates(latestAggregates(out), referenceAggregates(records, config.windows));
    expect(problems.length).toBeGreaterThan(0);
  });
});
