/**
 * The benchmark's workload generator: deterministic from its seed, the fleet it declares, the
 * fractions it promises, and payloads that the example specs' compiled decoders accept (or, for the
 * malformed share, refuse as whole records).
 */
import { describe, expect, it } from 'vitest';
import { workloadNamed } from '../../../bench/workloads/catalog.ts';
import { FORMAT_OF, WORKLOAD_PRODUCTS } from '../../../bench/workloads/payloads.ts';
import { dueBy, type RateProfile, rateAt, scaleProfile } from '../../../bench/workloads/profiles.ts';
import { createGenerator, type Workload, workloadSchema } from '../../../bench/workloads/workload.ts';
import { SpecRegistry } from '../../../operators/decode/registry.ts';
import { decodeBySpec } from '../../../operators/decodeBySpec.ts';
import { type DeadLetter, ManualClock } from '../../../topology/index.ts';
import { rawRecord } from '../../support/records.ts';

const NOW = Date.UTC(2026, 10, 22, 9, 31, 0);
const specs = new SpecRegistry('specs/examples');
specs.load();

function workload(overrides: Partial<Workload> = {}): Workload {
  return { ...workloadNamed('smoke'), ...overrides };
}

async function decodeAll(envelopes: ReturnType<ReturnType<typeof createGenerator>['batch']>) {
  const records = envelopes.map((g, i) =>
    rawRecord(JSON.stringify(g.envelope), {
      stream: 'bench',
      sequenceNumber: String(i + 1),
      partitionKey: g.partitionKey,
      arrivedAt: NOW,
    }),
  );
  const dead: DeadLetter[] = [];
  const telemetry = await decodeBySpec(specs).process(records, {
    node: 'decode',
    shardId: 'shardId-000000000000',
    position: { sequenceNumber: String(records.length), subSequenceNumber: 0 },
    clock: new ManualClock(NOW),
    side: (_port, d) => dead.push(d),
  });
  return { telemetry, dead };
}

describe('benchmark workload generator', () => {
  it('gives the same records for the same seed and others for another seed', () => {
    const a = createGenerator(workload()).batch(NOW, 300);
    const b = createGenerator(workload()).batch(NOW, 300);
    const c = createGenerator(workload({ seed: 2 })).batch(NOW, 300);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('builds exactly the fleet asked for: every product, hubs with children at the hub’s site', () => {
    const g = createGenerator(workload({ devices: 1003 }));
    expect(g.fleet.devices).toHaveLength(1003);
    expect(new Set(g.fleet.devices.map((d) => d.productId))).toEqual(new Set(WORKLOAD_PRODUCTS));
    const hubs = g.fleet.senders.filter((s) => s.product === 'hub-j4');
    expect(hubs.length).toBeGreaterThan(0);
    for (const hub of hubs) {
      const children = g.fleet.devices.filter((d) => d.hubId === hub.deviceId);
      expect(children.map((c) => c.deviceId)).toEqual(hub.children);
      expect(new Set(children.map((c) => c.siteId)).size).toBe(1);
    }
    expect(new Set(g.fleet.devices.map((d) => d.deviceId)).size).toBe(1003);
  });

  it('keeps the out-of-order, late and malformed fractions it is given', () => {
    const g = createGenerator(
      workload({ outOfOrderFraction: 0.2, lateFraction: 0.05, malformedFraction: 0.1 }),
    );
    const out = g.batch(NOW, 20_000);
    const share = (f: (x: (typeof out)[number]) => boolean) => out.filter(f).length / out.length;
    expect(share((x) => x.timing === 'out-of-order')).toBeCloseTo(0.2, 1);
    expect(share((x) => x.timing === 'late')).toBeCloseTo(0.05, 1);
    expect(share((x) => x.malformed)).toBeCloseTo(0.1, 1);
    expect(g.counts.envelopes).toBe(20_000);
    expect(g.counts.malformed).toBe(out.filter((x) => x.malformed).length);
  });

  it('writes payloads every example spec decodes, and malformed ones it refuses whole', async () => {
    const g = createGenerator(workload({ malformedFraction: 0.1, lateFraction: 0.05 }));
    const out = g.batch(NOW, 3000);
    const { telemetry, dead } = await decodeAll(out);
    expect(telemetry).toHaveLength(g.counts.telemetry);
    expect(dead).toHaveLength(g.counts.malformed);
    const products = new Set(telemetry.map((t) => t.productId));
    expect(products).toEqual(new Set(WORKLOAD_PRODUCTS));
    expect(new Set(dead.map((d) => d.specId))).toEqual(new Set(WORKLOAD_PRODUCTS));
    expect(new Set(Object.values(FORMAT_OF))).toEqual(
      new Set(['json', 'hex', 'kv', 'hybrid', 'json-hub', 'csv']),
    );
    // hub children come with their hub; event times are what the generator chose
    const child = telemetry.find((t) => t.productId === 'hub-j4')!;
    expect(child.hub_id).toMatch(/^hub-/);
    const late = out.filter((x) => x.timing === 'late' && !x.malformed).length;
    expect(late).toBeGreaterThan(0);
    expect(telemetry.some((t) => NOW - t.device_timestamp > 600_000)).toBe(true);
  });

  it('emits master-data churn as DMS change records at the configured rate', () => {
    const g = createGenerator(workload({ devices: 3600, churnPerHour: 0.5 }));
    expect(g.changes(NOW)).toEqual([]);
    const changes = g.changes(NOW + 10_000); // 3600 × 0.5 per hour = 0.5 per second
    expect(changes).toHaveLength(5);
    expect(changes[0]!.metadata).toMatchObject({ operation: 'update', 'table-name': 'device' });
    // the fleet's master data follows its own churn: a moved device is where its last change put it
    const moved = g.fleet.devices.find((d) => d.deviceId === changes[0]!.data.device_id)!;
    const last = changes.filter((c) => c.data.device_id === moved.deviceId).at(-1)!;
    expect([moved.customerId, moved.siteId]).toEqual([last.data.customer_id, last.data.site_id]);
  });

  it('names fleet-100k with 100,000 devices and refuses a bad workload naming the key', () => {
    expect(workloadNamed('fleet-100k').devices).toBe(100_000);
    expect(() => workloadNamed('nope')).toThrow(/known: .*fleet-100k/);
    const bad = workloadSchema.safeParse({ ...workloadNamed('smoke'), malformedFraction: 2 });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['malformedFraction']);
  });
});

describe('rate profiles', () => {
  const profiles: RateProfile[] = [
    { kind: 'steady', rate: 5000 },
    { kind: 'ramp', from: 1000, to: 10_000, overSeconds: 60 },
    { kind: 'burst', rate: 5000, peak: 20_000, everySeconds: 30, burstSeconds: 5 },
  ];

  it.each(profiles)('$kind: records due are the integral of the rate', (p) => {
    let sum = 0;
    const dt = 0.01;
    for (let t = 0; t < 100; t += dt) sum += rateAt(p, t + dt / 2) * dt;
    expect(dueBy(p, 100) / sum).toBeCloseTo(1, 2);
  });

  it('scales a profile to a base rate, keeping its shape', () => {
    expect(scaleProfile(profiles[2]!, 1000)).toMatchObject({ rate: 1000, peak: 4000 });
    expect(scaleProfile(profiles[1]!, 5000)).toMatchObject({ from: 500, to: 5000 });
  });
});
