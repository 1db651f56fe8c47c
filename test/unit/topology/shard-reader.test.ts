/**
 * `BatchContext.reader`: what a component can tell of its shard's reader. The lag figure is the
 * latest source batch's (`millisBehindLatest`), and `heldBack` says the shard does not read its
 * source for want of room: a full window of batches waits on a slow sink.
 */
import { describe, expect, it } from 'vitest';
import {
  flushMicrotasks,
  ManualClock,
  MemorySource,
  type Operator,
  type Sink,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../../topology/index.ts';

interface Seen {
  readonly lag: number | undefined;
  readonly heldBack: boolean | undefined;
}

/** Passes records on and notes what the reader looked like at each batch. */
function noting(seen: Seen[]): Operator<number, number> {
  return {
    type: 'noting',
    process: (batch, ctx) => {
      seen.push({ lag: ctx.reader?.millisBehindLatest, heldBack: ctx.reader?.heldBack });
      return batch;
    },
  };
}

describe('the shard reader on the batch context', () => {
  it("gives the latest batch's lag figure, as the source said it", async () => {
    const seen: Seen[] = [];
    const b = new TopologyBuilder('reader');
    const input = b.source('numbers', new MemorySource<number>());
    input.via('noting', noting(seen)).to('out', { type: 'none', write: async () => {} });
    const driver = new TopologyTestDriver(b.build(), { clock: new ManualClock(0) });
    driver.send(input, 's-0', [1], { millisBehindLatest: 90_000 });
    await driver.settle();
    driver.send(input, 's-0', [2]);
    await driver.settle();
    driver.send(input, 's-0', [3], { millisBehindLatest: 0 });
    await driver.settle();
    await driver.close();
    // a batch without a figure leaves the last one standing, as the runtime's shard metrics do
    expect(seen.map((s) => s.lag)).toEqual([90_000, 90_000, 0]);
  });

  it('says the shard is held back while a full window waits on a slow sink, and no longer after', async () => {
    const seen: Seen[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: Sink<number> = {
      type: 'slow',
      write: async () => {
        await held;
      },
    };
    const b = new TopologyBuilder('reader');
    const input = b.source('numbers', new MemorySource<number>());
    input.via('noting', noting(seen)).to('out', slow);
    const driver = new TopologyTestDriver(b.build(), {
      clock: new ManualClock(0),
      maxInFlightBatches: 2,
      sinks: 'tap',
    });
    for (let i = 0; i < 4; i++) driver.send(input, 's-0', [i]);
    await flushMicrotasks(20);
    // two batches in flight, the window is full: the shard waits for a permit, not for its source
    expect(seen).toHaveLength(2);
    expect(seen[1]!.heldBack).toBe(true);
    release();
    await driver.settle();
    // every batch read and written: the shard has room again
    driver.send(input, 's-0', [9]);
    await driver.settle();
    expect(seen).toHaveLength(5);
    expect(seen.at(-1)!.heldBack).toBe(false);
    await driver.close();
  });
});
