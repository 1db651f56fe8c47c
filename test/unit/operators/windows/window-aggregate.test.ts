import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type WindowAggregateConfig,
  windowAggregate,
  windowAggregateConfigSchema,
} from '../../../../operators/windows/index.ts';
import { embeddedStateStore } from '../../../../state/keyed/embeddedStateStore.ts';
import {
  type Enriched,
  flushMicrotasks,
  ManualClock,
  MemorySource,
  type Sink,
  TopologyBuilder,
  TopologyTestDriver,
  type WindowAggregate,
} from '../../../../topology/index.ts';
import {
  compareAggregates,
  enriched,
  latestAggregates,
  referenceAggregates,
  windowWorkload,
} from '../../../support/windowBruteForce.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 5);
/** Zones and a start two days of records from it span. */
const ZONES: readonly (readonly [string, number])[] = [
  ['UTC', T0],
  // summer time starts on 29 March 2026, 01:00 UTC
  ['Europe/Berlin', Date.UTC(2026, 2, 28)],
  // on 5 April 2026 at 02:00 local the clocks go back to 01:30 (UTC+11 to UTC+10:30)
  ['Australia/Lord_Howe', Date.UTC(2026, 3, 4)],
  ['Asia/Kolkata', T0],
];

const config = (over: Partial<WindowAggregateConfig> = {}): WindowAggregateConfig =>
  windowAggregateConfigSchema.parse({
    allowedOutOfOrdernessMs: 5 * MIN,
    allowedLatenessMs: 10 * MIN,
    retentionMs: 6 * HOUR,
    idleTimeoutMs: 30_000,
    flushIntervalMs: 0,
    customerFlushIntervalMs: 0,
    deviceFlushIntervalMs: 0,
    ...over,
  });

/** Every scope's running values once a minute: the flush tests' keys all fall due at the first batch. */
const EVERY_MINUTE = { flushIntervalMs: MIN, customerFlushIntervalMs: MIN, deviceFlushIntervalMs: MIN };

// the driver captures what reaches each sink; these sinks are never called
const unused = <T>(): Sink<T> => ({ type: 'captured', write: async () => {} });

function topology(cfg: WindowAggregateConfig, clock: ManualClock, maxInFlightBatches?: number) {
  const b = new TopologyBuilder('windows-test');
  const input = b.source('telemetry', new MemorySource<Enriched>());
  const windows = input.via('windows', windowAggregate(cfg));
  const aggregates = windows.to('aggregates', unused<WindowAggregate>());
  const lateRecords = windows.side('late').to('late-records', unused<Enriched>());
  const driver = new TopologyTestDriver(b.build(), {
    clock,
    stateStore: embeddedStateStore(),
    ...(maxInFlightBatches === undefined ? {} : { maxInFlightBatches }),
  });
  return {
    driver,
    input,
    get out() {
      return driver.output(aggregates);
    },
    get late() {
      return driver.output(lateRecords);
    },
  };
}

describe('window-aggregate', () => {
  it('gives exactly the brute-force aggregates of the records it did not send to late (generated fleets)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          shards: fc.integer({ min: 1, max: 3 }),
          // batches past 64 keys make a bucket's slab grow (it is first sized for 64 rows)
          batch: fc.integer({ min: 1, max: 200 }),
          records: fc.integer({ min: 50, max: 400 }),
          lateShare: fc.constantFrom(0, 0.02, 0.1),
          // two days across a daylight-saving change (Lord Howe's is half an hour: a 1 h window
          // across a day boundary is two panes) or none
          zone: fc.constantFrom(...ZONES),
        }),
        async ({ seed, shards, batch, records, lateShare, zone: [zone, start] }) => {
          const clock = new ManualClock(start);
          const cfg = config({ zone });
          const t = topology(cfg, clock);
          const workload = windowWorkload({
            seed,
            devices: 150,
            products: 3,
            metrics: 3,
            shards,
            records,
            spanMs: 2 * DAY,
            start,
            outOfOrderMs: 5 * MIN,
            lateShare,
            lateByMs: lateShare > 0.05 ? 20 * MIN : 9 * HOUR,
          });
          for (let s = 0; s < shards; s++) {
            const list = workload[s]!;
            for (let i = 0; i < list.length; i += batch)
              t.driver.send(t.input, `shard-${s}`, list.slice(i, i + batch));
          }
          await t.driver.settle();
          // every shard far ahead: every window becomes final
          for (let s = 0; s < shards; s++)
            t.driver.send(t.input, `shard-${s}`, [enriched('close', 'close', null, start + 30 * DAY, {})]);
          await t.driver.settle();
          // each shard emits its own device windows' finals: those of the shards closed first, at their tick
          await clock.advance(MIN);
          await t.driver.settle();
          await t.driver.close();
          const lateSet = new Set(t.late);
          const accepted = workload.flat().filter((r) => !lateSet.has(r));
          const problems = compareAggregates(
            latestAggregates(t.out),
            referenceAggregates(accepted, cfg.windows, zone),
          );
          expect(problems.slice(0, 3)).toEqual([]);
          for (const r of t.late) expect(r.device_timestamp).toBeLessThan(start + 2 * DAY - cfg.retentionMs);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('re-emits a final window with a higher revision for a record late within retention', async () => {
    const clock = new ManualClock(T0);
    const t = topology(config(), clock);
    t.driver.send(t.input, 'a', [enriched('d1', 'p', 'c', T0 + 10 * MIN, { v: 1 })]);
    // watermark = T0 + 1h + 10 min: the first hour (end T0 + 1h, lateness 10 min) is final
    t.driver.send(t.input, 'a', [enriched('d1', 'p', 'c', T0 + HOUR + 15 * MIN, { v: 2 })]);
    await t.driver.settle();
    const hour = (list: readonly WindowAggregate[]) =>
      list.filter((a) => a.scope === 'product' && a.window === '1h' && a.windowStart === T0);
    // revisions grow with the content: 2 per record, 1 more once final
    expect(hour(t.out).map((a) => [a.revision, a.final, a.stats.count])).toEqual([
      [2, false, 1],
      [3, true, 1],
    ]);
    t.driver.send(t.input, 'a', [enriched('d2', 'p', 'c', T0 + 20 * MIN, { v: 5 })]);
    await t.driver.settle();
    expect(hour(t.out).at(-1)).toMatchObject({
      revision: 5,
      final: true,
      stats: { count: 2, sum: 6, max: 5 },
    });
    expect(t.late).toEqual([]);
    await t.driver.close();
  });

  it('sends records later than retention to late, and counts them nowhere else', async () => {
    const clock = new ManualClock(T0);
    const t = topology(config({ retentionMs: HOUR }), clock);
    t.driver.send(t.input, 'a', [enriched('d1', 'p', 'c', T0 + 10 * MIN, { v: 1 })]);
    t.driver.send(t.input, 'a', [enriched('d1', 'p', 'c', T0 + 3 * HOUR, { v: 1 })]);
    await t.driver.settle();
    // watermark T0 + 2h55: the first hour (end T0 + 1h) is past its retention of 1 h
    const tooLate = enriched('d9', 'p', 'c', T0 + 30 * MIN, { v: 100 });
    const inTime = enriched('d9', 'p', 'c', T0 + 2 * HOUR, { v: 7 });
    t.driver.send(t.input, 'a', [tooLate, inTime]);
    await t.driver.settle();
    expect(t.late).toEqual([tooLate]);
    const d9 = t.out.filter((a) => a.deviceId === 'd9');
    expect(d9.map((a) => [a.window, a.windowStart - T0, a.stats.count, a.stats.sum]).sort()).toEqual([
      ['1d', 0, 1, 7],
      ['1h', 2 * HOUR, 1, 7],
      ['6h', 0, 1, 7],
    ]);
    const m = t.driver.metrics().nodes.find((n) => n.node === 'late-records');
    expect(m?.recordsIn).toBe(1);
    await t.driver.close();
  });

  it('lets an idle shard stop holding the global watermark back after the idleness timeout', async () => {
    const clock = new ManualClock(T0);
    const t = topology(config(), clock);
    t.driver.send(t.input, 'slow', [enriched('d1', 'p', 'c', T0 + 5 * MIN, { v: 1 })]);
    await t.driver.settle();
    t.driver.send(t.input, 'busy', [enriched('d2', 'p', 'c', T0 + 3 * HOUR, { v: 1 })]);
    await t.driver.settle();
    const finalFirstHour = () => t.out.some((a) => a.windowStart === T0 && a.window === '1h' && a.final);
    expect(finalFirstHour()).toBe(false); // 'slow' holds the watermark at T0
    await clock.advance(30_001);
    t.driver.send(t.input, 'busy', [enriched('d2', 'p', 'c', T0 + 3 * HOUR + MIN, { v: 1 })]);
    await t.driver.settle();
    expect(finalFirstHour()).toBe(true);
    await t.driver.close();
  });

  it('holds the source of a shard that ran more than maxShardDriftMs ahead until the slowest catches up or goes idle', async () => {
    const clock = new ManualClock(T0);
    // one batch in flight: the source is asked for the next batch once the last one is through
    const t = topology(config({ maxShardDriftMs: HOUR }), clock, 1);
    const outOf = (device: string) => t.out.filter((a) => a.deviceId === device).length;
    const send = async (shard: string, device: string, at: number) => {
      t.driver.send(t.input, shard, [enriched(device, 'p', 'c', at, { v: 1 })]);
      await flushMicrotasks(50);
    };
    await send('slow', 'd1', T0 + 5 * MIN);
    await t.driver.settle();
    // 2 h 55 min ahead of the global watermark (0 h 00): this batch is applied; the next one waits
    await send('fast', 'd2', T0 + 3 * HOUR);
    await send('fast', 'd3', T0 + 3 * HOUR + MIN);
    await clock.advance(5_000);
    expect(outOf('d2')).toBeGreaterThan(0);
    expect(outOf('d3')).toBe(0);
    const fast = () => t.driver.metrics().shards.find((s) => s.shardId === 'fast');
    expect(fast()?.inFlightBatches).toBe(0);
    // slow reaches 2 h 25 min: 30 min behind, within the drift, so fast goes on at its next poll
    await send('slow', 'd1', T0 + 2 * HOUR + 30 * MIN);
    await clock.advance(200);
    await t.driver.settle();
    expect(outOf('d3')).toBeGreaterThan(0);
    // ahead again, while slow sends nothing more: held until slow is idle (30 s), then released
    await clock.advance(5_000);
    await send('fast', 'd4', T0 + 6 * HOUR);
    await send('fast', 'd5', T0 + 6 * HOUR + MIN);
    await clock.advance(20_000);
    expect(outOf('d4')).toBeGreaterThan(0);
    expect(outOf('d5')).toBe(0);
    await clock.advance(6_000);
    await t.driver.settle();
    expect(outOf('d5')).toBeGreaterThan(0);
    await t.driver.close();
  });

  it('lets a held shard go when the runtime stops', async () => {
    const clock = new ManualClock(T0);
    const t = topology(config({ maxShardDriftMs: HOUR, idleTimeoutMs: 3_600_000 }), clock, 1);
    t.driver.send(t.input, 'slow', [enriched('d1', 'p', 'c', T0 + 5 * MIN, { v: 1 })]);
    await t.driver.settle();
    t.driver.send(t.input, 'fast', [enriched('d2', 'p', 'c', T0 + 3 * HOUR, { v: 1 })]);
    t.driver.send(t.input, 'fast', [enriched('d3', 'p', 'c', T0 + 3 * HOUR + MIN, { v: 1 })]);
    await flushMicrotasks(50);
    await clock.advance(1_000);
    expect(t.out.some((a) => a.deviceId === 'd3')).toBe(false);
    // the hold ends with the runtime: close returns rather than waiting for slow
    await t.driver.close();
    expect(t.out.some((a) => a.deviceId === 'd2')).toBe(true);
  });

  it('flushes device windows on their own, longer interval', async () => {
    const clock = new ManualClock(T0);
    const t = topology(config({ flushIntervalMs: 0, deviceFlushIntervalMs: 10_000 }), clock);
    let seen = 0;
    const emitted = () => {
      const out = t.out.slice(seen);
      seen = t.out.length;
      return out;
    };
    const scopes = (out: readonly WindowAggregate[]) => new Set(out.map((a) => a.scope));
    const send = async (v: number) => {
      t.driver.send(t.input, 's', [enriched('d1', 'p', 'c', T0 + 5 * MIN + v, { v })]);
      await t.driver.settle();
    };
    await send(1);
    expect(scopes(emitted())).toEqual(new Set(['product', 'device', 'customer-product']));
    await clock.advance(1_000);
    await send(2);
    expect(scopes(emitted())).toEqual(new Set(['product', 'customer-product']));
    // ten seconds after the device windows' last flush, a tick flushes their change
    await clock.advance(9_000);
    await t.driver.settle();
    const device = emitted().filter((a) => a.scope === 'device' && a.window === '1h');
    expect(device.map((a) => [a.revision, a.final, a.stats.count, a.stats.sum])).toEqual([[4, false, 2, 3]]);
    await t.driver.close();
  });

  it('spreads a flush larger than flushMaxKeys over the next batches, the scopes with fewer keys first', async () => {
    const clock = new ManualClock(T0);
    const t = topology(
      config({
        ...EVERY_MINUTE,
        flushMaxKeys: 4,
      }),
      clock,
    );
    const devices = ['d1', 'd2', 'd3', 'd4'];
    t.driver.send(
      t.input,
      's',
      devices.map((d) => enriched(d, 'p', 'c', T0 + 5 * MIN, { v: 1 })),
    );
    await t.driver.settle();
    // 3 product rows and 1 customer row go first, then 4 devices x 3 sizes: 4 per call
    expect(t.out.map((a) => a.scope).sort()).toEqual(['customer-product', 'product', 'product', 'product']);
    for (let i = 1; i <= 3; i++) {
      await clock.advance(100);
      // each batch changes the product windows again: they wait for their next interval
      t.driver.send(t.input, 's', [enriched('d1', 'p', 'c', T0 + 5 * MIN, { w: i })]);
      await t.driver.settle();
    }
    const deviceHours = new Set(
      t.out.filter((a) => a.scope === 'device' && a.window === '1h').map((a) => a.deviceId),
    );
    expect(deviceHours).toEqual(new Set(devices));
    expect(t.out.filter((a) => a.scope === 'product')).toHaveLength(3);
    await t.driver.close();
  });

  it('emits running values at most flushKeysPerSecond keys a second, as a trickle between the batches', async () => {
    const clock = new ManualClock(T0);
    const t = topology(
      config({
        ...EVERY_MINUTE,
        flushMaxKeys: 5,
        flushKeysPerSecond: 10,
        scopes: ['device'],
        windows: ['1h'],
      }),
      clock,
    );
    const devices = Array.from({ length: 20 }, (_, i) => `d${i}`);
    t.driver.send(
      t.input,
      's',
      devices.map((d) => enriched(d, 'p', 'c', T0 + 5 * MIN, { v: 1 })),
    );
    await t.driver.settle();
    // the bucket starts full: flushMaxKeys keys
    expect(t.out).toHaveLength(5);
    const overdue = () =>
      t.driver.metrics().gauges.find((g) => g.name === 'window_flush_overdue_seconds_device')?.value;
    const perBatch: number[] = [];
    const overdueAfter: (number | undefined)[] = [];
    for (let i = 0; i < 8; i++) {
      const before = t.out.length;
      // 300 ms at 10 keys/s: 3 keys
      await clock.advance(300);
      t.driver.send(t.input, 's', [enriched('d0', 'p', 'c', T0 + 5 * MIN, { v: 2 })]);
      await t.driver.settle();
      perBatch.push(t.out.length - before);
      overdueAfter.push(overdue());
    }
    // the round took 20 keys: 5, then 3 a batch; d0, changed again meanwhile, waits for the next
    // round, due a minute after this one ended
    expect(perBatch).toEqual([3, 3, 3, 3, 3, 0, 0, 0]);
    expect(new Set(t.out.map((a) => a.deviceId)).size).toBe(20);
    expect(overdueAfter.map((s) => (s === undefined ? s : Math.round(s * 10) / 10))).toEqual([
      0.3, 0.6, 0.9, 1.2, 0, 0, 0, 0,
    ]);
    await t.driver.close();
  });

  it('emits running values and finals of idle shards by ticks, with no batch arriving', async () => {
    const clock = new ManualClock(T0);
    // ticks every 5 s; a shard's batch flushes at its first call, then only 5 s after its last flush
    const t = topology(
      config({ flushIntervalMs: 5_000, customerFlushIntervalMs: 5_000, deviceFlushIntervalMs: 5_000 }),
      clock,
    );
    t.driver.send(t.input, 'slow', [enriched('d1', 'p', 'c', T0 + 5 * MIN, { v: 1 })]);
    await t.driver.settle();
    await clock.advance(22_000);
    await t.driver.settle();
    t.driver.send(t.input, 'busy', [enriched('d2', 'p', 'c', T0 + 3 * HOUR, { v: 2 })]);
    await t.driver.settle();
    const busyHour = () =>
      t.out.filter((a) => a.scope === 'device' && a.deviceId === 'd2' && a.window === '1h');
    const finalFirstHour = () => t.out.some((a) => a.windowStart === T0 && a.window === '1h' && a.final);
    expect(busyHour().map((a) => [a.revision, a.final, a.stats.sum])).toEqual([[2, false, 2]]);
    await clock.advance(1_000);
    t.driver.send(t.input, 'busy', [enriched('d2', 'p', 'c', T0 + 3 * HOUR, { v: 3 })]);
    await t.driver.settle();
    expect(busyHour()).toHaveLength(1);
    expect(finalFirstHour()).toBe(false);
    // 5 s after busy's first flush a tick flushes the running value of its window
    await clock.advance(4_000);
    await t.driver.settle();
    expect(busyHour().map((a) => [a.revision, a.final, a.stats.sum])).toEqual([
      [2, false, 2],
      [4, false, 5],
    ]);
    expect(finalFirstHour()).toBe(false); // 'slow' still holds the watermark back
    // past the idle timeout (30 s) of 'slow' while 'busy' counts as active: a tick finalises the hour
    await clock.advance(4_000);
    await t.driver.settle();
    expect(finalFirstHour()).toBe(true);
    const emitted = t.out.length;
    // both idle: nothing more moves, and ticks repeat nothing
    await clock.advance(60_000);
    await t.driver.settle();
    expect(t.out.length).toBe(emitted);
    const m = t.driver.metrics().nodes.find((n) => n.node === 'windows');
    expect(m?.timersFired).toBeGreaterThan(3);
    await t.driver.close();
  });

  it('names the key of a bad configuration', () => {
    const bad = windowAggregateConfigSchema.safeParse({ allowedLatenessMs: 10, retentionMs: 5 });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['retentionMs']);
    const zone = windowAggregateConfigSchema.safeParse({ zone: 'Mars/Olympus' });
    expect(zone.error?.issues[0]).toMatchObject({ path: ['zone'], message: 'not an IANA time zone' });
  });
});
