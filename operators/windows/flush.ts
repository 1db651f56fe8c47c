/**
 * Flush pacing: when the running values of each scope's open windows are due, and how many keys one
 * call may flush (finals are never limited; the backend claims them whatever this says).
 */
import type { AggregateScope, Emission, FlushSelection } from '../../topology/index.ts';
import { type WindowAggregateConfig, windowSlices } from './config.ts';
import { rowOfField } from './keys.ts';

/** The order in which due scopes are flushed: the fewest keys first, so a large scope cannot starve them. */
const FLUSH_PRIORITY: readonly AggregateScope[] = ['product', 'customer-product', 'device'];

/** What one call flushes: the due scopes' changed open windows (`selection`), at most `limit` keys. */
export interface FlushTake {
  readonly selection: FlushSelection;
  readonly limit: number;
  /** The due scopes, in the order the backend claims them. */
  readonly scopes: readonly AggregateScope[];
}

const NO_FLUSH: FlushTake = { selection: false, limit: 0, scopes: [] };

/**
 * When the open windows of each scope were last flushed, which are due, and how many keys a call may
 * flush. Scopes have intervals of their own (device and customer × product windows less often than
 * product windows). A call flushes the due scopes in `FLUSH_PRIORITY` order; when its limit leaves
 * keys for later (`moreToFlush`), the scope it stopped in and those after it stay due, and the next
 * calls go on with them.
 *
 * With `flushKeysPerSecond` set, the keys come out of a token bucket of this operator (one per
 * worker): it fills at that rate up to one second's worth (at most `flushMaxKeys`), and each call
 * reserves what it holds. A large
 * flush (every device's windows, once a minute) then goes out as a steady trickle between the
 * batches instead of a burst of `flushMaxKeys` keys with every batch; when the keys change faster
 * than the rate drains them, each key's running values are refreshed less often than its interval
 * (the backend flushes in rounds: a round takes the keys changed when it starts, so a key waits at
 * most about two rounds), and the Hot store's aggregate writes stay at the rate.
 */
export function flushSchedule(config: WindowAggregateConfig) {
  const present = new Set(windowSlices(config).map((s) => s.scope));
  const scopes = FLUSH_PRIORITY.filter((s) => present.has(s));
  const intervalOf = (scope: AggregateScope) =>
    scope === 'device'
      ? config.deviceFlushIntervalMs
      : scope === 'customer-product'
        ? config.customerFlushIntervalMs
        : config.flushIntervalMs;
  // when each scope last finished a flush; every scope is due at the first call
  const last = new Map<AggregateScope, number>();
  const rate = config.flushKeysPerSecond;
  // one second's worth at most: a scope falling due after a quiet spell does not burst
  const capacity = Math.min(config.flushMaxKeys, Math.max(1, rate));
  let tokens = capacity;
  let filledAt = Number.NEGATIVE_INFINITY;
  return {
    /** The shortest interval: how often something may be due. */
    shortestMs: Math.min(...scopes.map(intervalOf)),
    /** What a call at `now` flushes; the keys it may flush are reserved from the bucket. */
    take(now: number): FlushTake {
      if (last.size === 0) for (const s of scopes) last.set(s, now - intervalOf(s));
      const due = scopes.filter((s) => now - last.get(s)! >= intervalOf(s));
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
      const selection = due.length === scopes.length && due.length === 1 ? true : due.map((s) => `${s}|`);
      return { selection, limit, scopes: due };
    },
    /**
     * Records what a call with `take` claimed at `now` (`emissions`): what it reserved but did not
     * flush goes back to the bucket; the scopes it finished are done until their next interval.
     */
    flushed(
      take: FlushTake,
      now: number,
      moreToFlush: string | undefined,
      emissions: readonly Emission[],
    ): void {
      if (take.scopes.length === 0) return;
      if (rate > 0) tokens = Math.min(capacity, tokens + Math.max(0, take.limit - runningKeys(emissions)));
      // scopes are claimed in order: those before the one with keys left are done
      const left =
        moreToFlush === undefined ? -1 : take.scopes.findIndex((s) => `${s}|`.startsWith(moreToFlush));
      for (const scope of left < 0 ? take.scopes : take.scopes.slice(0, left)) last.set(scope, now);
    },
    /**
     * Per scope, how long its running values have been due and not all flushed at `now` (0: on
     * schedule): under the rate limit, about how far behind its interval a key's refresh is.
     */
    overdueMs(now: number): { scope: AggregateScope; ms: number }[] {
      return scopes.map((scope) => {
        const at = last.get(scope);
        return { scope, ms: at === undefined ? 0 : Math.max(0, now - at - intervalOf(scope)) };
      });
    },
  };
}

/**
 * How many keys (rows of a bucket) `emissions` carry running values of. A backend emits a row's
 * columns one after another, so a key is counted where the bucket or the row changes.
 */
function runningKeys(emissions: readonly Emission[]): number {
  let keys = 0;
  let bucket = '';
  let row = '';
  for (const e of emissions) {
    if (e.final) continue;
    if (e.bucket === bucket && e.field.length > row.length && e.field.startsWith(row)) continue;
    keys++;
    bucket = e.bucket;
    row = rowOfField(e.field);
  }
  return keys;
}

/** See {@link flushSchedule}. */
export type FlushSchedule = ReturnType<typeof flushSchedule>;
