/**
 * A deterministic simulated fleet: devices of a few products, owned by a few customers, reporting
 * telemetry as the MQTT gateway would write it (ingest envelopes, architecture page section 2).
 * Everything random comes from one seeded PRNG, so a seed and the sequence of `now` values give
 * the same envelopes every time: demos, tests and benchmarks can be replayed exactly.
 */
import type { IngestEnvelope } from '../../topology/index.ts';

/** A seeded PRNG (mulberry32): returns numbers in [0, 1); fast and good enough for simulation. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How one metric of a product moves: a bounded random walk, or a counter that only grows. */
interface MetricModel {
  readonly name: string;
  readonly kind: 'walk' | 'counter';
  /** Range of the starting value. */
  readonly start: readonly [number, number];
  /** Largest change per report. */
  readonly step: number;
  readonly min: number;
  readonly max: number;
  readonly decimals: number;
}

/** A product of the simulated fleet and the metrics its devices report. */
export interface SimulatedProduct {
  readonly productId: string;
  readonly metrics: readonly MetricModel[];
}

/** The demo fleet's products: a thermostat, an electricity meter and an air-quality sensor. */
export const SIMULATED_PRODUCTS: readonly SimulatedProduct[] = [
  {
    productId: 'thermo-t1',
    metrics: [
      { name: 'temperature', kind: 'walk', start: [18, 24], step: 0.3, min: -10, max: 45, decimals: 1 },
      { name: 'humidity', kind: 'walk', start: [35, 55], step: 1, min: 5, max: 100, decimals: 0 },
    ],
  },
  {
    productId: 'meter-m2',
    metrics: [
      { name: 'power', kind: 'walk', start: [200, 3000], step: 150, min: 0, max: 11000, decimals: 0 },
      { name: 'energy', kind: 'counter', start: [100, 50000], step: 0.05, min: 0, max: 1e12, decimals: 3 },
    ],
  },
  {
    productId: 'air-a3',
    metrics: [
      { name: 'pm25', kind: 'walk', start: [3, 25], step: 2, min: 0, max: 500, decimals: 1 },
      { name: 'co2', kind: 'walk', start: [420, 900], step: 25, min: 380, max: 5000, decimals: 0 },
    ],
  },
];

/** One simulated device and whom it belongs to (the master data a demo seeds). */
export interface SimulatedDevice {
  readonly deviceId: string;
  readonly productId: string;
  readonly customerId: string;
  readonly siteId: string;
}

/** How the fleet is made. */
export interface FleetOptions {
  readonly devices: number;
  readonly seed?: number;
  readonly customers?: number;
  /** Sites per customer. */
  readonly sitesPerCustomer?: number;
  /** Share of envelopes (0..1) whose payload is broken: invalid JSON or no `device_id`. */
  readonly malformedFraction?: number;
  /** Largest delay between a reading's device time and its arrival at the gateway (ms). */
  readonly maxDeviceLagMs?: number;
  readonly products?: readonly SimulatedProduct[];
}

/** A simulated fleet: its devices, and the next envelope one of them sends. */
export interface Fleet {
  readonly devices: readonly SimulatedDevice[];
  /** The next device's reading, as received by the gateway at `now` (epoch ms). */
  next(now: number): IngestEnvelope;
  /** `count` envelopes received at `now`. */
  batch(now: number, count: number): IngestEnvelope[];
}

interface DeviceState {
  readonly device: SimulatedDevice;
  readonly product: SimulatedProduct;
  readonly values: number[];
}

function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

/** Builds a fleet of `devices` devices; reports go round the devices in turn. */
export function simulatedFleet(options: FleetOptions): Fleet {
  const random = mulberry32(options.seed ?? 1);
  const products = options.products ?? SIMULATED_PRODUCTS;
  const customers = options.customers ?? 3;
  const sitesPerCustomer = options.sitesPerCustomer ?? 2;
  const malformed = options.malformedFraction ?? 0;
  const maxLag = options.maxDeviceLagMs ?? 2000;
  const between = (lo: number, hi: number) => lo + (hi - lo) * random();

  const states: DeviceState[] = [];
  for (let i = 0; i < options.devices; i++) {
    const product = products[i % products.length]!;
    const customer = Math.floor(random() * customers);
    const device: SimulatedDevice = {
      deviceId: `dev-${String(i + 1).padStart(6, '0')}`,
      productId: product.productId,
      customerId: `cust-${String(customer + 1).padStart(3, '0')}`,
      siteId: `site-${String(customer + 1).padStart(3, '0')}-${Math.floor(random() * sitesPerCustomer) + 1}`,
    };
    states.push({ device, product, values: product.metrics.map((m) => between(m.start[0], m.start[1])) });
  }
  let turn = 0;

  const reading = (state: DeviceState): Record<string, number> => {
    const metrics: Record<string, number> = {};
    state.product.metrics.forEach((m, i) => {
      const delta = m.kind === 'counter' ? random() * m.step : (random() * 2 - 1) * m.step;
      const value = Math.min(m.max, Math.max(m.min, state.values[i]! + delta));
      state.values[i] = value;
      metrics[m.name] = round(value, m.decimals);
    });
    return metrics;
  };

  const payloadOf = (state: DeviceState, ts: number): string => {
    const body = { device_id: state.device.deviceId, ts, metrics: reading(state) };
    if (malformed === 0 || random() >= malformed) return JSON.stringify(body);
    if (random() < 0.5) return JSON.stringify(body).slice(0, -7); // truncated: invalid JSON
    const { device_id: _, ...rest } = body;
    return JSON.stringify(rest);
  };

  const next = (now: number): IngestEnvelope => {
    if (states.length === 0) throw new Error('the fleet has no devices');
    const state = states[turn]!;
    turn = (turn + 1) % states.length;
    const ts = now - Math.floor(random() * maxLag);
    return {
      v: 1,
      protocol: 'mqtt',
      topic: `devices/${state.device.deviceId}/telemetry`,
      receivedAt: now,
      productId: state.device.productId,
      encoding: 'utf8',
      payload: payloadOf(state, ts),
    };
  };

  return {
    devices: states.map((s) => s.device),
    next,
    batch: (now, count) => Array.from({ length: count }, () => next(now)),
  };
}
