/**
 * A benchmark fleet: devices of the example products spread over customers and sites, hubs with
 * their children, built deterministically from a seed. Which device (or hub) reports next, with
 * what event time and whether its payload is broken, comes from a second seeded stream, so a seed
 * and a sequence of `now` values give the same records every time.
 */
import { mulberry32 } from '../../gateways/simulator/fleet.ts';
import { deviceIdOf, HUB_CHILDREN, WORKLOAD_PRODUCTS, type WorkloadProduct } from './payloads.ts';

/** One device of the fleet and whom it belongs to (what the master data says). */
export interface FleetDevice {
  readonly deviceId: string;
  readonly productId: WorkloadProduct;
  customerId: string;
  siteId: string;
  /** The hub a child device reports through. */
  readonly hubId?: string;
}

/** Something that sends messages: a standalone device, or a hub with its children. */
export interface Sender {
  readonly product: WorkloadProduct;
  readonly deviceId: string;
  readonly children?: readonly string[];
}

/** A built fleet. */
export interface Fleet {
  readonly devices: readonly FleetDevice[];
  readonly senders: readonly Sender[];
  readonly customers: number;
  readonly sitesPerCustomer: number;
}

/** Share of devices per product; hub-j4's share counts the children (hubs are added on top). */
export const DEFAULT_MIX: Readonly<Record<WorkloadProduct, number>> = {
  'thermo-t1': 20,
  'meter-m2': 15,
  'air-a3': 15,
  'env-h1': 15,
  'meter-kv2': 10,
  'tracker-y3': 10,
  'hub-j4': 10,
  'logger-c5': 5,
};

/** How a fleet is made. */
export interface FleetShape {
  readonly devices: number;
  readonly customers: number;
  readonly sitesPerCustomer: number;
  readonly mix: Readonly<Partial<Record<WorkloadProduct, number>>>;
  readonly seed: number;
}

/** Customer and site ids, shared by the fleet and its churn. */
export function customerId(i: number): string {
  return `cust-${String(i + 1).padStart(4, '0')}`;
}

/** The id of site `s` of customer `c`. */
export function siteId(c: number, s: number): string {
  return `site-${String(c + 1).padStart(4, '0')}-${s + 1}`;
}

/** Builds the fleet: per product its share of `devices`, owners drawn from the seed. */
export function buildFleet(shape: FleetShape): Fleet {
  const random = mulberry32(shape.seed);
  const weights = WORKLOAD_PRODUCTS.map((p) => shape.mix[p] ?? 0);
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) throw new Error('mix: at least one product needs a positive share');
  const owner = () => {
    const c = Math.floor(random() * shape.customers);
    return { customerId: customerId(c), siteId: siteId(c, Math.floor(random() * shape.sitesPerCustomer)) };
  };
  const devices: FleetDevice[] = [];
  const senders: Sender[] = [];
  let assigned = 0;
  WORKLOAD_PRODUCTS.forEach((product, p) => {
    // The last product with a share takes the rounding remainder, so the fleet has exactly `devices`.
    const last = weights.slice(p + 1).every((w) => w === 0);
    const count = last ? shape.devices - assigned : Math.round((shape.devices * weights[p]!) / total);
    assigned += count;
    if (product !== 'hub-j4') {
      for (let i = 0; i < count; i++) {
        const deviceId = deviceIdOf(product, devices.length + 1);
        devices.push({ deviceId, productId: product, ...owner() });
        senders.push({ product, deviceId });
      }
      return;
    }
    for (let made = 0; made < count; ) {
      const hubId = `hub-${String(senders.length + 1).padStart(6, '0')}`;
      const where = owner();
      const children: string[] = [];
      for (let c = 0; c < HUB_CHILDREN && made < count; c++, made++) {
        const childId = `${hubId}-c${c + 1}`;
        children.push(childId);
        // Children sit where their hub is: they reach the platform only through it.
        devices.push({ deviceId: childId, productId: product, ...where, hubId });
      }
      senders.push({ product, deviceId: hubId, children });
    }
  });
  // Reports go round the senders in a seeded order, so products interleave as in a real fleet.
  for (let i = senders.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [senders[i], senders[j]] = [senders[j]!, senders[i]!];
  }
  return { devices, senders, customers: shape.customers, sitesPerCustomer: shape.sitesPerCustomer };
}
