/**
 * A workload: a fleet, a rate profile, and what goes wrong in it (records out of order, late,
 * malformed; devices reassigned to other customers and sites). `createGenerator` turns one into a
 * deterministic stream of ingest envelopes and master-data change records.
 */
import { z } from 'zod';
import { mulberry32 } from '../../gateways/simulator/fleet.ts';
import type { IngestEnvelope } from '../../topology/index.ts';
import { buildFleet, customerId, DEFAULT_MIX, type Fleet, siteId } from './fleet.ts';
import { LOGGER_ROWS, payloadOf, WORKLOAD_PRODUCTS } from './payloads.ts';
import { rateProfileSchema } from './profiles.ts';

const fraction = z.number().min(0).max(1);

/** A named workload. */
export const workloadSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/)
      .describe('name used on the command line and in results'),
    description: z.string().describe('what the workload stands for'),
    devices: z.number().int().min(1).max(10_000_000).describe('devices in the fleet (hub children included)'),
    customers: z.number().int().min(1).default(200).describe('customers owning the devices'),
    sitesPerCustomer: z.number().int().min(1).default(5).describe('sites per customer'),
    mix: z
      .partialRecord(z.enum(WORKLOAD_PRODUCTS), z.number().nonnegative())
      .default(DEFAULT_MIX)
      .describe('share of devices per example product'),
    profile: rateProfileSchema.describe('records (envelopes) offered per second over the run'),
    outOfOrderFraction: fraction.default(0.05).describe('share of records up to outOfOrderMaxSeconds old'),
    outOfOrderMaxSeconds: z.number().positive().default(60).describe('oldest out-of-order event time'),
    lateFraction: fraction.default(0.01).describe('share of records older than lateMinSeconds'),
    lateMinSeconds: z.number().positive().default(600).describe('youngest late event time'),
    lateMaxSeconds: z
      .number()
      .positive()
      .default(6 * 3600)
      .describe('oldest late event time'),
    malformedFraction: fraction.default(0.005).describe('share of records whose payload is broken'),
    churnPerHour: fraction.default(0.01).describe('share of devices reassigned per hour of run time'),
    seed: z.number().int().default(1).describe('seed of the fleet and of the record stream'),
  })
  .strict()
  .refine((w) => w.lateMaxSeconds > w.lateMinSeconds, {
    message: 'lateMaxSeconds must exceed lateMinSeconds',
    path: ['lateMaxSeconds'],
  });
/** A workload as written. */
export type WorkloadInput = z.input<typeof workloadSchema>;
/** A validated workload. */
export type Workload = z.output<typeof workloadSchema>;

/** How a record's event time relates to its arrival. */
export type Timing = 'in-order' | 'out-of-order' | 'late';

/** One generated envelope and what the generator knows about it. */
export interface GeneratedEnvelope {
  readonly envelope: IngestEnvelope;
  /** The device (or hub) id: the partition key a gateway would use. */
  readonly partitionKey: string;
  readonly malformed: boolean;
  readonly timing: Timing;
  /** Telemetry records it decodes into (0 when malformed). */
  readonly records: number;
}

/** A master-data change as AWS DMS writes it to Kinesis: a device row reassigned. */
export interface DeviceChangeRecord {
  readonly data: {
    readonly device_id: string;
    readonly product_id: string;
    readonly customer_id: string;
    readonly site_id: string;
    readonly hub_id: string | null;
    readonly valid_from: string;
  };
  readonly metadata: {
    readonly timestamp: string;
    readonly 'record-type': 'data';
    readonly operation: 'update';
    readonly 'partition-key-type': 'primary-key';
    readonly 'schema-name': 'public';
    readonly 'table-name': 'device';
    readonly 'transaction-id': number;
  };
}

/** What the generator has produced so far. */
export interface GeneratorCounts {
  envelopes: number;
  malformed: number;
  outOfOrder: number;
  late: number;
  /** Telemetry records the well-formed envelopes decode into. */
  telemetry: number;
  changes: number;
}

/** A deterministic stream of a workload's records. */
export interface WorkloadGenerator {
  readonly workload: Workload;
  readonly fleet: Fleet;
  readonly counts: Readonly<GeneratorCounts>;
  /** The next sender's message as received at `now`. */
  next(now: number): GeneratedEnvelope;
  /** `count` messages received at `now`. */
  batch(now: number, count: number): GeneratedEnvelope[];
  /** The reassignments due between the first call and `now` (run time, at `churnPerHour`). */
  changes(now: number): DeviceChangeRecord[];
}

/** A generator of the workload's records; `stream` separates independent streams of one workload. */
export function createGenerator(workload: Workload, stream = 0): WorkloadGenerator {
  const fleet = buildFleet(workload);
  const random = mulberry32(workload.seed * 7919 + 1 + stream);
  const churnRandom = mulberry32(workload.seed * 104_729 + 3 + stream);
  const counts: GeneratorCounts = {
    envelopes: 0,
    malformed: 0,
    outOfOrder: 0,
    late: 0,
    telemetry: 0,
    changes: 0,
  };
  const ooo = workload.outOfOrderFraction;
  const late = workload.lateFraction;
  const lateSpan = (workload.lateMaxSeconds - workload.lateMinSeconds) * 1000;
  let turn = 0;
  let churnStart: number | undefined;
  let transaction = 0;

  const next = (now: number): GeneratedEnvelope => {
    const sender = fleet.senders[turn]!;
    turn = (turn + 1) % fleet.senders.length;
    const malformed = random() < workload.malformedFraction;
    const draw = random();
    let timing: Timing = 'in-order';
    let at = now - Math.floor(random() * 2000); // a device's clock and its link: up to 2 s behind
    if (draw < late) {
      timing = 'late';
      at = now - workload.lateMinSeconds * 1000 - Math.floor(random() * lateSpan);
    } else if (draw < late + ooo) {
      timing = 'out-of-order';
      at = now - 2000 - Math.floor(random() * (workload.outOfOrderMaxSeconds * 1000 - 2000));
    }
    const envelope = payloadOf(sender.product, {
      deviceId: sender.deviceId,
      children: sender.children,
      at,
      receivedAt: now,
      random,
      malformed,
    });
    const records = malformed
      ? 0
      : sender.product === 'hub-j4'
        ? sender.children!.length
        : sender.product === 'logger-c5'
          ? LOGGER_ROWS
          : 1;
    counts.envelopes++;
    if (malformed) counts.malformed++;
    if (timing === 'late') counts.late++;
    if (timing === 'out-of-order') counts.outOfOrder++;
    counts.telemetry += records;
    return { envelope, partitionKey: sender.deviceId, malformed, timing, records };
  };

  const changes = (now: number): DeviceChangeRecord[] => {
    churnStart ??= now;
    const due = Math.floor(((now - churnStart) / 3_600_000) * workload.churnPerHour * fleet.devices.length);
    const out: DeviceChangeRecord[] = [];
    while (counts.changes < due) {
      const device = fleet.devices[Math.floor(churnRandom() * fleet.devices.length)]!;
      const c = Math.floor(churnRandom() * fleet.customers);
      device.customerId = customerId(c);
      device.siteId = siteId(c, Math.floor(churnRandom() * fleet.sitesPerCustomer));
      counts.changes++;
      const at = new Date(now).toISOString();
      out.push({
        data: {
          device_id: device.deviceId,
          product_id: device.productId,
          customer_id: device.customerId,
          site_id: device.siteId,
          hub_id: device.hubId ?? null,
          valid_from: at,
        },
        metadata: {
          timestamp: at,
          'record-type': 'data',
          operation: 'update',
          'partition-key-type': 'primary-key',
          'schema-name': 'public',
          'table-name': 'device',
          'transaction-id': ++transaction,
        },
      });
    }
    return out;
  };

  return {
    workload,
    fleet,
    counts,
    next,
    batch: (now, count) => Array.from({ length: count }, () => next(now)),
    changes,
  };
}
