/**
 * Flush pacing: when the running values of each scope's open windows are due, and how many keys a
 * call may flush (finals are never limited).
 *
 * Scopes have intervals of their own (device and customer × product windows less often than product
 * windows), kept per shard (each shard emits its own windows). A call flushes the due scopes in
 * `FLUSH_PRIORITY` order, so a large scope cannot starve the small ones; a scope stays due until a
 * call emitted all its changed windows.
 *
 * With `flushKeysPerSecond` set, the keys come out of a token bucket of this operator (one per
 * worker): it fills at that rate up to one second's worth (at most `flushMaxKeys`), and each call
 * reserves what it holds. A large flush (every device's windows, once a minute) then goes out as a
 * steady trickle between the batches instead of a burst; when the keys change faster than the rate
 * drains them, a flush runs in rounds (`shardWindows.ts`) and each key's running values are refreshed
 * less often than its interval.
 */
import type { AggregateScope } from '../../topology/index.ts';
import { type WindowAggregateConfig, windowSlices } from './config.ts';

/** The order in which due scopes are flushed: the fewest keys first. */
const FLUSH_PRIORITY: readonly AggregateScope[] = ['product', 'customer-product', 'device'];

/** What one call may flush: the due scopes among those it can, in order, and at most `limit` keys. */
export interface FlushTake {
  readonly scopes: readonly AggregateScope[];
  readonly limit: number;
}

const NO_FLUSH: FlushTake = { scopes: [], limit: 0 };

/** See the file comment. */
export function flushSchedule(config: WindowAggregateConfig) {
  const present = new Set(windowSlices(config).map((s) => s.scope));
  const scopes = FLUSH_PRIORITY.filter((s) => present.has(s));
  const intervalOf = (scope: AggregateScope) =>
    scope === 'device'
      ? config.deviceFlushIntervalMs
      : scope === 'customer-product'
        ? config.customerFlushIntervalMs
        : config.flushIntervalMs;
  // per shard, when each scope last finished a flush; every scope is due at a shard's first call
  const lastOf = new Map<string, Map<AggregateScope, number>>();
  const rate = config.flushKeysPerSecond;
  const capacity = Math.min(config.flushMaxKeys, Math.max(1, rate));
  let tokens = capacity;
  let filledAt = Number.NEGATIVE_INFINITY;
  return {
    /** The shortest interval: how often something may be due. */
    shortestMs: Math.min(...scopes.map(intervalOf)),
    /**
     * What a call of the shard at `now` that can flush `able` scopes flushes; its keys are reserved
     * from the bucket.
     */
    take(shardId: string, now: number, able: readonly AggregateScope[] = scopes): FlushTake {
      let last = lastOf.get(shardId);
      if (last === undefined) {
        last = new Map(scopes.map((s) => [s, now - intervalOf(s)]));
        lastOf.set(shardId, last);
      }
      const due = scopes.filter((s) => able.includes(s) && now - last.get(s)! >= intervalOf(s));
      if (due.length === 0) return NO_FLUSH;
      let limit = config.flushMaxKeys;
      if (rate > 0) {
        if (now > filledAt) tokens = Math.min(capacity, tokens + ((now - filledAt) * rate) / 1000);
        filledAt = Math.max(filledAt, now);
        limit = Math.floor(tokens);
        if (limit < 1) return NO_FLUSH;
        // reserved while the call runs, so the shards' concurrent calls share the bucket
        tokens -= limit;
      }
      return { scopes: due, limit };
    },
    /**
     * Records what a call of the shard with `take` did at `now`: it flushed `keys` keys, and `left` is
     * the first scope it left keys in (undefined: all done). What it reserved and did not use goes back.
     */
    flushed(
      shardId: string,
      take: FlushTake,
      now: number,
      keys: number,
      left: AggregateScope | undefined,
    ): void {
      const last = lastOf.get(shardId);
      if (take.scopes.length === 0 || last === undefined) return;
      if (rate > 0) tokens = Math.min(capacity, tokens + Math.max(0, take.limit - keys));
      const stop = left === undefined ? -1 : take.scopes.indexOf(left);
      for (const scope of stop < 0 ? take.scopes : take.scopes.slice(0, stop)) last.set(scope, now);
    },
    /** A shard this worker no longer holds. */
    forget(shardId: string): void {
      lastOf.delete(shardId);
    },
    /**
     * Per scope, how long its running values have been due and not all flushed at `now` (0: on
     * schedule), the most of any shard's.
     */
    overdueMs(now: number): { scope: AggregateScope; ms: number }[] {
      return scopes.map((scope) => {
        let ms = 0;
        for (const last of lastOf.values()) ms = Math.max(ms, now - last.get(scope)! - intervalOf(scope));
        return { scope, ms };
      });
    },
  };
}

/** See {@link flushSchedule}. */
export type FlushSchedule = ReturnType<typeof flushSchedule>;
