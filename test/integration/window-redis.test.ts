/**
 * The window operator on Redis keyed state as workers run it (the runtime, its snapshots in Redis):
 * two workers sharing one Redis agree on the shards' published watermarks the global one is made of,
 * and workers lost mid-run (their batches since the last checkpoint redelivered to the next worker,
 * which restores their last snapshot), a shard split and merged mid-stream, and a Redis that lost the
 * state followed by the documented recovery (a replay, which resets the keyed state) still give
 * exactly the brute-force aggregates.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  type WindowAggregateConfig,
  windowAggregate,
  windowAggregateConfigSchema,
} from '../../operators/windows/index.ts';
import { type RedisStateStore, redisStateStore } from '../../state/keyed/redisStateStore.ts';
import {
  AsyncQueue,
  type Enriched,
  flushMicrotasks,
  hashKeyOf,
  ManualClock,
  MemorySource,
  type Position,
  type ShardHandle,
  type ShardLineage,
  type ShardWatermark,
  type Sink,
  type SnapshotWrite,
  type Source,
  type SourceBatch,
  type SourceContext,
  StateLostError,
  type StateStore,
  TopologyBuilder,
  TopologyRuntime,
  TopologyTestDriver,
  type WindowAggregate,
} from '../../topology/index.ts';
import { testEnv, waitFor } from '../support/wait.ts';
import {
  compareAggregates,
  enriched,
  latestAggregates,
  referenceAggregates,
  windowWorkload,
} from '../support/windowBruteForce.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 5);

const cfg: WindowAggregateConfig = windowAggregateConfigSchema.parse({
  allowedOutOfOrdernessMs: 5 * MIN,
  allowedLatenessMs: 10 * MIN,
  retentionMs: 6 * HOUR,
  idleTimeoutMs: 60_000,
  flushIntervalMs: 5_000,
  customerFlushIntervalMs: 5_000,
  deviceFlushIntervalMs: 5_000,
});

interface Step {
  readonly shardId: string;
  /** Crosses a decimal length boundary on purpose (99 990 … 100 000 …). */
  readonly sequenceNumber: number;
  readonly records: readonly Enriched[];
}

/** The batches of every shard, interleaved round robin, then one batch per shard far ahead. */
function schedule(shards: number, batchSize: number, seed: number): { steps: Step[]; records: Enriched[] } {
  const workload = windowWorkload({
    seed,
    devices: 300,
    products: 3,
    metrics: 5,
    shards,
    records: 6_000,
    spanMs: 2 * DAY,
    start: T0,
    outOfOrderMs: 5 * MIN,
    lateShare: 0.005,
    lateByMs: 9 * HOUR,
  });
  const perShard = workload.map((list, s) => {
    const steps: Step[] = [];
    for (let i = 0; i < list.length; i += batchSize)
      steps.push({
        shardId: `shard-${s}`,
        sequenceNumber: 99_990 + steps.length * 3,
        records: list.slice(i, i + batchSize),
      });
    steps.push({
      shardId: `shard-${s}`,
      sequenceNumber: 99_990 + steps.length * 3,
      records: [enriched('close', 'close', null, T0 + 30 * DAY, {})],
    });
    return steps;
  });
  const steps: Step[] = [];
  for (let i = 0; perShard.some((s) => i < s.length); i++)
    for (const s of perShard) if (i < s.length) steps.push(s[i]!);
  return { steps, records: workload.flat() };
}

/** Where each record sits in its shard, as Kinesis records know it (`Source.positionOf`). */
const positions = new WeakMap<Enriched, Position>();
const at = (sequenceNumber: number): Position => ({
  sequenceNumber: String(sequenceNumber),
  subSequenceNumber: 0,
});

/** One shard of a worker's scripted source. */
interface StepShard {
  readonly batches: AsyncQueue<SourceBatch<Enriched>>;
  /** Checkpoints the runtime handed over and the source accepted. */
  readonly checkpoints: Position[];
  released: boolean;
  /** From now on a checkpoint never completes (the lease table is out of reach). */
  hangCheckpoints: boolean;
}

/** A source whose shards the test opens (with a start position or a lineage) and feeds batch by batch. */
class StepSource implements Source<Enriched> {
  readonly type = 'steps';
  readonly positionOf = (r: Enriched) => positions.get(r)!;
  private readonly handles = new AsyncQueue<ShardHandle<Enriched>>();
  readonly shardsById = new Map<string, StepShard>();

  open(shardId: string, from: { startPosition?: Position; lineage?: ShardLineage } = {}): StepShard {
    const shard: StepShard = {
      batches: new AsyncQueue(),
      checkpoints: [],
      released: false,
      hangCheckpoints: false,
    };
    this.shardsById.set(shardId, shard);
    this.handles.push({
      shardId,
      ...from,
      batches: shard.batches,
      checkpoint: async (position) => {
        if (shard.hangCheckpoints) return new Promise<void>(() => {});
        shard.checkpoints.push(position);
      },
      release: async () => {
        shard.released = true;
      },
    });
    return shard;
  }

  shards(ctx: SourceContext): AsyncIterable<ShardHandle<Enriched>> {
    ctx.signal.addEventListener('abort', () => this.handles.abort(), { once: true });
    return this.handles;
  }

  end(): void {
    for (const shard of this.shardsById.values()) shard.batches.end();
    this.handles.end();
  }
}

/** A keyed state store whose calls hang from `kill()` on: the worker using it died. */
class KillableStore implements StateStore {
  readonly kind: string;
  private dead = false;

  constructor(readonly inner: RedisStateStore) {
    this.kind = inner.kind;
  }

  /** The worker died: its calls never return, its connection goes away. */
  kill(): void {
    this.dead = true;
    void this.inner.close().catch(() => {});
  }

  private guard<T>(call: () => Promise<T>): Promise<T> {
    return this.dead ? new Promise<T>(() => {}) : call();
  }

  open = () => this.guard(() => this.inner.open());
  claim = (shardId: string, owner: string) => this.guard(() => this.inner.claim(shardId, owner));
  read = (shardId: string) => this.guard(() => this.inner.read(shardId));
  write = (snapshot: SnapshotWrite) => this.guard(() => this.inner.write(snapshot));
  reset = (shardId: string, position: Position | undefined) =>
    this.guard(() => this.inner.reset(shardId, position));
  readPublished = (groups: readonly string[]) => this.guard(() => this.inner.readPublished(groups));
  publishedWatermarks = (node: string) => this.guard(() => this.inner.publishedWatermarks(node));
  close = () => (this.dead ? Promise.resolve() : this.inner.close());
}

/**
 * A worker as `shardflow run` runs the window operator: the runtime with its keyed state in Redis
 * (`namespace`), a source of the shards the test gives it, and sinks that keep what they received
 * until the worker dies.
 */
function startWorker(
  namespace: string,
  clock: ManualClock,
  options: { readonly checkpointIntervalMs?: number; readonly config?: WindowAggregateConfig } = {},
) {
  const store = new KillableStore(
    redisStateStore({ redisUrl: testEnv('SHARDFLOW_TEST_REDIS_URL'), namespace }),
  );
  const source = new StepSource();
  const out: WindowAggregate[] = [];
  const late: Enriched[] = [];
  let alive = true;
  const sink = <T>(into: T[]): Sink<T> => ({
    type: 'captured',
    write: async (batch) => {
      if (!alive) return new Promise<void>(() => {});
      into.push(...batch);
    },
  });
  const b = new TopologyBuilder('windows-redis');
  const windows = b.source('telemetry', source).via('windows', windowAggregate(options.config ?? cfg));
  windows.to('aggregates', sink(out));
  windows.side('late').to('late-records', sink(late));
  const runtime = new TopologyRuntime(b.build(), {
    clock,
    stateStore: store,
    checkpointIntervalMs: options.checkpointIntervalMs ?? 0,
  });
  const done = runtime.run();
  done.catch(() => {});
  const checkpointEvery = options.checkpointIntervalMs ?? 0;
  let sent = 0;
  /** Each shard's last batch sent. */
  const last = new Map<string, string>();
  return {
    store,
    source,
    runtime,
    out,
    late,
    /** Sends one batch at `sequenceNumber` to a shard (opened on first use). */
    send(shardId: string, sequenceNumber: number, records: readonly Enriched[]): void {
      const shard = source.shardsById.get(shardId) ?? source.open(shardId);
      for (const r of records) positions.set(r, at(sequenceNumber));
      sent++;
      last.set(shardId, String(sequenceNumber));
      shard.batches.push({ records, position: at(sequenceNumber) });
    },
    /**
     * Waits until every batch sent and every timer fired has left the pipeline (or the runtime failed)
     * and, when the worker checkpoints at every batch, each shard's snapshot and checkpoint of its last
     * batch are written (a batch leaves the pipeline before its checkpoint).
     */
    async settle(): Promise<void> {
      for (let round = 0; round < 20_000; round++) {
        if (runtime.error !== undefined) throw runtime.error;
        const m = runtime.metrics();
        const admitted = m.nodes.filter((n) => n.kind === 'source').reduce((sum, n) => sum + n.batches, 0);
        const committed =
          checkpointEvery > 0 ||
          m.shards.every(
            (x) => last.get(x.shardId) === undefined || x.checkpoint?.sequenceNumber === last.get(x.shardId),
          );
        if (
          admitted === sent &&
          committed &&
          m.shards.every((x) => x.inFlightBatches === 0 && x.inFlightTimers === 0)
        )
          return;
        await flushMicrotasks(2);
      }
      throw new Error('the worker did not settle');
    },
    /** kill -9: no drain, no checkpoint, no snapshot; nothing more reaches a store. */
    kill(): void {
      alive = false;
      store.kill();
    },
    /** Drains (a last snapshot of each shard) and stops. */
    async close(): Promise<void> {
      source.end();
      await runtime.stop();
      await done;
      await store.close();
    },
  };
}
type Worker = ReturnType<typeof startWorker>;

/** Advances the clock one tick period (5 s) at a time, letting each worker settle after each. */
async function ticks(clock: ManualClock, workers: readonly Worker[], count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await clock.advance(5_000);
    for (const w of workers) await w.settle();
  }
}

function expectExact(
  out: readonly WindowAggregate[],
  late: readonly Enriched[],
  records: readonly Enriched[],
): void {
  const lateSet = new Set(late);
  const accepted = records.filter((r) => !lateSet.has(r));
  const expected = referenceAggregates(accepted, cfg.windows);
  expect(expected.size).toBeGreaterThan(1000);
  expect(compareAggregates(latestAggregates(out), expected).slice(0, 3)).toEqual([]);
}

describe('window-aggregate on Redis', () => {
  it('two workers sharing one Redis agree on the global watermark and together give exact aggregates', async () => {
    const namespace = `two-${randomUUID()}`;
    const clock = new ManualClock(T0);
    const [a, b] = [startWorker(namespace, clock), startWorker(namespace, clock)];
    const { steps, records } = schedule(4, 60, 7);
    // each shard's highest event time so far: its watermark trails it by the out-of-orderness
    const maxEventTime = new Map<string, number>();
    let compared = 0;
    for (const [i, step] of steps.entries()) {
      await clock.advance(1_000);
      // shards 0 and 1 belong to worker a, 2 and 3 to worker b
      const w = step.shardId === 'shard-0' || step.shardId === 'shard-1' ? a : b;
      w.send(step.shardId, step.sequenceNumber, step.records);
      const t = Math.max(...step.records.map((r) => r.device_timestamp));
      maxEventTime.set(step.shardId, Math.max(maxEventTime.get(step.shardId) ?? t, t));
      await a.settle();
      await b.settle();
      if (i % 20 === 19) {
        // what each worker's global watermark is made of: every shard's published watermark (its
        // own shards' also in its memory), the same for both, each of every record snapshotted so far
        const [wa, wb] = [
          await a.store.publishedWatermarks('windows'),
          await b.store.publishedWatermarks('windows'),
        ];
        const byShard = (list: readonly ShardWatermark[]) =>
          list.toSorted((x, y) => x.shardId.localeCompare(y.shardId));
        expect(byShard(wa)).toEqual(byShard(wb));
        const live = wa.filter((x) => x.activeAt >= clock.now() - cfg.idleTimeoutMs);
        expect(live).toHaveLength(4);
        for (const x of live)
          expect(x.watermark).toBe(maxEventTime.get(x.shardId)! - cfg.allowedOutOfOrdernessMs);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(3);
    // each shard emits its windows' finals at its tick once the other worker's shards published
    // watermarks past them
    await ticks(clock, [a, b], 2);
    await a.close();
    await b.close();
    const out = [...a.out, ...b.out];
    const late = [...a.late, ...b.late];
    // both workers' finals went out; each emitted some of them
    expect(a.out.some((x) => x.final)).toBe(true);
    expect(b.out.some((x) => x.final)).toBe(true);
    expect(late.length).toBeGreaterThan(0);
    expectExact(out, late, records);
  });

  it('gives the same numbers when workers are lost twice and their uncheckpointed batches are redelivered', async () => {
    const namespace = `lost-${randomUUID()}`;
    const clock = new ManualClock(T0);
    const { steps, records } = schedule(2, 50, 11);
    const out: WindowAggregate[] = [];
    const late: Enriched[] = [];
    // a worker's checkpoints stop after `checkpointAt` steps (its last snapshot is written, the
    // checkpoint after it never completes) and it dies after `crashAt`; what it emitted after the
    // checkpoint is not counted, and the next worker restores the snapshot and starts again from each
    // shard's checkpoint
    const crashes = [
      { checkpointAt: Math.floor(steps.length * 0.3), crashAt: Math.floor(steps.length * 0.4) },
      { checkpointAt: Math.floor(steps.length * 0.6), crashAt: Math.floor(steps.length * 0.75) },
    ];
    let checkpoints = new Map<string, Position>();
    let redelivered = 0;
    let restoredAhead = 0;
    for (const crash of [...crashes, { checkpointAt: steps.length, crashAt: steps.length }]) {
      const w = startWorker(namespace, clock, { checkpointIntervalMs: 1_000 });
      for (const [shardId, position] of checkpoints) w.source.open(shardId, { startPosition: position });
      let kept = { out: 0, late: 0 };
      for (const [i, step] of steps.entries()) {
        if (i >= crash.crashAt) break;
        const checkpoint = checkpoints.get(step.shardId);
        if (checkpoint !== undefined && step.sequenceNumber <= Number(checkpoint.sequenceNumber)) continue;
        if (checkpoint !== undefined) redelivered++;
        if (i === crash.checkpointAt)
          for (const shard of w.source.shardsById.values()) shard.hangCheckpoints = true;
        await clock.advance(1_000);
        w.send(step.shardId, step.sequenceNumber, step.records);
        await w.settle();
        if (i < crash.checkpointAt) kept = { out: w.out.length, late: w.late.length };
      }
      if (crash.crashAt === steps.length) {
        await ticks(clock, [w], 2);
        kept = { out: w.out.length, late: w.late.length };
        await w.close();
      } else w.kill(); // no close, no flush; the connection just goes away
      out.push(...w.out.slice(0, kept.out));
      late.push(...w.late.slice(0, kept.late));
      checkpoints = new Map([...w.source.shardsById].map(([id, shard]) => [id, shard.checkpoints.at(-1)!]));
      // the snapshot written before the checkpoint that never completed is ahead of it
      const store = redisStateStore({ redisUrl: testEnv('SHARDFLOW_TEST_REDIS_URL'), namespace });
      await store.open();
      for (const [shardId, checkpoint] of checkpoints) {
        const snapshot = await store.read(shardId);
        if (Number(snapshot!.position!.sequenceNumber) > Number(checkpoint.sequenceNumber)) restoredAhead++;
      }
      await store.close();
    }
    expectExact(out, late, records);
    expect(redelivered).toBeGreaterThan(20);
    expect(restoredAhead).toBeGreaterThan(0);
  });

  it('gives the brute force when a shard is split mid-stream and its children merged again', async () => {
    const namespace = `reshard-${randomUUID()}`;
    const clock = new ManualClock(T0);
    const { steps, records } = schedule(1, 50, 17);
    const w = startWorker(namespace, clock);
    // the parent until 40 % of the batches, then two children by the hash of the device (the
    // partition key), then the child of their merge; each shard counts its own positions
    const middle = 2n ** 127n;
    const ranges = {
      low: { startingHashKey: '0', endingHashKey: (middle - 1n).toString() },
      high: { startingHashKey: middle.toString(), endingHashKey: (2n ** 128n - 1n).toString() },
      all: { startingHashKey: '0', endingHashKey: (2n ** 128n - 1n).toString() },
    };
    const sequence = new Map<string, number>();
    const send = async (shardId: string, batch: readonly Enriched[]) => {
      if (batch.length === 0) return;
      const next = (sequence.get(shardId) ?? 0) + 10;
      sequence.set(shardId, next);
      await clock.advance(1_000);
      w.send(shardId, next, batch);
      await w.settle();
    };
    /** Ends the shards (read to their end, released) before their children open. */
    const end = async (...shardIds: string[]) => {
      for (const id of shardIds) w.source.shardsById.get(id)!.batches.end();
      for (let round = 0; !shardIds.every((id) => w.source.shardsById.get(id)!.released); round++) {
        if (round > 20_000) throw new Error(`${shardIds} not released`);
        await flushMicrotasks(2);
      }
    };
    const [splitAt, mergeAt] = [Math.floor(steps.length * 0.4), Math.floor(steps.length * 0.7)];
    for (const [i, step] of steps.entries()) {
      if (i === splitAt) {
        await end('parent');
        w.source.open('child-low', { lineage: { parentShardIds: ['parent'], hashKeyRange: ranges.low } });
        w.source.open('child-high', { lineage: { parentShardIds: ['parent'], hashKeyRange: ranges.high } });
      }
      if (i === mergeAt) {
        await end('child-low', 'child-high');
        w.source.open('merged', {
          lineage: { parentShardIds: ['child-low', 'child-high'], hashKeyRange: ranges.all },
        });
      }
      if (i < splitAt) await send('parent', step.records);
      else if (i < mergeAt) {
        await send(
          'child-low',
          step.records.filter((r) => hashKeyOf(r.device_id) < middle),
        );
        await send(
          'child-high',
          step.records.filter((r) => hashKeyOf(r.device_id) >= middle),
        );
      } else await send('merged', step.records);
    }
    // the ended shards hold the global watermark back (with the watermarks they published) until
    // they count as idle; then the merged shard's next batch and its tick finalise the last windows
    await clock.advance(cfg.idleTimeoutMs);
    await w.settle();
    await send('merged', [enriched('close', 'close', null, T0 + 31 * DAY, {})]);
    await ticks(clock, [w], 2);
    expect(sequence.size).toBe(4);
    await w.close();
    expectExact(w.out, w.late, records);
  });

  it('holds the brute force in the stores after Redis lost the window state and the stream was replayed from before the oldest window', async () => {
    const namespace = `recover-${randomUUID()}`;
    const redisUrl = testEnv('SHARDFLOW_TEST_REDIS_URL');
    const clock = new ManualClock(T0);
    const { steps, records } = schedule(2, 50, 13);
    const first = startWorker(namespace, clock);
    const lossAt = Math.floor(steps.length * 0.6);
    for (const step of steps.slice(0, lossAt)) {
      await clock.advance(1_000);
      first.send(step.shardId, step.sequenceNumber, step.records);
      await first.settle();
    }
    expect(first.out.some((a) => a.final)).toBe(true);
    // Redis restarts empty: the worker stops rather than counting on from nothing
    const admin = new Redis(redisUrl);
    await admin.del(...(await admin.keys(`sf:{${namespace}}:*`)));
    admin.disconnect();
    const next = steps[lossAt]!;
    first.send(next.shardId, next.sequenceNumber, next.records);
    await expect(first.settle()).rejects.toBeInstanceOf(StateLostError);
    await expect(first.close()).rejects.toBeInstanceOf(StateLostError);
    const stored = [...first.out];

    // the recovery: every worker stopped, the stream replayed from a savepoint older than the oldest
    // window still open (here: its start), which resets the replayed shards' keyed state as
    // `shardflow replay` does (a new epoch); the stores keep what they held
    const replay = redisStateStore({ redisUrl, namespace });
    await replay.open();
    for (const shardId of ['shard-0', 'shard-1']) await replay.reset(shardId, undefined);
    await replay.close();
    const second = startWorker(namespace, clock);
    for (const step of steps) {
      // a replay catches up fast: fewer flushes, so fewer emissions of each window than before
      await clock.advance(20);
      second.send(step.shardId, step.sequenceNumber, step.records);
      await second.settle();
    }
    // the shard whose close batch came first emits its device windows' finals at its tick
    await ticks(clock, [second], 2);
    await second.close();
    stored.push(...second.out);
    // the replayed windows outrank what the stores held from before the loss: the same records give
    // the same revisions, and every final outranks its running values
    expectExact(stored, second.late, records);
  });

  it('emits the running values and finals of idle shards by ticks, with no batch arriving', async () => {
    const redisUrl = testEnv('SHARDFLOW_TEST_REDIS_URL');
    const clock = new ManualClock(T0);
    const b = new TopologyBuilder('windows-ticks');
    const input = b.source('telemetry', new MemorySource<Enriched>());
    const store = redisStateStore({ redisUrl, namespace: `ticks-${randomUUID()}` });
    const windows = input.via('windows', windowAggregate(cfg));
    const unused: Sink<unknown> = { type: 'captured', write: async () => {} };
    const aggregates = windows.to('aggregates', unused);
    windows.side('late').to('late-records', unused);
    const driver = new TopologyTestDriver(b.build(), { clock, stateStore: store });
    const out = () => driver.output(aggregates);
    driver.send(input, 'slow', [enriched('d1', 'p', 'c', T0 + 5 * MIN, { v: 1 })]);
    await driver.settle();
    // one tick period at a time: a tick re-registers after its Redis call, so a single long advance
    // could pass the next tick's time before it is registered
    const advance = async (ms: number) => {
      for (let t = 0; t < ms; t += 5_000) {
        await clock.advance(5_000);
        await driver.settle();
      }
    };
    await advance(40_000);
    // flushes are paced per shard: a shard's first batch flushes its windows at once, a batch within
    // 5 s of its last flush does not, the shard's tick 5 s after it does
    driver.send(input, 'busy', [enriched('d2', 'p', 'c', T0 + 3 * HOUR, { v: 2 })]);
    await driver.settle();
    const busy = () => out().filter((a) => a.deviceId === 'd2' && a.window === '1h');
    const finalFirstHour = () => out().some((a) => a.windowStart === T0 && a.window === '1h' && a.final);
    expect(busy().map((a) => [a.revision, a.final, a.stats.sum])).toEqual([[2, false, 2]]);
    await clock.advance(1_000);
    driver.send(input, 'busy', [enriched('d2', 'p', 'c', T0 + 3 * HOUR, { v: 3 })]);
    await driver.settle();
    expect(busy()).toHaveLength(1);
    await clock.advance(4_000);
    await driver.settle();
    // a tick reads the published watermarks from Redis before it emits, and registers the next tick
    // on the manual clock meanwhile: move the clock on in small steps until its outputs are there
    const tickUntil = (what: string, done: () => boolean) =>
      waitFor(
        what,
        async () => {
          if (done()) return true;
          await clock.advance(100);
          await driver.settle();
          return done();
        },
        20_000,
      );
    await tickUntil('the tick to flush busy', () => busy().length === 2);
    expect(busy().map((a) => [a.revision, a.final, a.stats.sum])).toEqual([
      [2, false, 2],
      [4, false, 5],
    ]);
    expect(finalFirstHour()).toBe(false);
    // 'slow' idle for more than 60 s, 'busy' still active: a tick finalises the first hour
    await advance(20_000);
    await tickUntil('a tick to finalise the first hour', finalFirstHour);
    expect(finalFirstHour()).toBe(true);
    // ticks are not activity: the watermark 'slow' published is of its only batch
    const published = await store.publishedWatermarks('windows');
    expect(published.find((s) => s.shardId === 'slow')?.activeAt).toBe(T0);
    await driver.close();
  });

  it('stops the worker with StateLostError when Redis restarts empty mid-run', async () => {
    const namespace = `restart-${randomUUID()}`;
    const redisUrl = testEnv('SHARDFLOW_TEST_REDIS_URL');
    const b = new TopologyBuilder('windows-restart');
    const input = b.source('telemetry', new MemorySource<Enriched>());
    const windows = input.via('windows', windowAggregate(cfg));
    const unused: Sink<unknown> = { type: 'captured', write: async () => {} };
    const aggregates = windows.to('aggregates', unused);
    windows.side('late').to('late-records', unused);
    const driver = new TopologyTestDriver(b.build(), {
      clock: new ManualClock(T0),
      stateStore: redisStateStore({ redisUrl, namespace }),
    });
    driver.send(input, 'shard-0', [enriched('d', 'p', 'c', T0, { v: 1 })]);
    await driver.settle();
    expect(driver.output(aggregates).length).toBeGreaterThan(0);
    // what a restart of a Redis without persistence leaves: none of the namespace's keys
    const admin = new Redis(redisUrl);
    await admin.del(...(await admin.keys(`sf:{${namespace}}:*`)));
    admin.disconnect();
    // the keyed store finds its epoch gone at the next snapshot, written after the batch left the pipeline
    driver.send(input, 'shard-0', [enriched('d', 'p', 'c', T0 + 1_000, { v: 2 })]);
    for (let round = 0; driver.runtime.error === undefined && round < 20_000; round++)
      await flushMicrotasks(2);
    await expect(driver.settle()).rejects.toBeInstanceOf(StateLostError);
    await expect(driver.close()).rejects.toBeInstanceOf(StateLostError);
  });
});
