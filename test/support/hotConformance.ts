/**
 * The Hot store conformance suite: every `HotStore` implementation runs these same tests, through
 * its sinks (`hotTelemetrySink`, `hotAggregateSink`) as the runtime would call them, and reads back
 * through the store's read side.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hotAggregateSink } from '../../sinks/hot/hotAggregateSink.ts';
import { DAY_MS, type HotStore, openAlarmOf, utcDayStart } from '../../sinks/hot/hotStore.ts';
import { hotTelemetrySink } from '../../sinks/hot/hotTelemetrySink.ts';
import {
  type BatchContext,
  type Enriched,
  type Episode,
  ManualClock,
  type MetricStats,
  type WindowAggregate,
} from '../../topology/index.ts';
import { enriched } from './records.ts';

/** An opened store and how to dispose of it. */
export interface OpenedHotStore {
  readonly store: HotStore;
  cleanup(): Promise<void>;
}

/** Options of one run of the suite. */
export interface HotConformanceOptions {
  /** Records replayed twice in the replay test (the acceptance figure is 100,000). */
  readonly replayRecords: number;
}

const HOUR = 3_600_000;
// Today (UTC) at 12:00: recent enough that a MongoDB TTL index leaves the records alone.
const BASE = utcDayStart(Date.now()) + 12 * HOUR;

function context(clock: ManualClock, shardId = 'shardId-000000000000'): BatchContext {
  return { node: 'hot', shardId, position: { sequenceNumber: '1', subSequenceNumber: 0 }, clock };
}

function stats(count: number, mean: number): MetricStats {
  return {
    count,
    sum: count * mean,
    min: mean - 1,
    max: mean + 1,
    mean,
    m2: count * 0.25,
    first: mean - 1,
    firstAt: BASE,
    last: mean + 1,
    lastAt: BASE + 1000,
  };
}

function aggregate(over: Partial<WindowAggregate>): WindowAggregate {
  return {
    scope: 'product',
    window: '1h',
    productId: 'env-h1',
    metric: 'temperature',
    windowStart: BASE,
    windowEnd: BASE + HOUR,
    revision: 1,
    final: false,
    stats: stats(10, 20),
    ...over,
  };
}

const sortByKey = (rows: Enriched[]) =>
  [...rows].sort(
    (a, b) =>
      a.device_timestamp - b.device_timestamp ||
      a.device_id.localeCompare(b.device_id) ||
      a.rawRef.sequenceNumber.localeCompare(b.rawRef.sequenceNumber),
  );

/** Runs the conformance suite against the store `open` returns (prepared before the tests). */
export function hotConformance(
  name: string,
  open: () => Promise<OpenedHotStore>,
  options: HotConformanceOptions,
): void {
  describe(`Hot store conformance: ${name}`, () => {
    let opened: OpenedHotStore;
    let store: HotStore;
    const clock = new ManualClock(BASE + HOUR);

    beforeAll(async () => {
      opened = await open();
      store = opened.store;
      await store.prepare();
      await store.prepare();
    }, 60_000);
    afterAll(() => opened?.cleanup());

    it('stores joined telemetry and reads it back as written, odd metric names included', async () => {
      const records = [
        enriched('dev-rt-1', BASE + 1000, 1, {
          temperature: 21.5,
          'a.b': 1,
          $where: 'x',
          '%24': true,
          off: null,
        }),
        enriched('dev-rt-1', BASE + 2000, 2, { temperature: 21.75 }),
        {
          ...enriched('dev-rt-2', BASE + 1500, 3, { humidity: 40 }),
          hub_id: 'hub-9',
          hub_timestamp: BASE + 1400,
          childDeviceId: 'dev-rt-2',
          customer_id: null,
          site_id: null,
        },
      ];
      await hotTelemetrySink(store).write(records, context(clock));
      expect(await store.readTelemetry({ deviceId: 'dev-rt-1', from: BASE, to: BASE + HOUR })).toEqual(
        records.slice(0, 2),
      );
      expect(await store.readTelemetry({ deviceId: 'dev-rt-2', from: BASE, to: BASE + HOUR })).toEqual([
        records[2],
      ]);
      expect(await store.readTelemetry({ deviceId: 'dev-rt-1', from: BASE + 1500, to: BASE + HOUR })).toEqual(
        [records[1]],
      );
      expect(
        await store.readTelemetry({ deviceId: 'dev-rt-1', from: BASE, to: BASE + HOUR, limit: 1 }),
      ).toEqual([records[0]]);
    });

    it("does not store the raw reference's partition key (pipeline state's key, not the dashboards')", async () => {
      const written = enriched('dev-pk-1', BASE + 1000, 4, { temperature: 20 });
      await hotTelemetrySink(store).write(
        [{ ...written, rawRef: { ...written.rawRef, partitionKey: 'dev-pk-1' } }],
        context(clock),
      );
      expect(await store.readTelemetry({ deviceId: 'dev-pk-1', from: BASE, to: BASE + HOUR })).toEqual([
        written,
      ]);
    });

    it('leaves the same rows when the same records are written again (replay, redelivery)', async () => {
      const from = BASE - 6 * HOUR;
      const records: Enriched[] = [];
      for (let i = 0; i < options.replayRecords; i++)
        records.push(
          enriched(`dev-replay-${i % 500}`, from + i * 10, 1_000_000 + i, {
            temperature: i % 97,
            ok: i % 2 === 0,
          }),
        );
      const sink = hotTelemetrySink(store);
      const page = 500;
      const writeAll = async () => {
        for (let i = 0; i < records.length; i += page)
          await sink.write(records.slice(i, i + page), context(clock));
      };
      await writeAll();
      const to = from + options.replayRecords * 10;
      const first = await store.readTelemetry({ productId: 'thermo-t1', from, to });
      expect(first).toHaveLength(options.replayRecords);
      await writeAll();
      expect(await store.countTelemetry(from, to)).toBe(options.replayRecords);
      const second = await store.readTelemetry({ productId: 'thermo-t1', from, to });
      expect(sortByKey(second)).toEqual(sortByKey(first));
      expect(sortByKey(second)).toEqual(sortByKey(records));
    }, 600_000);

    it('moves each device’s latest state only forward in device time', async () => {
      const sink = hotTelemetrySink(store);
      await sink.write(
        [
          enriched('dev-state', BASE + 5000, 10, { temperature: 5 }),
          enriched('dev-state', BASE + 3000, 11, { temperature: 3 }),
        ],
        context(clock),
      );
      expect(await store.readLatestState('dev-state')).toEqual({
        deviceId: 'dev-state',
        productId: 'thermo-t1',
        deviceTimestamp: BASE + 5000,
        siteId: 'site-1',
        customerId: 'customer-1',
        metrics: { temperature: 5 },
      });
      await sink.write([enriched('dev-state', BASE + 4000, 12, { temperature: 4 })], context(clock));
      expect((await store.readLatestState('dev-state'))?.metrics).toEqual({ temperature: 5 });
      await sink.write([enriched('dev-state', BASE + 6000, 13, { 'x.y': 6 })], context(clock));
      expect(await store.readLatestState('dev-state')).toMatchObject({
        deviceTimestamp: BASE + 6000,
        metrics: { 'x.y': 6 },
      });
      expect(await store.readLatestState('dev-nobody')).toBeUndefined();
    });

    it('takes the later record of a batch as the state when two share a device time', async () => {
      const sink = hotTelemetrySink(store);
      await sink.write(
        [
          enriched('dev-tie', BASE + 7000, 20, { temperature: 1 }),
          enriched('dev-tie', BASE + 7000, 21, { temperature: 2 }),
          enriched('dev-other', BASE + 7000, 22, { temperature: 9 }),
        ],
        context(clock),
      );
      expect((await store.readLatestState('dev-tie'))?.metrics).toEqual({ temperature: 2 });
      expect((await store.readLatestState('dev-other'))?.metrics).toEqual({ temperature: 9 });
      expect(await store.readTelemetry({ from: BASE, to: BASE + 8000, deviceId: 'dev-tie' })).toHaveLength(2);
    });

    it('keeps the highest revision of each window aggregate', async () => {
      const sink = hotAggregateSink(store);
      const key = { productId: 'env-agg' };
      await sink.write(
        [
          aggregate({ ...key, revision: 1 }),
          aggregate({ ...key, revision: 2, stats: stats(12, 21) }),
          aggregate({ ...key, metric: 'humidity' }),
        ],
        context(clock),
      );
      const query = { scope: 'product', key: 'env-agg', window: '1h', from: BASE, to: BASE + HOUR } as const;
      let rows = await store.readAggregates({ ...query, metric: 'temperature' });
      expect(rows).toEqual([aggregate({ ...key, revision: 2, stats: stats(12, 21) })]);
      // a late, lower revision never overwrites; a replay of the same changes nothing
      await sink.write([aggregate({ ...key, revision: 1, stats: stats(1, 1) })], context(clock));
      await sink.write([aggregate({ ...key, revision: 2, stats: stats(12, 21) })], context(clock));
      rows = await store.readAggregates({ ...query, metric: 'temperature' });
      expect(rows).toEqual([aggregate({ ...key, revision: 2, stats: stats(12, 21) })]);
      await sink.write(
        [aggregate({ ...key, revision: 3, final: true, stats: stats(13, 22) })],
        context(clock),
      );
      rows = await store.readAggregates(query);
      expect(rows.map((r) => [r.metric, r.revision, r.final, r.stats.count])).toEqual([
        ['humidity', 1, false, 10],
        ['temperature', 3, true, 13],
      ]);
    });

    it('keeps device-scope aggregates by device and passes customer x product ones over', async () => {
      const sink = hotAggregateSink(store);
      const device = aggregate({
        scope: 'device',
        deviceId: 'dev-agg-1',
        productId: 'env-dev',
        window: '6h',
        windowEnd: BASE + 6 * HOUR,
      });
      await sink.write(
        [
          device,
          aggregate({
            scope: 'customer-product',
            customerId: 'customer-1',
            productId: 'env-dev',
            window: '1d',
          }),
        ],
        context(clock),
      );
      expect(
        await store.readAggregates({
          scope: 'device',
          key: 'dev-agg-1',
          window: '6h',
          from: BASE,
          to: BASE + 1,
        }),
      ).toEqual([device]);
      expect(
        await store.readAggregates({
          scope: 'product',
          key: 'env-dev',
          window: '1d',
          from: 0,
          to: BASE + DAY_MS,
        }),
      ).toEqual([]);
    });

    it('keeps telemetry for the retention and no longer', async () => {
      const sink = hotTelemetrySink(store);
      const days = store.retentionDays;
      const old = enriched('dev-retention', BASE - (days + 2) * DAY_MS, 20, { temperature: 1 });
      const edge = enriched('dev-retention', BASE - (days - 1) * DAY_MS, 21, { temperature: 2 });
      const fresh = enriched('dev-retention', BASE + 100, 22, { temperature: 3 });
      await sink.write([old, edge, fresh], context(clock));
      const all = { deviceId: 'dev-retention', from: 0, to: BASE + DAY_MS };
      // older than the retention at write time: not written at all
      expect(await store.readTelemetry(all)).toEqual([edge, fresh]);
      // two days on, `edge` is past the retention
      expect(await store.expire(clock.now() + 2 * DAY_MS)).toBeGreaterThan(0);
      expect(await store.readTelemetry(all)).toEqual([fresh]);
    });

    it('shows open alarms by customer, most severe first, and moves each only forward by event number', async () => {
      const a1 = episode('alarm-a', { customerId: 'cust-oa', severity: 'warning', openedAt: BASE });
      const b1 = episode('alarm-b', { customerId: 'cust-oa', severity: 'critical', openedAt: BASE + 1000 });
      const c1 = episode('alarm-c', { customerId: 'cust-ob', severity: 'major', openedAt: BASE + 2000 });
      const a2 = { ...a1, acknowledged: true, lastEventSeq: 2, updatedAt: BASE + 5000 };
      // one batch may hold several states of an episode: the latest counts
      await store.writeOpenAlarms([a1, b1, c1, a2]);
      const ids = async (q: Parameters<HotStore['readOpenAlarms']>[0]) =>
        (await store.readOpenAlarms(q)).map((a) => a.episodeId);
      expect(await ids({ customerId: 'cust-oa' })).toEqual(['alarm-b', 'alarm-a']);
      expect(await ids({ customerId: 'cust-oa', minSeverity: 'major' })).toEqual(['alarm-b']);
      expect(await ids({ customerId: 'cust-oa', limit: 1 })).toEqual(['alarm-b']);
      expect((await store.readOpenAlarms({ customerId: 'cust-oa' }))[1]).toEqual(openAlarmOf(a2));
      // an older state written again (a replay) changes nothing
      await store.writeOpenAlarms([a1]);
      expect((await store.readOpenAlarms({ customerId: 'cust-oa' }))[1]!.acknowledged).toBe(true);
    });

    it("shows one device's open alarms for its page, most severe first, closed ones left out", async () => {
      const device = 'dev-page-1';
      const mine = (id: string, over: Partial<Episode>) =>
        episode(id, {
          customerId: 'cust-od',
          target: { kind: 'device', id: device },
          deviceId: device,
          ...over,
        });
      const low = mine('alarm-dev-low', { severity: 'warning', openedAt: BASE + 3000 });
      const high = mine('alarm-dev-high', { ruleId: 'frost', severity: 'critical', openedAt: BASE });
      const closed = mine('alarm-dev-closed', { ruleId: 'damp', openedAt: BASE + 4000 });
      // same customer, another device; and another customer's device with a similar id
      const other = episode('alarm-dev-other', { customerId: 'cust-od', openedAt: BASE + 5000 });
      const prefixed = episode('alarm-dev-prefixed', {
        customerId: 'cust-oe',
        target: { kind: 'device', id: `${device}0` },
        deviceId: `${device}0`,
      });
      await store.writeOpenAlarms([low, high, closed, other, prefixed]);
      await store.writeOpenAlarms([{ ...closed, status: 'cleared', closedAt: BASE + 4010, lastEventSeq: 3 }]);
      const ids = async (q: Parameters<HotStore['readOpenAlarms']>[0]) =>
        (await store.readOpenAlarms(q)).map((a) => a.episodeId);
      expect(await ids({ deviceId: device })).toEqual(['alarm-dev-high', 'alarm-dev-low']);
      expect(await ids({ deviceId: device, minSeverity: 'major' })).toEqual(['alarm-dev-high']);
      expect(await ids({ deviceId: device, customerId: 'cust-oe' })).toEqual([]);
      expect(await ids({ deviceId: 'dev-page-none' })).toEqual([]);
      expect((await store.readOpenAlarms({ deviceId: device, limit: 1 }))[0]).toEqual(openAlarmOf(high));
    });

    it('takes a closed alarm off the dashboards, and a replayed older event does not bring it back', async () => {
      const open = episode('alarm-closing', { customerId: 'cust-oc', openedAt: BASE });
      const cleared = {
        ...open,
        status: 'cleared' as const,
        clearedAt: BASE + 10,
        lastEventSeq: 2,
        updatedAt: BASE + 10,
      };
      const closed = { ...cleared, closedAt: BASE + 10, lastEventSeq: 3 };
      const next = episode('alarm-next', { customerId: 'cust-oc', openedAt: BASE + 20 });
      await store.writeOpenAlarms([open]);
      await store.writeOpenAlarms([cleared, closed, next]);
      const ids = async () => (await store.readOpenAlarms({ customerId: 'cust-oc' })).map((a) => a.episodeId);
      expect(await ids()).toEqual(['alarm-next']);
      await store.writeOpenAlarms([open, cleared]);
      expect(await ids()).toEqual(['alarm-next']);
      // the retention removes closed alarms, never open ones
      await store.expire(BASE + 10 + (store.retentionDays + 1) * DAY_MS);
      expect(await ids()).toEqual(['alarm-next']);
    });
  });
}

/** An open episode of rule `overheat` on a device, with `over` on top. */
function episode(id: string, over: Partial<Episode>): Episode {
  return {
    id,
    ruleId: 'overheat',
    rulesetVersion: 1,
    target: { kind: 'device', id: `dev-${id}` },
    productId: 'env-h1',
    customerId: null,
    siteId: 'site-1',
    deviceId: `dev-${id}`,
    severity: 'warning',
    status: 'active',
    acknowledged: false,
    latched: false,
    assignee: null,
    shelvedUntil: null,
    openedAt: BASE,
    clearedAt: null,
    closedAt: null,
    lastEventSeq: 1,
    updatedAt: over.openedAt ?? BASE,
    flapping: false,
    value: 42.5,
    message: 'too hot',
    ...over,
  };
}
