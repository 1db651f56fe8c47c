/**
 * Backoff for Kinesis calls that were throttled. The SDK already retries a throttled call a few
 * times; this is the slower, shard-level backoff KCL applies on top, so a hot shard keeps reading
 * at the rate the stream allows instead of failing the worker. It waits on the injected clock.
 */
import type { Clock, Logger } from '../../../topology/index.ts';

/** Capped exponential backoff: `initialDelayMs`, doubling per failure, at most `maxDelayMs`. */
export interface BackoffPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/** KCL-like defaults: GetRecords allows 5 calls/s per shard, so waiting well under a second helps. */
export const KINESIS_BACKOFF: BackoffPolicy = { initialDelayMs: 250, maxDelayMs: 10_000 };

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'KMSThrottlingException',
]);

/** The AWS error code (`name`) of a thrown value, if it has one. */
export function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : undefined;
}

/** A call Kinesis refused for rate (per-shard throughput or per-account API limits): wait and retry. */
export function isThrottling(error: unknown): boolean {
  return THROTTLING.has(errorName(error) ?? '');
}

/** Delay before retry number `attempt` (1-based), with up to 20 % jitter so shards do not retry in step. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(base * (0.8 + 0.2 * random()));
}

/** What `callWithBackoff` needs besides the call. */
export interface BackoffContext {
  readonly clock: Clock;
  readonly policy: BackoffPolicy;
  readonly signal?: AbortSignal;
  readonly log?: Logger;
  readonly random?: () => number;
  /** Fields for the log line of each throttled attempt (stream, shard, operation). */
  readonly fields?: object;
}

/**
 * Runs `call` until it succeeds; a throttling error waits (capped exponential, on the clock) and
 * tries again, any other error is thrown. An abort during the wait rejects with the signal's reason.
 */
export async function callWithBackoff<T>(call: () => Promise<T>, ctx: BackoffContext): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isThrottling(error) || ctx.signal?.aborted) throw error;
      const delayMs = backoffDelay(ctx.policy, attempt, ctx.random ?? Math.random);
      ctx.log?.debug(
        { ...ctx.fields, error: errorName(error), attempt, delayMs },
        'kinesis throttled; backing off',
      );
      await ctx.clock.sleep(delayMs, ctx.signal);
    }
  }
}
