/**
 * The window operator on the Redis backend as workers run it: two workers sharing one Redis agree on
 * the global watermark, and workers lost mid-run (their batches since the last checkpoint redelivered
 * to another worker), a shard split and merged mid-stream, and a Redis that lost the window state
 * followed by the documented recovery (a replay) still give exactly the brute-force aggregates.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  type WindowAggregateConfig,
  windowAggregate,
  windowAggregateConfigSchema,
} from '../../operators/windows/index.ts';
import { redisWindowState } from '../../state/redisWindowState.ts';
import { StateLostError } from '../../state/windowState.ts';
import {
  type Enriched,
  hashKeyOf,
  ManualClock,
  MemorySource,
  type Sink,
  TopologyBuilder,
  TopologyTestDriver,
  type WindowAggregate,
} from '../../topology/index.ts';
import { testEnv } from '../support/wait.ts';
import {
  compareAggregates,
  enriched,
  feed,
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

async function worker(namespace: string) {
  const backend = redisWindowState({ redisUrl: testEnv('SHARDFLOW_TEST_REDIS_URL'), namespace });
  const operator = windowAggregate(cfg, backend);
  await operator.open?.({ node: 'windows', clock: new ManualClock(), signal: new AbortController().signal });
  return { backend, operator };
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
    const [a, b] = [await worker(namespace), await worker(namespace)];
    const clock = new ManualClock(T0);
    const { steps, records } = schedule(4, 60, 7);
    const out: WindowAggregate[] = [];
    const late: Enriched[] = [];
    let compared = 0;
    for (const [i, step] of steps.entries()) {
      await clock.advance(1_000);
      // shards 0 and 1 belong to worker a, 2 and 3 to worker b
      const w = step.shardId === 'shard-0' || step.shardId === 'shard-1' ? a : b;
      out.push(...(await feed(w.operator, step.shardId, step.sequenceNumber, step.records, clock, late)));
      if (i % 20 === 19) {
        const [wa, wb] = [await a.backend.watermarks(), await b.backend.watermarks()];
        expect(wa).toEqual(wb);
        const live = wa.shards.filter((s) => s.activeAt >= clock.now() - cfg.idleTimeoutMs);
        expect(wa.global).toBeGreaterThanOrEqual(
          Math.min(...live.map((s) => s.maxEventTime)) - cfg.allowedOutOfOrdernessMs,
        );
        expect(live).toHaveLength(4);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(3);
    // both workers' finals went out; each emitted some of them
    const finals = out.filter((x) => x.final);
    expect(finals.length).toBeGreaterThan(0);
    expect(late.length).toBeGreaterThan(0);
    expectExact(out, late, records);
    await a.operator.close?.();
    await b.operator.close?.();
  });

  it('gives the same numbers when workers are lost twice and their uncheckpointed batches are redelivered', async () => {
    const namespace = `lost-${randomUUID()}`;
    const clock = new ManualClock(T0);
    const { steps, records } = schedule(2, 50, 11);
    const out: WindowAggregate[] = [];
    const late: Enriched[] = [];
    // a worker dies after `crashAt` steps; everything it did after the checkpoint (`checkpointAt`)
    // never reached a store, and the next worker starts again from the checkpoint
    const crashes = [
      { checkpointAt: Math.floor(steps.length * 0.3), crashAt: Math.floor(steps.length * 0.4) },
      { checkpointAt: Math.floor(steps.length * 0.6), crashAt: Math.floor(steps.length * 0.75) },
    ];
    let from = 0;
    for (const crash of [...crashes, { checkpointAt: steps.length, crashAt: steps.length }]) {
      const w = await worker(namespace);
      for (let i = from; i < crash.crashAt; i++) {
        await clock.advance(1_000);
        const step = steps[i]!;
        const stepLate: Enriched[] = [];
        const emitted = await feed(
          w.operator,
          step.shardId,
          step.sequenceNumber,
          step.records,
          clock,
          stepLate,
        );
        if (i < crash.checkpointAt) {
          out.push(...emitted);
          late.push(...stepLate);
        }
      }
      // kill: no close, no flush; the connection just goes away
      w.backend.close();
      from = crash.checkpointAt;
    }
    expectExact(out, late, records);
    const redelivered = crashes.reduce((n, c) => n + c.crashAt - c.checkpointAt, 0);
    expect(redelivered).toBeGreaterThan(20);
  });

  it('gives the brute force when a shard is split mid-stream and its children merged again', async () => {
    const namespace = `reshard-${randomUUID()}`;
    const clock = new ManualClock(T0);
    const { steps, records } = schedule(1, 50, 17);
    const w = await worker(namespace);
    const out: WindowAggregate[] = [];
    const late: Enriched[] = [];
    // the parent until 40 % of the batches, then two children by the hash of the device (the
    // partition key), then the child of their merge; each shard counts its own positions
    const middle = 2n ** 127n;
    const sequence = new Map<string, number>();
    const send = async (shardId: string, batch: readonly Enriched[]) => {
      if (batch.length === 0) return;
      const next = (sequence.get(shardId) ?? 0) + 10;
      sequence.set(shardId, next);
      await clock.advance(1_000);
      out.push(...(await feed(w.operator, shardId, next, batch, clock, late)));
    };
    const [splitAt, mergeAt] = [Math.floor(steps.length * 0.4), Math.floor(steps.length * 0.7)];
    for (const [i, step] of steps.entries()) {
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
    // the ended shards hold the global watermark back until they count as idle; then the merged
    // shard's next batch finalises the last windows
    await clock.advance(cfg.idleTimeoutMs);
    await send('merged', [enriched('close', 'close', null, T0 + 31 * DAY, {})]);
    expect(sequence.size).toBe(4);
    expectExact(out, late, records);
    await w.operator.close?.();
  });

  it('holds the brute force in the stores after Redis lost the window state and the stream was replayed from before the oldest window', async () => {
    const namespace = `recover-${randomUUID()}`;
    const clock = new ManualClock(T0);
    const { steps, records } = schedule(2, 50, 13);
    const stored: WindowAggregate[] = [];
    const first = await worker(namespace);
    const lossAt = Math.floor(steps.length * 0.6);
    for (const step of steps.slice(0, lossAt)) {
      await clock.advance(1_000);
      stored.push(
        ...(await feed(first.operator, step.shardId, step.sequenceNumber, step.records, clock, [])),
      );
    }
    expect(stored.some((a) => a.final)).toBe(true);
    // Redis restarts empty: the worker stops rather than counting on from nothing
    const admin = new Redis(testEnv('SHARDFLOW_TEST_REDIS_URL'));
    await admin.del(...(await admin.keys(`sf:{${namespace}}:*`)));
    admin.disconnect();
    const next = steps[lossAt]!;
    await expect(
      feed(first.operator, next.shardId, next.sequenceNumber, next.records, clock, []),
    ).rejects.toBeInstanceOf(StateLostError);
    first.backend.close();

    // the recovery: every worker stopped, the stream replayed from a savepoint older than the oldest
    // window still open (here: its start), a new epoch; the stores keep what they held
    const second = await worker(namespace);
    const late: Enriched[] = [];
    for (const step of steps) {
      // a replay catches up fast: fewer flushes, so fewer emissions of each window than before
      await clock.advance(20);
      stored.push(
        ...(await feed(second.operator, step.shardId, step.sequenceNumber, step.records, clock, late)),
      );
    }
    // the replayed windows outrank what the stores held from before the loss: the same records give
    // the same revisions, and every final outranks its running values
    expectExact(stored, late, records);
    await second.operator.close?.();
  });

  it('emits the running values and finals of idle shards by ticks, with no batch arriving', async () => {
    const redisUrl = testEnv('SHARDFLOW_TEST_REDIS_URL');
    const clock = new ManualClock(T0);
    const b = new TopologyBuilder('windows-ticks');
    const input = b.source('telemetry', new MemorySource<Enriched>());
    const state = redisWindowState({ redisUrl, namespace: `ticks-${randomUUID()}` });
    const windows = input.via('windows', windowAggregate(cfg, state));
    const unused: Sink<unknown> = { type: 'captured', write: async () => {} };
    const aggregates = windows.to('aggregates', unused);
    windows.side('late').to('late-records', unused);
    const driver = new TopologyTestDriver(b.build(), { clock });
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
    // within 5 s of the last flush (a tick's at 40 s): not flushed by the batch
    driver.send(input, 'busy', [enriched('d2', 'p', 'c', T0 + 3 * HOUR, { v: 2 })]);
    await driver.settle();
    const busy = () => out().filter((a) => a.deviceId === 'd2' && a.window === '1h');
    const finalFirstHour = () => out().some((a) => a.windowStart === T0 && a.window === '1h' && a.final);
    expect(busy()).toEqual([]);
    await clock.advance(5_000);
    await driver.settle();
    expect(busy().map((a) => [a.revision, a.final, a.stats.sum])).toEqual([[2, false, 2]]);
    expect(finalFirstHour()).toBe(false);
    // 'slow' idle for more than 60 s, 'busy' still active: a tick finalises the first hour
    await advance(20_000);
    expect(finalFirstHour()).toBe(true);
    const w = await state.watermarks();
    expect(w.shards.find((s) => s.shardId === 'slow')?.activeAt).toBe(T0);
    await driver.close();
  });

  it('stops the worker with StateLostError when Redis restarts empty mid-run', async () => {
    const namespace = `restart-${randomUUID()}`;
    const redisUrl = testEnv('SHARDFLOW_TEST_REDIS_URL');
    const b = new TopologyBuilder('windows-restart');
    const input = b.source('telemetry', new MemorySource<Enriched>());
    const windows = input.via('windows', windowAggregate(cfg, redisWindowState({ redisUrl, namespace })));
    const unused: Sink<unknown> = { type: 'captured', write: async () => {} };
    const aggregates = windows.to('aggregates', unused);
    windows.side('late').to('late-records', unused);
    const driver = new TopologyTestDriver(b.build(), { clock: new ManualClock(T0) });
    driver.send(input, 'shard-0', [enriched('d', 'p', 'c', T0, { v: 1 })]);
    await driver.settle();
    expect(driver.output(aggregates).length).toBeGreaterThan(0);
    // what a restart of a Redis without persistence leaves: none of the namespace's keys
    const admin = new Redis(redisUrl);
    await admin.del(...(await admin.keys(`sf:{${namespace}}:*`)));
    admin.disconnect();
    driver.send(input, 'shard-0', [enriched('d', 'p', 'c', T0 + 1_000, { v: 2 })]);
    await expect(driver.settle()).rejects.toBeInstanceOf(StateLostError);
    await expect(driver.close()).rejects.toBeInstanceOf(StateLostError);
  });
});
