/**
 * The named workloads (`shardflow bench run --workload NAME`). `fleet-100k` is the platform's
 * target: 100,000 devices offering 5,000 records/s.
 */
import { type Workload, type WorkloadInput, workloadSchema } from './workload.ts';

const DEFINITIONS: readonly WorkloadInput[] = [
  {
    name: 'smoke',
    description: 'a small fleet for tests and quick checks',
    devices: 1_000,
    customers: 20,
    profile: { kind: 'steady', rate: 1_000 },
  },
  {
    name: 'fleet-10k',
    description: '10,000 devices at 2,000 records/s',
    devices: 10_000,
    profile: { kind: 'steady', rate: 2_000 },
  },
  {
    name: 'fleet-100k',
    description: 'the platform target: 100,000 devices at 5,000 records/s',
    devices: 100_000,
    customers: 1_000,
    profile: { kind: 'steady', rate: 5_000 },
  },
  {
    name: 'fleet-100k-ramp',
    description: '100,000 devices ramping from 1,000 to 10,000 records/s over 60 s',
    devices: 100_000,
    customers: 1_000,
    profile: { kind: 'ramp', from: 1_000, to: 10_000, overSeconds: 60 },
  },
  {
    name: 'fleet-100k-burst',
    description: '100,000 devices at 5,000 records/s with 5 s bursts of 20,000 every 30 s',
    devices: 100_000,
    customers: 1_000,
    profile: { kind: 'burst', rate: 5_000, peak: 20_000, everySeconds: 30, burstSeconds: 5 },
  },
];

/** Every named workload, validated. */
export const WORKLOADS: ReadonlyMap<string, Workload> = new Map(
  DEFINITIONS.map((d) => [d.name, workloadSchema.parse(d)]),
);

/** The workload called `name`, with another seed when given; throws naming the known ones. */
export function workloadNamed(name: string, seed?: number): Workload {
  const workload = WORKLOADS.get(name);
  if (workload === undefined)
    throw new Error(`unknown workload "${name}"; known: ${[...WORKLOADS.keys()].join(', ')}`);
  return seed === undefined ? workload : { ...workload, seed };
}
