/**
 * A slow sink must stop the source from fetching: with a sink 100x slower than the source, the
 * records buffered per shard never exceed the in-flight window (batches in flight x batch size),
 * and the source is pulled only as fast as the sink drains. Time is the runtime's injected clock:
 * 1.5 s of it pass in 1 ms steps, whatever the machine is doing.
 */
import { describe, expect, it } from 'vitest';
import {
  ManualClock,
  type ShardHandle,
  type Sink,
  type Source,
  type SourceBatch,
  TopologyBuilder,
  TopologyRuntime,
} from '../../../topology/index.ts';

const BATCH = 100;
const WINDOW = 3;
const SOURCE_MS = 1;
const SINK_MS = 100 * SOURCE_MS;

/** A source that would produce a batch per millisecond for ever, counting every pull. */
function fastSource(shards: string[], pulls: Map<string, number>): Source<number> {
  return {
    type: 'fast',
    async *shards(ctx) {
      for (const shardId of shards) {
        pulls.set(shardId, 0);
        const handle: ShardHandle<number> = {
          shardId,
          batches: (async function* (): AsyncGenerator<SourceBatch<number>> {
            for (let seq = 1; !ctx.signal.aborted; seq++) {
              await ctx.clock.sleep(SOURCE_MS);
              pulls.set(shardId, seq);
              yield {
                records: new Array(BATCH).fill(seq),
                position: { sequenceNumber: String(seq), subSequenceNumber: 0 },
              };
            }
          })(),
          checkpoint: async () => {},
          release: async () => {},
        };
        yield handle;
      }
    },
  };
}

describe('backpressure', () => {
  it('keeps buffered records per shard under the bound when the sink is 100x slower than the source', async () => {
    const pulls = new Map<string, number>();
    const written = new Map<string, number>();
    const slowSink: Sink<number> = {
      type: 'slow',
      write: async (batch, ctx) => {
        await ctx.clock.sleep(SINK_MS);
        written.set(ctx.shardId, (written.get(ctx.shardId) ?? 0) + batch.length);
      },
    };
    const b = new TopologyBuilder('backpressure');
    b.source('fast', fastSource(['a', 'b'], pulls))
      .via('identity', { type: 'identity', process: (batch: readonly number[]) => batch })
      .to('slow', slowSink);
    const clock = new ManualClock(0);
    const runtime = new TopologyRuntime(b.build(), {
      clock,
      maxInFlightBatches: WINDOW,
      checkpointIntervalMs: 0,
    });
    const done = runtime.run();

    let peakBuffered = 0;
    for (let ms = 0; ms < 1500; ms++) {
      await clock.advance(1);
      for (const s of runtime.metrics().shards) peakBuffered = Math.max(peakBuffered, s.bufferedRecords);
    }
    const shards = runtime.metrics().shards;
    const stopping = runtime.stop();
    // the sinks' writes in flight finish on the clock too
    for (let ms = 0; ms < SINK_MS * (WINDOW + 1); ms += 10) await clock.advance(10);
    await stopping;
    await done;

    const bound = WINDOW * BATCH;
    expect(shards).toHaveLength(2);
    for (const shard of shards) {
      expect(shard.maxBufferedRecords).toBeGreaterThan(0);
      expect(shard.maxBufferedRecords).toBeLessThanOrEqual(bound);
      // the sink drained some batches, and the source was pulled at most a window ahead of it
      const drained = (written.get(shard.shardId) ?? 0) / BATCH;
      expect(drained).toBeGreaterThan(0);
      expect(pulls.get(shard.shardId)!).toBeLessThanOrEqual(drained + WINDOW + 1);
    }
    expect(peakBuffered).toBeLessThanOrEqual(bound);
    // unbounded, the source would have produced ~1,500 batches per shard in that time
    expect(Math.max(...pulls.values())).toBeLessThan(100);
  });
});
