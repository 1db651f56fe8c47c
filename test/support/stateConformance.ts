/**
 * The conformance suite every window state backend runs (embedded: a unit test; Redis: an integration
 * test). `make` returns a fresh, opened backend with empty state for each test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  windowAggregate,
  windowAggregateConfigSchema,
  windowAssigner,
} from '../../operators/windows/index.ts';
import type {
  ApplyRequest,
  ApplyResult,
  BucketPartial,
  Emission,
  TickRequest,
  WatermarkPolicy,
  WindowStateBackend,
} from '../../state/windowState.ts';
import {
  type AggregateScope,
  type Clock,
  type Enriched,
  ManualClock,
  type MetricStats,
  mergeStats,
  type Operator,
  type WindowAggregate,
  type WindowSize,
} from '../../topology/index.ts';

const HOUR = 3_600_000;
const policy: WatermarkPolicy = {
  outOfOrdernessMs: 60_000,
  allowedLatenessMs: 10 * 60_000,
  retentionMs: HOUR,
  idleTimeoutMs: 30_000,
};

/** Statistics of a list of (event time, value) pairs, computed the slow way. */
export function statsOf(points: readonly (readonly [number, number])[]): MetricStats {
  const values = points.map(([, v]) => v);
  const count = values.length;
  const sum = values.reduce((a, b) => a + b, 0);
  const mean = sum / count;
  const byTime = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const first = byTime[0]!;
  const last = [...points].sort((a, b) => b[0] - a[0] || b[1] - a[1])[0]!;
  return {
    count,
    sum,
    min: Math.min(...values),
    max: Math.max(...values),
    mean,
    m2: values.reduce((a, v) => a + (v - mean) ** 2, 0),
    first: first[1],
    firstAt: first[0],
    last: last[1],
    lastAt: last[0],
  };
}

const pos = (sequenceNumber: string, subSequenceNumber = 0) => ({ sequenceNumber, subSequenceNumber });

function request(
  shardId: string,
  sequenceNumber: string,
  partials: readonly BucketPartial[],
  over: Partial<ApplyRequest> = {},
): ApplyRequest {
  const maxEventTime = Math.max(
    Number.NEGATIVE_INFINITY,
    ...partials.flatMap((p) => [...p.fields.values()].map((s) => s.lastAt)),
  );
  return {
    shardId,
    position: pos(sequenceNumber),
    classifiedWith: Number.NEGATIVE_INFINITY,
    maxEventTime,
    now: 1_000,
    policy,
    partials,
    flush: false,
    ...over,
  };
}

const bucketAt = (hour: number) => `product|1h|${hour * HOUR}`;
const partial = (
  hour: number,
  fields: Record<string, readonly (readonly [number, number])[]>,
): BucketPartial => ({
  bucket: bucketAt(hour),
  windowEnd: (hour + 1) * HOUR,
  fields: new Map(Object.entries(fields).map(([f, points]) => [f, statsOf(points)])),
});

const byField = (emissions: readonly Emission[]) =>
  Object.fromEntries(emissions.map((e) => [`${e.bucket}#${e.field}`, e]));

/** Registers the shared suite for one backend. */
export function describeWindowStateConformance(name: string, make: () => Promise<WindowStateBackend>): void {
  describe(`window state conformance: ${name}`, () => {
    const opened: WindowStateBackend[] = [];
    const fresh = async () => {
      const backend = await make();
      opened.push(backend);
      return backend;
    };
    afterEach(async () => {
      for (const b of opened.splice(0)) await b.close();
    });

    it('merges the partials of successive batches exactly (bit-identical to mergeStats)', async () => {
      const s = await fresh();
      const a: [number, number][] = [
        [10 * HOUR + 5, 1.5],
        [10 * HOUR + 9, -2.25],
      ];
      const b: [number, number][] = [
        [10 * HOUR + 1, 7.125],
        [10 * HOUR + 9, 3],
      ];
      expect((await s.apply(request('shard-1', '100', [partial(10, { 'p|t': a })]))).status).toBe('applied');
      expect((await s.apply(request('shard-1', '101', [partial(10, { 'p|t': b })]))).status).toBe('applied');
      const stored = await s.readWindow(bucketAt(10), 'p|t');
      expect(stored?.stats).toEqual(mergeStats(statsOf(a), statsOf(b)));
      expect(stored?.stats.first).toBe(7.125);
      expect(stored?.stats.last).toBe(3);
      expect(stored?.revision).toBe(0);
      // several buckets in one batch
      const three = [
        partial(11, { x: [[11 * HOUR, 1]] }),
        partial(12, { y: [[12 * HOUR, 2]] }),
        partial(10, { z: a }),
      ];
      expect((await s.apply(request('shard-1', '102', three))).status).toBe('applied');
      expect((await s.readWindow(bucketAt(11), 'x'))?.stats.sum).toBe(1);
      expect((await s.readWindow(bucketAt(12), 'y'))?.stats.sum).toBe(2);
      expect((await s.readWindow(bucketAt(10), 'z'))?.stats).toEqual(statsOf(a));
    });

    it('ignores a batch at or below the shard position (decimal order by length) and reports its classification', async () => {
      const s = await fresh();
      const p = partial(10, { f: [[10 * HOUR, 1]] });
      await s.apply(request('shard-1', '99', [p], { classifiedWith: 5 }));
      await s.apply(request('shard-1', '100', [p], { classifiedWith: 7 }));
      const replay = await s.apply(request('shard-1', '99', [p]));
      expect(replay).toMatchObject({
        status: 'duplicate',
        classified: [{ position: pos('99'), watermark: 5 }],
      });
      const again = await s.apply(request('shard-1', '100', [p]));
      expect(again).toMatchObject({
        status: 'duplicate',
        classified: [{ position: pos('100'), watermark: 7 }],
      });
      expect((await s.readWindow(bucketAt(10), 'f'))?.stats.count).toBe(2);
      // another shard has its own position
      expect((await s.apply(request('shard-2', '5', [p]))).status).toBe('applied');
      expect((await s.readWindow(bucketAt(10), 'f'))?.stats.count).toBe(3);
      // a later sub-sequence of the same sequence number is beyond
      const sub = await s.apply(request('shard-2', '5', [p], { position: pos('5', 1) }));
      expect(sub.status).toBe('applied');
    });

    it('keeps the global watermark at the minimum over live shards, drops idle ones, never goes back', async () => {
      const s = await fresh();
      const at = (t: number) => partial(Math.floor(t / HOUR), { f: [[t, 1]] });
      let r = await s.apply(request('a', '1', [at(10 * HOUR)], { now: 0 }));
      expect(r.globalWatermark).toBe(10 * HOUR - policy.outOfOrdernessMs);
      r = await s.apply(request('b', '1', [at(9 * HOUR)], { now: 1_000 }));
      expect(r.globalWatermark).toBe(10 * HOUR - policy.outOfOrdernessMs); // never backwards
      r = await s.apply(request('a', '2', [at(12 * HOUR)], { now: 2_000 }));
      expect(r.globalWatermark).toBe(10 * HOUR - policy.outOfOrdernessMs); // b holds it at 9 h − 1 min
      // b idle for longer than the timeout: only a counts
      r = await s.apply(request('a', '3', [at(12 * HOUR + 1)], { now: 1_000 + policy.idleTimeoutMs + 1 }));
      expect(r.globalWatermark).toBe(12 * HOUR + 1 - policy.outOfOrdernessMs);
      const w = await s.watermarks();
      expect(w.global).toBe(r.globalWatermark);
      expect(w.shards.find((x) => x.shardId === 'a')).toMatchObject({
        maxEventTime: 12 * HOUR + 1,
        position: pos('3'),
      });
      expect(w.shards.find((x) => x.shardId === 'b')?.maxEventTime).toBe(9 * HOUR);
    });

    it("advances the global watermark for a held shard's poll, keeping the shard active and claiming nothing", async () => {
      const s = await fresh();
      const at = (t: number) => partial(Math.floor(t / HOUR), { f: [[t, 1]] });
      await s.apply(request('slow', '1', [at(10 * HOUR)], { now: 0 }));
      await s.apply(request('fast', '1', [at(14 * HOUR)], { now: 1_000 }));
      // slow holds it while active
      expect(await s.advanceGlobal('fast', 2_000, policy)).toBe(10 * HOUR - policy.outOfOrdernessMs);
      // past slow's idle timeout, and past fast's own last batch's: the polls kept fast active
      const later = 1_000 + policy.idleTimeoutMs + 1;
      expect(await s.advanceGlobal('fast', later, policy)).toBe(14 * HOUR - policy.outOfOrdernessMs);
      const w = await s.watermarks();
      expect(w.global).toBe(14 * HOUR - policy.outOfOrdernessMs);
      expect(w.shards.find((x) => x.shardId === 'fast')).toMatchObject({
        maxEventTime: 14 * HOUR,
        activeAt: later,
        position: pos('1'),
      });
      // nothing was claimed: the 10 h window is final only with the next call that claims
      expect((await s.readWindow(bucketAt(10), 'f'))?.final).toBe(false);
      const r = await s.tick({
        shardId: 'slow',
        now: later,
        policy,
        flush: false,
        session: 's',
        sequence: 1,
      });
      expect(r.emissions).toEqual([
        expect.objectContaining({ bucket: bucketAt(10), field: 'f', final: true }),
      ]);
      // a shard that never applied changes nothing
      expect(await s.advanceGlobal('unknown', later + 1, policy)).toBe(14 * HOUR - policy.outOfOrdernessMs);
    });

    it('claims changed windows on flush with growing revisions, once each', async () => {
      const s = await fresh();
      let r = await s.apply(
        request('a', '1', [partial(10, { f: [[10 * HOUR, 1]], g: [[10 * HOUR, 2]] })], { flush: true }),
      );
      expect(r.status).toBe('applied');
      if (r.status !== 'applied') return;
      expect(Object.keys(byField(r.emissions)).sort()).toEqual([`${bucketAt(10)}#f`, `${bucketAt(10)}#g`]);
      expect(r.emissions.every((e) => e.revision === 1 && !e.final && e.windowEnd === 11 * HOUR)).toBe(true);
      r = await s.apply(request('a', '2', [partial(10, { f: [[10 * HOUR + 1, 3]] })], { flush: false }));
      expect(r.status === 'applied' && r.emissions).toEqual([]);
      r = await s.apply(request('a', '3', [], { flush: true, maxEventTime: 10 * HOUR }));
      const e = r.status === 'applied' ? r.emissions : [];
      expect(e).toHaveLength(1);
      expect(e[0]).toMatchObject({ field: 'f', revision: 2, final: false, stats: { count: 2, sum: 4 } });
    });

    it('flushes only the selected buckets, keeping the others changed for a later flush', async () => {
      const s = await fresh();
      const device = (hour: number, points: readonly (readonly [number, number])[]): BucketPartial => ({
        ...partial(hour, { 'p\x1fd\x1ff': points }),
        bucket: `device|1h|${hour * HOUR}`,
      });
      const both = [partial(10, { f: [[10 * HOUR, 1]] }), device(10, [[10 * HOUR, 2]])];
      let r = await s.apply(request('a', '1', both, { flush: ['product|'] }));
      expect(r.status === 'applied' && r.emissions.map((e) => e.bucket)).toEqual([bucketAt(10)]);
      r = await s.apply(request('a', '2', [device(10, [[10 * HOUR + 1, 3]])], { flush: ['product|'] }));
      expect(r.status === 'applied' && r.emissions).toEqual([]);
      // the device bucket kept both changes; a tick selecting it claims them once
      const t = await s.tick({
        shardId: 'a',
        now: 2_000,
        policy,
        flush: ['device|'],
        session: 's',
        sequence: 1,
      });
      expect(t.emissions.map((e) => [e.bucket, e.revision, e.stats.count, e.stats.sum])).toEqual([
        [`device|1h|${10 * HOUR}`, 1, 2, 5],
      ]);
      r = await s.apply(request('a', '3', [], { flush: true, maxEventTime: 10 * HOUR }));
      expect(r.status === 'applied' && r.emissions).toEqual([]);
    });

    it('claims at most the flush limit of keys per call, leaving the rest changed for the next calls', async () => {
      const s = await fresh();
      const fields = Object.fromEntries(
        ['k1', 'k2', 'k3'].map((k, i) => [`p\x1f${k}\x1ff`, [[10 * HOUR + i, i + 1]] as const]),
      );
      let r = await s.apply(request('a', '1', [partial(10, fields)], { flush: true, flushLimit: 2 }));
      const first = r.status === 'applied' ? r : undefined;
      expect(first?.emissions).toHaveLength(2);
      expect(first?.moreToFlush).toBe('');
      const t = await s.tick({
        shardId: 'a',
        now: 2_000,
        policy,
        flush: true,
        flushLimit: 2,
        session: 's',
        sequence: 1,
      });
      expect(t.moreToFlush).toBeUndefined();
      expect([...first!.emissions, ...t.emissions].map((e) => e.field).sort()).toEqual(
        Object.keys(fields).sort(),
      );
      r = await s.apply(request('a', '2', [], { flush: true, flushLimit: 2, maxEventTime: 10 * HOUR }));
      expect(r).toMatchObject({ status: 'applied', emissions: [] });
      expect(r.status === 'applied' && r.moreToFlush).toBeUndefined();
    });

    it('flushes in rounds: rows changed after a round began wait for the next round', async () => {
      const s = await fresh();
      const fields = (keys: readonly string[], v: number) =>
        Object.fromEntries(keys.map((k) => [`p\x1f${k}\x1ff`, [[10 * HOUR + v, v]] as const]));
      const claimed = (r: ApplyResult) => {
        if (r.status !== 'applied') throw new Error(`not applied: ${r.status}`);
        return { fields: r.emissions.map((e) => e.field.split('\x1f')[1]), more: r.moreToFlush };
      };
      const first = claimed(
        await s.apply(
          request('a', '1', [partial(10, fields(['k1', 'k2', 'k3'], 1))], { flush: true, flushLimit: 2 }),
        ),
      );
      expect(first.fields).toHaveLength(2);
      expect(first.more).toBe('');
      // k4 changes after the round took k1..k3: the round's last row goes first, and ends the round
      const second = claimed(
        await s.apply(request('a', '2', [partial(10, fields(['k4'], 2))], { flush: true, flushLimit: 2 })),
      );
      const rest = ['k1', 'k2', 'k3'].filter((k) => !first.fields.includes(k));
      expect(second).toEqual({ fields: rest, more: undefined });
      const third = claimed(
        await s.apply(request('a', '3', [], { flush: true, flushLimit: 2, maxEventTime: 10 * HOUR })),
      );
      expect(third).toEqual({ fields: ['k4'], more: undefined });
    });

    it('claims a selection prefix by prefix in its order, and names the prefix it left keys of', async () => {
      const s = await fresh();
      const inScope = (scope: string, keys: readonly string[]): BucketPartial => ({
        ...partial(10, Object.fromEntries(keys.map((k) => [`${k}\x1ff`, [[10 * HOUR, 1]] as const]))),
        bucket: `${scope}|1h|${10 * HOUR}`,
      });
      // the device bucket is written first: a backend that claimed in its own order would take it first
      const r = await s.apply(
        request('a', '1', [inScope('device', ['d1', 'd2', 'd3']), inScope('product', ['p1', 'p2'])], {
          flush: ['product|', 'device|'],
          flushLimit: 3,
        }),
      );
      if (r.status !== 'applied') throw new Error(`not applied: ${r.status}`);
      expect(r.emissions.map((e) => e.bucket.split('|')[0])).toEqual(['product', 'product', 'device']);
      expect(r.moreToFlush).toBe('device|');
      const t = await s.tick({
        shardId: 'a',
        now: 2_000,
        policy,
        flush: ['product|', 'device|'],
        flushLimit: 2,
        session: 's',
        sequence: 1,
      });
      expect(t.emissions.map((e) => e.bucket.split('|')[0])).toEqual(['device', 'device']);
      expect(t.moreToFlush).toBeUndefined();
    });

    it('finalises a window once the global watermark passes end + lateness, and re-emits late updates', async () => {
      const s = await fresh();
      await s.apply(request('a', '1', [partial(10, { f: [[10 * HOUR, 1]] })], { flush: true }));
      const endPlus = 11 * HOUR + policy.allowedLatenessMs + policy.outOfOrdernessMs;
      // watermark one ms short of end + lateness: still open
      let r = await s.apply(request('a', '2', [partial(11, { f: [[endPlus - 1, 1]] })]));
      expect(r.status === 'applied' && r.emissions).toEqual([]);
      r = await s.apply(request('a', '3', [partial(11, { f: [[endPlus, 1]] })]));
      const finals = r.status === 'applied' ? r.emissions : [];
      expect(finals).toEqual([
        expect.objectContaining({ bucket: bucketAt(10), field: 'f', final: true, revision: 2 }),
      ]);
      expect((await s.readWindow(bucketAt(10), 'f'))?.final).toBe(true);
      // a late record within retention updates the final window; the next flush re-emits it
      r = await s.apply(request('a', '4', [partial(10, { f: [[10 * HOUR + 5, 9]] })], { flush: true }));
      const late = r.status === 'applied' ? byField(r.emissions) : {};
      expect(late[`${bucketAt(10)}#f`]).toMatchObject({
        final: true,
        revision: 3,
        stats: { count: 2, max: 9 },
      });
      expect(late[`${bucketAt(11)}#f`]).toMatchObject({ final: false, revision: 1 });
    });

    it('refuses partials past retention as a stale watermark, applying nothing', async () => {
      const s = await fresh();
      await s.apply(request('a', '1', [partial(10, { f: [[10 * HOUR, 1]] })]));
      const far = 11 * HOUR + policy.retentionMs + policy.outOfOrdernessMs;
      await s.apply(request('a', '2', [partial(12, { f: [[far, 1]] })]));
      expect(await s.readWindow(bucketAt(10), 'f')).toBeUndefined(); // expired
      const r = await s.apply(request('a', '3', [partial(10, { f: [[10 * HOUR, 1]] })]));
      expect(r).toEqual({ status: 'stale-watermark', globalWatermark: far - policy.outOfOrdernessMs });
      // nothing moved: the same position applies once reclassified
      const retry = await s.apply(request('a', '3', [partial(12, { f: [[far, 2]] })]));
      expect(retry.status).toBe('applied');
      expect((await s.readWindow(bucketAt(12), 'f'))?.stats.count).toBe(2);
    });

    it('emits exactly the windows due by end among many stored ones, each field once, and expires by end', async () => {
      const s = await fresh();
      const hours = Array.from({ length: 30 }, (_, i) => (i * 7) % 30); // every hour, out of order
      const fields = (h: number) => ({ f: [[h * HOUR, h]] as const, g: [[h * HOUR + 1, -h]] as const });
      // windows arrive before the watermark moves: the shard holds it back at zero
      let r = await s.apply(
        request(
          'a',
          '1',
          hours.map((h) => partial(h, fields(h))),
          { maxEventTime: 0 },
        ),
      );
      expect(r.status === 'applied' && r.emissions).toEqual([]);
      let sequence = 2;
      let emittedUpTo = 0; // hours below this were emitted final
      let previous = Number.NEGATIVE_INFINITY;
      let lateUpdates = 0;
      for (const k of [1, 2, 5, 6, 13, 20, 29]) {
        const watermark = k * HOUR + policy.allowedLatenessMs;
        // a late record for a window already final (within retention) and a window never seen that
        // is already due: both are claimed in the same step as the windows turning final now
        const lateHour = emittedUpTo - 1;
        const partials = [partial(k - 1, { late: [[(k - 1) * HOUR + 2, 1]] })].map((p) => ({
          ...p,
          bucket: `device|1h|${(k - 1) * HOUR}`,
        }));
        // within retention under the watermark before this step (the one the backend checks)
        if (lateHour >= 0 && (lateHour + 1) * HOUR + policy.retentionMs > previous)
          // `h` is a field the final window never had: its first emission is revision 1
          partials.push(partial(lateHour, { f: [[lateHour * HOUR + 3, 100]], h: [[lateHour * HOUR, 5]] }));
        r = await s.apply(
          request('a', String(sequence++), partials, {
            maxEventTime: watermark + policy.outOfOrdernessMs,
          }),
        );
        expect(r.status).toBe('applied');
        const got = r.status === 'applied' ? r.emissions : [];
        const expected: string[] = [];
        for (let h = emittedUpTo; h < k; h++) expected.push(`${bucketAt(h)}#f`, `${bucketAt(h)}#g`);
        expected.push(`device|1h|${(k - 1) * HOUR}#late`);
        if (partials.length > 1) expected.push(`${bucketAt(lateHour)}#f`, `${bucketAt(lateHour)}#h`);
        expect(got.map((e) => `${e.bucket}#${e.field}`).sort()).toEqual(expected.sort());
        expect(got.every((e) => e.final && e.windowEnd === Number(e.bucket.split('|')[2]) + HOUR)).toBe(true);
        const revisions = byField(got);
        if (partials.length > 1) {
          lateUpdates++;
          expect(revisions[`${bucketAt(lateHour)}#f`]).toMatchObject({ revision: 2, stats: { count: 2 } });
          expect(revisions[`${bucketAt(lateHour)}#h`]).toMatchObject({ revision: 1, stats: { count: 1 } });
        }
        expect(revisions[`${bucketAt(k - 1)}#g`]?.revision).toBe(1);
        // kept while end + retention is above the watermark, gone after
        for (let h = 0; h < 30; h++) {
          const kept = (h + 1) * HOUR + policy.retentionMs > watermark;
          expect((await s.readWindow(bucketAt(h), 'g')) !== undefined).toBe(kept);
        }
        emittedUpTo = k;
        previous = watermark;
      }
      expect(lateUpdates).toBe(6);
    });

    it('keeps the metrics of one key apart: each merges, flushes, finalises and takes late updates alone', async () => {
      const s = await fresh();
      // the operator's field names: key parts and the metric, joined by the unit separator
      const f = (device: string, metric: string) => `p\x1f${device}\x1f${metric}`;
      const points: Record<string, [number, number][]> = {};
      const send = async (
        sequenceNumber: string,
        fields: Record<string, [number, number][]>,
        flush = false,
      ) => {
        for (const [field, list] of Object.entries(fields))
          points[field] = [...(points[field] ?? []), ...list];
        const r = await s.apply(request('a', sequenceNumber, [partial(10, fields)], { flush }));
        expect(r.status).toBe('applied');
        return byField(r.status === 'applied' ? r.emissions : []);
      };
      const t = 10 * HOUR;
      let e = await send(
        '1',
        { [f('d1', 'm0')]: [[t, 1]], [f('d1', 'm1')]: [[t, 2]], x: [[t, 3]], 'q\x1f': [[t, 4]] },
        true,
      );
      expect(Object.values(e).map((x) => [x.field, x.revision])).toEqual(
        expect.arrayContaining([
          [f('d1', 'm0'), 1],
          [f('d1', 'm1'), 1],
          ['x', 1],
          ['q\x1f', 1],
        ]),
      );
      expect(Object.keys(e)).toHaveLength(4);
      // one metric of a key changes, the key gains a metric, another key appears
      e = await send(
        '2',
        { [f('d1', 'm1')]: [[t + 1, 5]], [f('d1', 'm2')]: [[t, 6]], [f('d2', 'm0')]: [[t, 7]] },
        true,
      );
      expect(Object.keys(e).sort()).toEqual(
        [f('d1', 'm1'), f('d1', 'm2'), f('d2', 'm0')].map((x) => `${bucketAt(10)}#${x}`).sort(),
      );
      expect(e[`${bucketAt(10)}#${f('d1', 'm1')}`]).toMatchObject({
        revision: 2,
        stats: { count: 2, last: 5 },
      });
      // metrics in another order than stored
      e = await send('3', { [f('d1', 'm2')]: [[t + 2, -1]], [f('d1', 'm0')]: [[t - 1, 8]] });
      expect(Object.keys(e)).toEqual([]);
      for (const [field, list] of Object.entries(points))
        expect((await s.readWindow(bucketAt(10), field))?.stats).toEqual(
          list.map((p) => statsOf([p])).reduce(mergeStats),
        );
      expect(await s.readWindow(bucketAt(10), f('d1', 'm9'))).toBeUndefined();
      expect(await s.readWindow(bucketAt(10), f('d9', 'm0'))).toBeUndefined();
      // final: every metric of every key, each revision one past its last emission
      const endPlus = 11 * HOUR + policy.allowedLatenessMs + policy.outOfOrdernessMs;
      const r = await s.apply(request('a', '4', [partial(12, { y: [[endPlus, 1]] })]));
      const finals = byField(r.status === 'applied' ? r.emissions : []);
      const revisionOf = (field: string) => finals[`${bucketAt(10)}#${field}`]?.revision;
      expect(Object.keys(finals)).toHaveLength(6);
      expect(Object.values(finals).every((x) => x.final)).toBe(true);
      expect(
        [f('d1', 'm0'), f('d1', 'm1'), f('d1', 'm2'), f('d2', 'm0'), 'x', 'q\x1f'].map(revisionOf),
      ).toEqual([2, 3, 2, 2, 2, 2]);
      // a late update to one metric and a metric the final key never had: only those are emitted
      e = await send('5', { [f('d1', 'm1')]: [[t + 3, 9]], [f('d1', 'm3')]: [[t, 10]] });
      expect(Object.keys(e).sort()).toEqual(
        [f('d1', 'm1'), f('d1', 'm3')].map((x) => `${bucketAt(10)}#${x}`).sort(),
      );
      expect(e[`${bucketAt(10)}#${f('d1', 'm1')}`]).toMatchObject({
        final: true,
        revision: 4,
        stats: { count: 3 },
      });
      expect(e[`${bucketAt(10)}#${f('d1', 'm3')}`]).toMatchObject({
        final: true,
        revision: 1,
        stats: { count: 1 },
      });
      expect(await s.readWindow(bucketAt(10), f('d1', 'm0'))).toMatchObject({ revision: 2, final: true });
      expect(await s.readWindow(bucketAt(10), f('d1', 'm3'))).toMatchObject({ revision: 1, final: true });
    });

    it('refuses a batch that straddles the applied position (overlap), changing nothing, and repeats what its applied part gave', async () => {
      const s = await fresh();
      const t = 10 * HOUR;
      await s.apply(
        request('a', '2', [partial(10, { f: [[t, 1]] })], { firstPosition: pos('1'), classifiedWith: 5 }),
      );
      const second = await s.apply(
        request('a', '4', [partial(10, { f: [[t + 1, 2]] })], {
          firstPosition: pos('3'),
          classifiedWith: 6,
          flush: true,
        }),
      );
      const claimed = second.status === 'applied' ? second.emissions : [];
      expect(claimed).toHaveLength(1);
      // records 3..6 read again in one page: 3 and 4 were applied by the batch at 4
      const overlap = await s.apply(
        request('a', '6', [partial(10, { f: [[t + 2, 100]] })], { firstPosition: pos('3'), flush: true }),
      );
      expect(overlap).toEqual({
        status: 'overlap',
        globalWatermark: t + 1 - policy.outOfOrdernessMs,
        applied: pos('4'),
        classified: [{ position: pos('4'), watermark: 6 }],
        emissions: claimed,
      });
      expect(await s.readWindow(bucketAt(10), 'f')).toMatchObject({
        revision: 1,
        stats: { count: 2, sum: 3 },
      });
      expect((await s.watermarks()).shards[0]?.position).toEqual(pos('4'));
      // from 2: both earlier batches applied part of it
      const wider = await s.apply(request('a', '6', [], { firstPosition: pos('2') }));
      expect(wider).toMatchObject({
        status: 'overlap',
        classified: [
          { position: pos('2'), watermark: 5 },
          { position: pos('4'), watermark: 6 },
        ],
      });
      // the part beyond the applied position, as a batch of its own
      const rest = await s.apply(
        request('a', '6', [partial(10, { f: [[t + 3, 4]] })], { firstPosition: pos('5'), flush: true }),
      );
      expect(rest.status).toBe('applied');
      expect(await s.readWindow(bucketAt(10), 'f')).toMatchObject({
        revision: 2,
        stats: { count: 3, sum: 7 },
      });
      // a duplicate cut differently (1..3): the batches at 2 and 4 applied it; their claims again
      const dup = await s.apply(request('a', '3', [], { firstPosition: pos('1') }));
      expect(dup).toEqual({
        status: 'duplicate',
        globalWatermark: expect.any(Number),
        classified: [
          { position: pos('2'), watermark: 5 },
          { position: pos('4'), watermark: 6 },
        ],
        emissions: claimed,
      });
    });

    it('the window operator counts batches cut differently once, in one call per batch unless they overlap', async () => {
      const backend = await fresh();
      let calls = 0;
      const counted = {
        ...backend,
        apply: (r: ApplyRequest) => {
          calls++;
          return backend.apply(r);
        },
      };
      const cfg = windowAggregateConfigSchema.parse({
        flushIntervalMs: 0,
        customerFlushIntervalMs: 0,
        deviceFlushIntervalMs: 0,
      });
      const clock = new ManualClock(Date.UTC(2026, 0, 5));
      const workers = [0, 1].map(() => windowAggregate(cfg, counted, { positionsFromRecords: true }));
      // Kinesis record n holds three readings (a KPL aggregate), a minute apart
      const T0 = clock.now();
      const kinesisRecord = (n: number) =>
        Array.from({ length: 3 }, (_, i) => {
          const r = enriched(`d${i}`, 'p', 'c', T0 + (n * 3 + i) * 60_000, { v: n * 10 + i });
          return { ...r, rawRef: { ...r.rawRef, sequenceNumber: String(1000 + n), subSequenceNumber: i } };
        });
      const deliver = async (worker: number, numbers: readonly number[]) => {
        const batch = numbers.flatMap(kinesisRecord);
        const out = await workers[worker]!.process(batch, {
          node: 'windows',
          shardId: 'shard-0',
          position: { sequenceNumber: String(1000 + numbers.at(-1)!), subSequenceNumber: 0 },
          clock,
          side: () => {},
        });
        await clock.advance(1_000);
        return out;
      };
      const out: WindowAggregate[] = [];
      const callsOf = async (worker: number, numbers: readonly number[]) => {
        const before = calls;
        const got = await deliver(worker, numbers);
        out.push(...got);
        return { calls: calls - before, got };
      };
      // first owner: [1 2] [3 4]; it dies after applying both, its checkpoint at 2; the new owner
      // reads [3 4 5] [6 7]; a stolen lease: the old owner's in-flight [5 6 7] lands afterwards
      expect((await callsOf(0, [1, 2])).calls).toBe(1);
      const second = await callsOf(0, [3, 4]);
      expect(second.calls).toBe(1);
      const overlap = await callsOf(1, [3, 4, 5]);
      expect(overlap.calls).toBe(2);
      // the claims of the applied part (3, 4) come again, then the new part's
      expect(overlap.got.slice(0, second.got.length)).toEqual(second.got);
      expect((await callsOf(1, [6, 7])).calls).toBe(1);
      expect((await callsOf(0, [5, 6, 7])).calls).toBe(1);
      expect((await callsOf(1, [8])).calls).toBe(1);
      const close = {
        ...enriched('close', 'close', null, T0 + 30 * 86_400_000, {}),
        rawRef: kinesisRecord(99)[0]!.rawRef,
      };
      out.push(
        ...(await workers[1]!.process([close], {
          node: 'windows',
          shardId: 'shard-0',
          position: { sequenceNumber: '1099', subSequenceNumber: 0 },
          clock,
          side: () => {},
        })),
      );
      const records = [1, 2, 3, 4, 5, 6, 7, 8].flatMap(kinesisRecord);
      expect(compareAggregates(latestAggregates(out), referenceAggregates(records, cfg.windows))).toEqual([]);
    });

    it('ticks an idle shard: finals once the idle timeout lets the watermark pass, its activity untouched', async () => {
      const s = await fresh();
      const tick = (now: number, over: Partial<TickRequest> = {}) =>
        s.tick({ shardId: 'a', now, policy, flush: false, session: 's1', sequence: 1, ...over });
      await s.apply(request('a', '1', [partial(10, { f: [[10 * HOUR, 1]] })], { now: 0 }));
      await s.apply(request('b', '1', [partial(11, { g: [[11 * HOUR + 30 * 60_000, 1]] })], { now: 20_000 }));
      // a holds the watermark back while it is active
      let r = await tick(25_000);
      expect(r).toEqual({ globalWatermark: 10 * HOUR - policy.outOfOrdernessMs, emissions: [] });
      r = await tick(policy.idleTimeoutMs + 1, { sequence: 2 });
      expect(r.globalWatermark).toBe(11 * HOUR + 30 * 60_000 - policy.outOfOrdernessMs);
      expect(r.emissions).toEqual([
        expect.objectContaining({ bucket: bucketAt(10), field: 'f', final: true, revision: 1 }),
      ]);
      expect((await s.readWindow(bucketAt(10), 'f'))?.final).toBe(true);
      // ticks do not count as activity: a's stays at its last batch
      const w = await s.watermarks();
      expect(w.shards.find((x) => x.shardId === 'a')).toMatchObject({ activeAt: 0, position: pos('1') });
      // a shard that never applied may tick too
      const other = await s.tick({
        shardId: 'z',
        now: 40_000,
        policy,
        flush: false,
        session: 'z',
        sequence: 1,
      });
      expect(other).toEqual({
        globalWatermark: 11 * HOUR + 30 * 60_000 - policy.outOfOrdernessMs,
        emissions: [],
      });
    });

    it('ticks flush running values, once each', async () => {
      const s = await fresh();
      await s.apply(request('a', '1', [partial(10, { f: [[10 * HOUR, 1]], g: [[10 * HOUR, 2]] })]));
      const tick = (sequence: number) =>
        s.tick({ shardId: 'a', now: 2_000, policy, flush: true, session: 's', sequence });
      let r = await tick(1);
      expect(r.emissions.map((e) => [e.field, e.revision, e.final]).sort()).toEqual([
        ['f', 1, false],
        ['g', 1, false],
      ]);
      r = await tick(2);
      expect(r.emissions).toEqual([]);
      await s.apply(request('a', '2', [partial(10, { f: [[10 * HOUR + 1, 3]] })]));
      r = await tick(3);
      expect(r.emissions).toEqual([
        expect.objectContaining({
          field: 'f',
          revision: 2,
          final: false,
          stats: expect.objectContaining({ count: 2 }),
        }),
      ]);
    });

    it("keeps a tick's finals pending until surely delivered: a retry, another session or the next batch repeats them", async () => {
      const s = await fresh();
      const M = 60_000;
      await s.apply(request('a', '1', [partial(10, { f: [[10 * HOUR, 1]] })], { now: 0 }));
      await s.apply(request('b', '1', [partial(11, { g: [[11 * HOUR + 30 * M, 1]] })], { now: 20_000 }));
      const now = policy.idleTimeoutMs + 1;
      const tick = (session: string, sequence: number, at = now) =>
        s.tick({ shardId: 'a', now: at, policy, flush: false, session, sequence });
      const first = await tick('s1', 1);
      expect(first.emissions.map((e) => [e.bucket, e.final])).toEqual([[bucketAt(10), true]]);
      // the reply was lost and the tick retried: the same finals again
      expect((await tick('s1', 1)).emissions).toEqual(first.emissions);
      // the worker died before its sinks wrote them: the shard's next owner ticks (another session)
      expect((await tick('s2', 1)).emissions).toEqual(first.emissions);
      // the next tick of that session follows a delivered one: nothing pending
      expect((await tick('s2', 2)).emissions).toEqual([]);
      // c holds the watermark back while b goes on; once c is idle a tick claims window 11
      const n = now + 1_000;
      await s.apply(request('c', '1', [partial(11, { h: [[11 * HOUR + 20 * M, 1]] })], { now: n }));
      await s.apply(request('b', '2', [partial(12, { g: [[12 * HOUR + 40 * M, 1]] })], { now: n }));
      await s.apply(request('b', '3', [partial(12, { g: [[12 * HOUR + 40 * M, 2]] })], { now: n + 20_000 }));
      const later = n + policy.idleTimeoutMs + 1;
      const more = await tick('s2', 3, later);
      expect(more.emissions.map((e) => [e.bucket, e.field, e.final]).sort()).toEqual([
        [bucketAt(11), 'g', true],
        [bucketAt(11), 'h', true],
      ]);
      // a batch of the shard: it returns them again and keeps them in its claim
      const f12 = () => request('a', '2', [partial(12, { f: [[12 * HOUR, 5]] })], { now: later + 1 });
      const batch = await s.apply(f12());
      expect(batch.status === 'applied' && batch.emissions).toEqual(more.emissions);
      const again = await s.apply(f12());
      expect(again.status === 'duplicate' && again.emissions).toEqual(more.emissions);
      // kept by the claim now, no longer pending
      expect((await tick('s3', 1, later + 2)).emissions).toEqual([]);
    });

    it('ticks past retention delete expired windows and repeat nothing harmful', async () => {
      const s = await fresh();
      await s.apply(request('a', '1', [partial(10, { f: [[10 * HOUR, 1]] })], { now: 0, flush: true }));
      const far = 11 * HOUR + policy.retentionMs + policy.outOfOrdernessMs;
      await s.apply(request('b', '1', [partial(12, { g: [[far, 1]] })], { now: 20_000 }));
      const tick = (sequence: number) =>
        s.tick({ shardId: 'a', now: policy.idleTimeoutMs + 1, policy, flush: true, session: 's', sequence });
      const r = await tick(1);
      // window 10 turned final and past retention in one step: emitted once, then deleted
      expect(r.emissions.filter((e) => e.bucket === bucketAt(10))).toEqual([
        expect.objectContaining({ field: 'f', final: true, revision: 2 }),
      ]);
      expect(await s.readWindow(bucketAt(10), 'f')).toBeUndefined();
      expect((await tick(2)).emissions).toEqual([]);
      expect((await tick(3)).emissions).toEqual([]);
      // a late record for it is refused as before; one for a kept window applies
      const late = await s.apply(request('a', '2', [partial(10, { f: [[10 * HOUR, 1]] })], { now: 40_000 }));
      expect(late.status).toBe('stale-watermark');
      const kept = await s.apply(request('a', '2', [partial(12, { f: [[far - 1, 1]] })], { now: 40_000 }));
      expect(kept.status).toBe('applied');
    });

    it('re-reads the claim of a redelivered batch without bumping revisions', async () => {
      const s = await fresh();
      const first = await s.apply(request('a', '7', [partial(10, { f: [[10 * HOUR, 1]] })], { flush: true }));
      const again = await s.apply(request('a', '7', [partial(10, { f: [[10 * HOUR, 1]] })], { flush: true }));
      expect(again.status).toBe('duplicate');
      expect(again.status === 'duplicate' && again.emissions).toEqual(
        first.status === 'applied' ? first.emissions : 'not applied',
      );
      expect((await s.readWindow(bucketAt(10), 'f'))?.revision).toBe(1);
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// The window operator's reference workload and brute-force aggregates, shared by its unit test
// (embedded backend, test driver) and its integration test (Redis, two workers, a worker lost).

/** A telemetry record with its master data, as the window operator reads it. */
export function enriched(
  device: string,
  productId: string,
  customer: string | null,
  t: number,
  metrics: Enriched['metrics'],
  shardId = 'shard-0',
): Enriched {
  return {
    device_id: device,
    device_timestamp: t,
    productId,
    metrics,
    ingest_timestamp: t,
    rawRef: { protocol: 'mqtt', format: 'json', stream: 'telemetry', shardId, sequenceNumber: '0' },
    site_id: null,
    customer_id: customer,
  };
}

/** A generated fleet's records per shard, in arrival order (event times out of order). */
export function windowWorkload(options: {
  readonly seed: number;
  readonly devices: number;
  readonly products: number;
  readonly metrics: number;
  readonly shards: number;
  readonly records: number;
  readonly spanMs: number;
  readonly start: number;
  readonly outOfOrderMs: number;
  /** Share of records delayed far beyond the lateness. */
  readonly lateShare: number;
  readonly lateByMs: number;
}): Enriched[][] {
  let state = options.seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const perShard: Enriched[][] = Array.from({ length: options.shards }, () => []);
  for (let i = 0; i < options.records; i++) {
    const device = Math.floor(random() * options.devices);
    const progress = options.start + (i / options.records) * options.spanMs;
    let t = Math.round(progress - random() * options.outOfOrderMs);
    if (random() < options.lateShare) t -= options.lateByMs;
    const metrics: Record<string, number | string | boolean | null> = {};
    for (let m = 0; m < options.metrics; m++) metrics[`m${m}`] = Math.round((random() - 0.3) * 1e6) / 100;
    metrics.state = 'ok';
    metrics.alarm = random() < 0.5;
    metrics.missing = null;
    perShard[device % options.shards]!.push(
      enriched(
        `dev-${device}`,
        `prod-${device % options.products}`,
        device % 7 === 0 ? null : `cust-${device % 13}`,
        t,
        metrics,
        `shard-${device % options.shards}`,
      ),
    );
  }
  return perShard;
}

/** The identity of one window of one key and metric, as a string. */
export function aggregateKey(a: Omit<WindowAggregate, 'stats' | 'revision' | 'final' | 'windowEnd'>): string {
  const key = a.scope === 'device' ? a.deviceId : a.scope === 'customer-product' ? String(a.customerId) : '';
  return `${a.scope}|${a.window}|${a.windowStart}|${a.productId}|${key}|${a.metric}`;
}

/** Aggregates computed by brute force: every record's every numeric metric into every window. */
export function referenceAggregates(
  records: readonly Enriched[],
  windows: readonly WindowSize[],
  zone = 'UTC',
): Map<string, MetricStats> {
  const assign = windowAssigner(zone);
  const points = new Map<string, [number, number][]>();
  const slices: [AggregateScope, WindowSize][] = [
    ...windows.map((w): [AggregateScope, WindowSize] => ['product', w]),
    ...windows.map((w): [AggregateScope, WindowSize] => ['device', w]),
    ['customer-product', '1d'],
  ];
  for (const r of records) {
    for (const [scope, size] of slices) {
      const { start } = assign(r.device_timestamp, size);
      for (const [metric, value] of Object.entries(r.metrics)) {
        if (typeof value !== 'number') continue;
        const key = aggregateKey({
          scope,
          window: size,
          windowStart: start,
          productId: r.productId,
          deviceId: r.device_id,
          customerId: r.customer_id,
          metric,
        });
        const list = points.get(key) ?? [];
        list.push([r.device_timestamp, value]);
        points.set(key, list);
      }
    }
  }
  return new Map([...points].map(([k, p]) => [k, statsOf(p)]));
}

/** The highest revision of every window emitted. */
export function latestAggregates(emitted: readonly WindowAggregate[]): Map<string, WindowAggregate> {
  const latest = new Map<string, WindowAggregate>();
  for (const a of emitted) {
    const key = aggregateKey(a);
    const seen = latest.get(key);
    if (seen === undefined || a.revision > seen.revision) latest.set(key, a);
  }
  return latest;
}

const close = (a: number, b: number, scale: number) =>
  Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(b), scale, 1e-300);

/**
 * True when a stored or emitted window equals the brute force's statistics: final; count, min, max,
 * first and last exact; sum, mean and variance within 1e-9 relative (to the window's magnitude).
 */
export function matchesReference(
  got: { readonly final: boolean; readonly stats: MetricStats },
  want: MetricStats,
) {
  const s = got.stats;
  const scale = Math.max(Math.abs(want.max), Math.abs(want.min));
  return (
    got.final &&
    s.count === want.count &&
    s.min === want.min &&
    s.max === want.max &&
    s.first === want.first &&
    s.firstAt === want.firstAt &&
    s.last === want.last &&
    s.lastAt === want.lastAt &&
    close(s.sum, want.sum, scale * want.count) &&
    close(s.mean, want.mean, scale) &&
    close(s.m2 / s.count, want.m2 / want.count, scale * scale)
  );
}

/** Checks emitted final aggregates against the brute force, window by window; returns the mismatches. */
export function compareAggregates(
  latest: ReadonlyMap<string, WindowAggregate>,
  expected: ReadonlyMap<string, MetricStats>,
): string[] {
  const problems: string[] = [];
  for (const [key, want] of expected) {
    const got = latest.get(key);
    if (got === undefined) {
      problems.push(`${key}: not emitted`);
      continue;
    }
    const ok = matchesReference(got, want);
    if (!ok) problems.push(`${key}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
  }
  for (const key of latest.keys()) if (!expected.has(key)) problems.push(`${key}: emitted but not expected`);
  return problems;
}

/** Runs one batch through a window operator outside a topology, as a worker of the given shard would. */
export async function feed(
  operator: Operator<Enriched, WindowAggregate, { late: Enriched }>,
  shardId: string,
  sequenceNumber: number,
  records: readonly Enriched[],
  clock: Clock,
  late: Enriched[],
): Promise<readonly WindowAggregate[]> {
  return operator.process(records, {
    node: 'windows',
    shardId,
    position: { sequenceNumber: String(sequenceNumber), subSequenceNumber: 0 },
    clock,
    side: (_port, record) => late.push(record),
  });
}
