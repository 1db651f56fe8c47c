/**
 * What the benchmarks that run a keyed-state operator through the runtime share (`bench/keyedState.ts`,
 * `bench/windowThroughput.ts`): the state store of a variant, the restore figures they report, CPU
 * time, summed snapshot figures, and waiting on a running runtime.
 */
import type { Redis } from 'ioredis';
import { keyedStateStore, redisStateConfigSchema } from '../../state/stateConfig.ts';
import {
  noStateFigures,
  type Position,
  type StateFigures,
  type StateStore,
  silentLogger,
} from '../../topology/index.ts';

/** The runs of a keyed-state benchmark: no state (a plain baseline), the embedded store, Redis. */
export type StoreVariant = 'baseline' | 'embedded' | 'redis';

/** What a Redis run is given: the server, a connection of our own to read its counters, a namespace. */
export interface RedisTarget {
  readonly url: string;
  readonly admin: Redis;
  readonly namespace: string;
}

/** The state store of a variant (none for the baseline). */
export function storeFor(
  variant: StoreVariant,
  redis: RedisTarget | undefined,
  defaultNamespace: string,
): StateStore | undefined {
  const deps = { defaultNamespace, log: silentLogger };
  if (variant === 'baseline') return undefined;
  if (variant === 'embedded') return keyedStateStore({ backend: 'embedded' }, deps);
  const section = redisStateConfigSchema.parse({
    backend: 'redis',
    redisUrl: redis!.url,
    namespace: redis!.namespace,
  });
  return keyedStateStore(section, deps);
}

/** How long one shard took to be restored by a new runtime, and what it cost. */
export interface RestoreFigures {
  readonly shardId: string;
  readonly devices: number;
  readonly restoredEntries: number;
  /** The runtime's own figure (`StateFigures.restoreMs`): claim, read and put back. */
  readonly restoreMs: number;
  /** From `runtime.run()` to the shard's first pull: store open, restore, timers armed. */
  readonly untilFirstPullMs: number;
  readonly cpuMs: number;
  readonly redisCpuMs: number;
}

/** Kinesis-like shard ids and positions for generated shards. */
export const shardIdOf = (s: number) => `shardId-${String(s).padStart(12, '0')}`;
export const at = (seq: number): Position => ({ sequenceNumber: String(seq), subSequenceNumber: 0 });

/** CPU milliseconds of this process since `since`. */
export const cpuMsSince = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The shards' snapshot figures added up. */
export const sumFigures = (all: Iterable<StateFigures>): StateFigures => {
  const sum = noStateFigures();
  for (const f of all) for (const k of Object.keys(sum) as (keyof StateFigures)[]) sum[k] += f[k];
  return sum;
};

/** Resolves once `condition` holds (polled), or rejects with the runtime's failure. */
export async function until(condition: () => boolean, done: Promise<void>): Promise<void> {
  let failed: unknown;
  done.catch((error: unknown) => {
    failed = error ?? new Error('runtime failed');
  });
  for (;;) {
    if (failed !== undefined) throw failed;
    if (condition()) return;
    await sleep(5);
  }
}
