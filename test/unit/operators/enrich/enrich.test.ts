import { describe, expect, it } from 'vitest';
import {
  type DeviceDirectory,
  type DeviceInvalidation,
  type DevicePlacement,
  memoryDeviceDirectory,
} from '../../../../operators/enrich/directory.ts';
import { LruTtlCache } from '../../../../operators/enrich/lruCache.ts';
import { enrich, enrichConfigSchema } from '../../../../operators/enrich.ts';
import {
  type DeadLetter,
  type Enriched,
  flushMicrotasks,
  ManualClock,
  type OperatorContext,
} from '../../../../topology/index.ts';
import { reading } from '../../../support/records.ts';

const T0 = Date.UTC(2026, 10, 3, 0, 0, 0);
const HOUR = 3_600_000;

function harness(clock = new ManualClock(T0)) {
  const dead: DeadLetter[] = [];
  const ctx: OperatorContext<{ dlq: DeadLetter }> = {
    node: 'enrich',
    shardId: 's0',
    position: { sequenceNumber: '1', subSequenceNumber: 0 },
    clock,
    side: (_p, d) => void dead.push(d),
  };
  return { ctx, dead, clock };
}

/** A feed the test publishes to by hand (the real one is PostgreSQL NOTIFY, tested in integration). */
function manualFeed() {
  const listeners = new Set<(d: DeviceInvalidation) => void>();
  return {
    subscribe: (l: (d: DeviceInvalidation) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    publish: (d: DeviceInvalidation) => {
      for (const l of listeners) l(d);
    },
  };
}

// d1 was at site A (customer X) until noon, then at site B (customer Y); B had no customer before 06:00
const placements = new Map<string, DevicePlacement[]>([
  [
    'd1',
    [
      { from: T0, to: T0 + 12 * HOUR, siteId: 'A', customerId: 'X' },
      { from: T0 + 12 * HOUR, to: Number.POSITIVE_INFINITY, siteId: 'B', customerId: 'Y' },
    ],
  ],
  ['d2', [{ from: T0, to: Number.POSITIVE_INFINITY, siteId: 'A', customerId: 'X' }]],
  ['d3', []],
]);

const config = (over: Record<string, unknown> = {}) => enrichConfigSchema.parse(over);

describe('enrich', () => {
  it('resolves site and customer at the event time, one lookup per batch for the missing devices', async () => {
    const directory = memoryDeviceDirectory(placements);
    const op = enrich(config(), directory);
    const { ctx } = harness();
    const out = (await op.process(
      [
        reading('d1', T0 + 8 * HOUR),
        reading('d1', T0 + 16 * HOUR),
        reading('d2', T0 + 1),
        reading('d3', T0 + 1),
        reading('d1', T0 - 1),
      ],
      ctx,
    )) as Enriched[];
    expect(out.map((r) => [r.site_id, r.customer_id])).toEqual([
      ['A', 'X'],
      ['B', 'Y'],
      ['A', 'X'],
      [null, null], // known, but at no site
      [null, null], // before its first placement
    ]);
    expect(directory.roundTrips).toBe(1);
    await op.process([reading('d1', T0 + 13 * HOUR), reading('d2', T0)], ctx);
    expect(directory.roundTrips).toBe(1);
    expect(op.stats()).toMatchObject({
      records: 7,
      cacheHits: 2,
      cacheMisses: 5,
      lookups: 1,
      unknownRecords: 0,
    });
  });

  it('looks a device up again after its TTL', async () => {
    const directory = memoryDeviceDirectory(placements);
    const op = enrich(config({ ttlMs: 1000 }), directory);
    const { ctx, clock } = harness();
    await op.process([reading('d2', T0)], ctx);
    await clock.advance(999);
    await op.process([reading('d2', T0)], ctx);
    expect(directory.roundTrips).toBe(1);
    await clock.advance(1);
    await op.process([reading('d2', T0)], ctx);
    expect(directory.roundTrips).toBe(2);
  });

  it('drops invalidated devices, and does not cache an answer that raced an invalidation', async () => {
    const current = new Map(placements);
    const feed = manualFeed();
    let release: (() => void) | undefined;
    let calls = 0;
    const slow: DeviceDirectory = {
      lookup: async (ids) => {
        calls++;
        const answer = new Map(
          ids.flatMap((id) => (current.has(id) ? [[id, current.get(id)!] as const] : [])),
        );
        if (release === undefined) await new Promise<void>((r) => (release = r));
        return answer;
      },
    };
    const op = enrich(config(), slow, feed);
    await op.open?.({ node: 'enrich', clock: new ManualClock(T0), signal: new AbortController().signal });
    const { ctx } = harness();
    const first = op.process([reading('d2', T0 + 1)], ctx);
    await flushMicrotasks();
    // d2 moves while the first lookup is in flight
    current.set('d2', [{ from: T0, to: Number.POSITIVE_INFINITY, siteId: 'C', customerId: 'Z' }]);
    feed.publish(['d2']);
    release!();
    expect(((await first) as Enriched[])[0]!.site_id).toBe('A');
    const second = (await op.process([reading('d2', T0 + 1)], ctx)) as Enriched[];
    expect(second[0]!.site_id).toBe('C');
    expect(calls).toBe(2);
    // an invalidation of a cached device makes the next batch look it up
    feed.publish(['d2']);
    await op.process([reading('d2', T0 + 1)], ctx);
    expect(calls).toBe(3);
    feed.publish('all');
    await op.process([reading('d2', T0 + 1)], ctx);
    expect(calls).toBe(4);
    await op.close?.();
    feed.publish(['d2']);
    await op.process([reading('d2', T0 + 1)], ctx);
    expect(calls).toBe(4);
  });

  it('unknown devices: pass with null ids and counted, remembered for unknownTtlMs', async () => {
    const directory = memoryDeviceDirectory(placements);
    const op = enrich(config({ unknownDevice: 'pass', unknownTtlMs: 500 }), directory);
    const { ctx, clock, dead } = harness();
    const out = (await op.process(
      [reading('ghost', T0), reading('ghost', T0 + 1), reading('d2', T0)],
      ctx,
    )) as Enriched[];
    expect(out.map((r) => r.customer_id)).toEqual([null, null, 'X']);
    expect(dead).toEqual([]);
    await op.process([reading('ghost', T0)], ctx);
    expect(directory.roundTrips).toBe(1);
    await clock.advance(500);
    await op.process([reading('ghost', T0)], ctx);
    expect(directory.roundTrips).toBe(2);
    expect(op.stats().unknownRecords).toBe(4);
  });

  it('unknown devices: dead-letter', async () => {
    const op = enrich(config({ unknownDevice: 'dead-letter' }), memoryDeviceDirectory(placements));
    const { ctx, dead } = harness();
    const out = (await op.process([reading('ghost', T0, 41), reading('d2', T0, 42)], ctx)) as Enriched[];
    expect(out.map((r) => r.device_id)).toEqual(['d2']);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      code: 'unknown-device',
      sequenceNumber: '41',
      stream: 'telemetry',
      node: 'enrich',
    });
    expect(JSON.parse(Buffer.from(dead[0]!.payloadBase64, 'base64').toString()).device_id).toBe('ghost');
    expect(op.stats()).toMatchObject({ unknownRecords: 1, deadLettered: 1 });
  });

  it('unknown devices: hold retries until the device appears, or passes after holdMs', async () => {
    const known = new Map(placements);
    const directory = memoryDeviceDirectory(known);
    const op = enrich(config({ unknownDevice: 'hold', holdMs: 2000, retryIntervalMs: 500 }), directory);
    const { ctx, clock } = harness();
    let heldDone = false;
    const held = Promise.resolve(op.process([reading('late', T0), reading('d2', T0)], ctx)).then((out) => {
      heldDone = true;
      return out as Enriched[];
    });
    await clock.advance(500);
    await clock.advance(500);
    expect(heldDone).toBe(false);
    known.set('late', [{ from: T0, to: Number.POSITIVE_INFINITY, siteId: 'L', customerId: 'Q' }]);
    await clock.advance(500);
    expect((await held).map((r) => r.customer_id)).toEqual(['Q', 'X']);
    expect(directory.roundTrips).toBeGreaterThanOrEqual(3);

    let settled = false;
    const never = Promise.resolve(op.process([reading('ghost', T0)], ctx)).then((out) => {
      settled = true;
      return out as Enriched[];
    });
    await clock.advance(1500);
    expect(settled).toBe(false);
    await clock.advance(500);
    expect((await never)[0]!.customer_id).toBeNull();
    expect(op.stats()).toMatchObject({ heldBatches: 2, unknownRecords: 1 });
  });
});

describe('LruTtlCache', () => {
  it('evicts the least recently used beyond capacity and expires entries', () => {
    const cache = new LruTtlCache<number>(10);
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, i, 100);
    expect(cache.get('k0', 0)).toBe(0); // k0 is now the most recently used
    cache.set('k10', 10, 100);
    // past capacity, down to 90 %: the two least recently used (k1, k2) go
    expect(cache.size).toBe(9);
    expect(cache.evictions).toBe(2);
    expect(cache.get('k1', 0)).toBeUndefined();
    expect(cache.get('k2', 0)).toBeUndefined();
    expect(cache.get('k0', 0)).toBe(0);
    expect(cache.get('k10', 0)).toBe(10);
    expect(cache.get('k0', 100)).toBeUndefined();
    expect(cache.size).toBe(8);
  });
});
