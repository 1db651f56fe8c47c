import { describe, expect, it } from 'vitest';
import { mulberry32, SIMULATED_PRODUCTS, simulatedFleet } from '../../../gateways/simulator/fleet.ts';

const NOW = Date.UTC(2025, 0, 1, 12);

describe('simulated fleet', () => {
  it('produces the same envelopes from the same seed, and others from another seed', () => {
    const a = simulatedFleet({ devices: 20, seed: 42 }).batch(NOW, 100);
    const b = simulatedFleet({ devices: 20, seed: 42 }).batch(NOW, 100);
    const c = simulatedFleet({ devices: 20, seed: 43 }).batch(NOW, 100);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(mulberry32(7)()).toBe(mulberry32(7)());
  });

  it('writes MQTT ingest envelopes with a device payload per reading', () => {
    const fleet = simulatedFleet({ devices: 9, seed: 1 });
    const envelopes = fleet.batch(NOW, 18);
    for (const [i, envelope] of envelopes.entries()) {
      const device = fleet.devices[i % 9]!;
      expect(envelope).toMatchObject({
        v: 1,
        protocol: 'mqtt',
        topic: `devices/${device.deviceId}/telemetry`,
        receivedAt: NOW,
        productId: device.productId,
        encoding: 'utf8',
      });
      const payload = JSON.parse(envelope.payload);
      expect(payload.device_id).toBe(device.deviceId);
      expect(payload.ts).toBeLessThanOrEqual(NOW);
      expect(payload.ts).toBeGreaterThan(NOW - 2000);
      const product = SIMULATED_PRODUCTS.find((p) => p.productId === device.productId)!;
      expect(Object.keys(payload.metrics).sort()).toEqual(product.metrics.map((m) => m.name).sort());
      for (const value of Object.values(payload.metrics)) expect(Number.isFinite(value)).toBe(true);
    }
  });

  it('spreads devices over products and customers, with plausible values', () => {
    const fleet = simulatedFleet({ devices: 300, seed: 5, customers: 4 });
    const products = new Set(fleet.devices.map((d) => d.productId));
    const customers = new Set(fleet.devices.map((d) => d.customerId));
    expect([...products].sort()).toEqual(['air-a3', 'meter-m2', 'thermo-t1']);
    expect(customers.size).toBe(4);
    const readings = fleet.batch(NOW, 3000).map((e) => JSON.parse(e.payload).metrics);
    const temperatures = readings.flatMap((m) => (m.temperature === undefined ? [] : [m.temperature]));
    expect(Math.min(...temperatures)).toBeGreaterThan(10);
    expect(Math.max(...temperatures)).toBeLessThan(32);
  });

  it('makes roughly the asked share of payloads malformed: invalid JSON or no device_id', () => {
    const fleet = simulatedFleet({ devices: 50, seed: 9, malformedFraction: 0.1 });
    let invalidJson = 0;
    let missingId = 0;
    for (const envelope of fleet.batch(NOW, 10_000)) {
      try {
        if (JSON.parse(envelope.payload).device_id === undefined) missingId++;
      } catch {
        invalidJson++;
      }
    }
    expect(invalidJson + missingId).toBeGreaterThan(850);
    expect(invalidJson + missingId).toBeLessThan(1150);
    expect(invalidJson).toBeGreaterThan(300);
    expect(missingId).toBeGreaterThan(300);
  });

  it('makes no malformed payloads by default', () => {
    const envelopes = simulatedFleet({ devices: 10, seed: 3 }).batch(NOW, 2000);
    for (const e of envelopes) expect(JSON.parse(e.payload).device_id).toMatch(/^dev-\d{6}$/);
  });
});
