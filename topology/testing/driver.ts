/**
 * Runs a whole topology in memory, in the manner of Kafka Streams' `TopologyTestDriver`: every source
 * is replaced by an in-memory source the test pushes typed batches into, and every sink's input is
 * captured (and, with `sinks: 'tap'`, also written to the real sink).
 *
 * ```ts
 * const driver = new TopologyTestDriver(topology);
 * driver.send(raw, 'shard-0', [record]);
 * await driver.settle();
 * expect(driver.output(countsSink)).toEqual([...]);
 * await driver.close();
 * ```
 */
import type { SinkRef, Stream, Topology, TopologyNode } from '../builder.ts';
import { flushMicrotasks } from '../clock.ts';
import type { ShardLineage, Sink } from '../components.ts';
import type { Position } from '../records.ts';
import type { RuntimeMetricsSnapshot } from '../runtime/metrics.ts';
import { type RuntimeOptions, TopologyRuntime } from '../runtime/runtime.ts';
import { MemorySource } from './memorySource.ts';

/** Test driver options: the runtime's, plus what to do with the real sinks. */
export interface TestDriverOptions extends RuntimeOptions {
  /** `capture` (default) only records sink input; `tap` records it and also calls the real sink. */
  readonly sinks?: 'capture' | 'tap';
}

function capturingSink(real: Sink<unknown>, captured: unknown[], tap: boolean): Sink<unknown> {
  return {
    ...(tap ? real : {}),
    type: real.type,
    stores: real.stores,
    rejects: real.rejects,
    durability: tap ? real.durability : 'on-write',
    write: async (batch, ctx) => {
      if (tap) await real.write(batch, ctx);
      captured.push(...batch);
    },
  };
}

/** Runs a topology in memory with typed inputs and collected outputs. */
export class TopologyTestDriver {
  readonly runtime: TopologyRuntime;
  private readonly sources = new Map<string, MemorySource<unknown>>();
  private readonly captured = new Map<string, unknown[]>();
  private readonly done: Promise<void>;
  private sent = 0;

  constructor(topology: Topology, options: TestDriverOptions = {}) {
    const nodes = topology.nodes.map((node): TopologyNode => {
      if (node.kind === 'source') {
        // the topology's source's record positions are kept: a shard restored ahead of its checkpoint needs them
        const { positionOf } = node.component;
        const source = new MemorySource<unknown>(positionOf === undefined ? {} : { positionOf });
        this.sources.set(node.name, source);
        return { ...node, component: source };
      }
      if (node.kind === 'sink') {
        const captured: unknown[] = [];
        this.captured.set(node.name, captured);
        return { ...node, component: capturingSink(node.component, captured, options.sinks === 'tap') };
      }
      return node;
    });
    this.runtime = new TopologyRuntime({ ...topology, nodes }, { checkpointIntervalMs: 0, ...options });
    this.done = this.runtime.run();
    this.done.catch(() => {});
  }

  private source(stream: Stream<unknown>): MemorySource<unknown> {
    const source = this.sources.get(stream.from.node);
    if (source === undefined) throw new Error(`"${stream.from.node}" is not a source of this topology`);
    return source;
  }

  /**
   * Pushes one batch into a shard of a source and returns the batch's position; `millisBehindLatest`
   * is how far behind the stream's tip the batch was read, as a Kinesis page says.
   */
  send<T>(
    source: Stream<T>,
    shardId: string,
    records: readonly T[],
    options: { readonly millisBehindLatest?: number } = {},
  ): Position {
    this.sent++;
    return this.source(source as Stream<unknown>).push(shardId, records, options.millisBehindLatest);
  }

  /** Opens a shard of a source with its lineage, before anything is sent to it. */
  openShard<T>(source: Stream<T>, shardId: string, lineage: ShardLineage): void {
    this.source(source as Stream<unknown>).open(shardId, lineage);
  }

  /** Ends a shard of a source (its pipeline drains and is released). */
  endShard<T>(source: Stream<T>, shardId: string): void {
    this.source(source as Stream<unknown>).end(shardId);
  }

  /**
   * Waits until every batch sent so far, and the outputs of every timer fired so far, have left the
   * pipeline (or the runtime failed). Timers fire on the runtime's clock: advance a `ManualClock` first.
   */
  async settle(maxRounds = 10_000): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      if (this.runtime.error !== undefined) throw this.runtime.error;
      const m = this.runtime.metrics();
      const admitted = m.nodes.filter((n) => n.kind === 'source').reduce((sum, n) => sum + n.batches, 0);
      if (admitted === this.sent && m.shards.every((s) => s.inFlightBatches === 0 && s.inFlightTimers === 0))
        return;
      await flushMicrotasks(2);
    }
    throw new Error('topology did not settle');
  }

  /** Every record the sink received so far. */
  output<T>(sink: SinkRef<T>): readonly T[] {
    const captured = this.captured.get(sink.node);
    if (captured === undefined) throw new Error(`"${sink.node}" is not a sink of this topology`);
    return captured as T[];
  }

  /** Checkpoints the runtime handed to a source's shard, in order. */
  checkpoints<T>(source: Stream<T>, shardId: string): readonly Position[] {
    return this.source(source as Stream<unknown>).checkpoints.get(shardId) ?? [];
  }

  /** The final position a shard was released at (after `endShard` or `close`). */
  released<T>(source: Stream<T>, shardId: string): Position | undefined {
    return this.source(source as Stream<unknown>).released.get(shardId);
  }

  metrics(): RuntimeMetricsSnapshot {
    return this.runtime.metrics();
  }

  /** Drains and stops the runtime; rethrows an error that stopped it. */
  async close(): Promise<void> {
    for (const source of this.sources.values()) source.endAll();
    await this.runtime.stop();
    await this.done;
  }
}
