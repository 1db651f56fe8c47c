/**
 * The conformance suite every window state backend runs (embedded: a unit test; Redis: an integration
 * test). `make` returns a fresh, opened backend with empty state for each test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mergeStats } from '../../state/mergeStats.ts';
import type {
  ApplyRequest,
  BucketPartial,
  Emission,
  WatermarkPolicy,
  WindowStateBackend,
} from '../../state/windowState.ts';
import type { MetricStats } from '../../topology/index.ts';

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
    });

    it('ignores a batch at or below the shard position (decimal order by length) and reports its classification', async () => {
      const s = await fresh();
      const p = partial(10, { f: [[10 * HOUR, 1]] });
      await s.apply(request('shard-1', '99', [p], { classifiedWith: 5 }));
      await s.apply(request('shard-1', '100', [p], { classifiedWith: 7 }));
      const replay = await s.apply(request('shard-1', '99', [p]));
      expect(replay).toMatchObject({ status: 'duplicate', classifiedWith: 5 });
      const again = await s.apply(request('shard-1', '100', [p]));
      expect(again).toMatchObject({ status: 'duplicate', classifiedWith: 7 });
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
