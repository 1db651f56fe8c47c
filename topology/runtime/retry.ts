/**
 * Retries with capped exponential backoff and jitter, waiting on the injected clock. Sinks retry
 * without limit by default: a database that is down stalls the shard (backpressure), it loses nothing.
 */
import { z } from 'zod';
import type { Clock } from '../clock.ts';

/** How a node's failed batch is retried. */
export const retryPolicySchema = z
  .object({
    /** Attempts in all, including the first; `0` means without limit. */
    maxAttempts: z.number().int().min(0).describe('attempts in all, 0 = without limit'),
    initialDelayMs: z.number().int().min(0).describe('wait before the first retry'),
    maxDelayMs: z.number().int().min(0).describe('cap on the wait between retries'),
  })
  .strict();
/** See {@link retryPolicySchema}. */
export type RetryPolicy = z.infer<typeof retryPolicySchema>;

/** Sinks: retry until the store answers (or the worker is told to stop). */
export const SINK_RETRY: RetryPolicy = { maxAttempts: 0, initialDelayMs: 100, maxDelayMs: 10_000 };
/** Operators: a throwing operator is a bug; fail the worker so it restarts from the last checkpoint. */
export const OPERATOR_RETRY: RetryPolicy = { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 };

/** Delay before retry number `attempt` (1-based), with up to 20 % jitter from `random`. */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(base * (0.8 + 0.2 * random()));
}

/**
 * An error that no retry can mend (state found lost, say): it carries `fatal: true` and is thrown at
 * once, whatever the policy, so the worker stops and reports it instead of retrying for ever.
 */
export function isFatal(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { fatal?: unknown }).fatal === true;
}

/**
 * Runs `work` until it succeeds, the policy's attempts are used up, a fatal error is thrown (see
 * {@link isFatal}), `giveUp` says an error is not worth retrying (a store refused the records: the
 * caller isolates them instead), or `signal` aborts (then the last error is thrown). `onError` hears
 * about every failure, for metrics and logs.
 */
export async function withRetry<T>(
  work: () => Promise<T>,
  policy: RetryPolicy,
  clock: Clock,
  signal: AbortSignal,
  onError: (error: unknown, attempt: number) => void,
  giveUp: (error: unknown) => boolean = () => false,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      onError(error, attempt);
      if (
        (policy.maxAttempts !== 0 && attempt >= policy.maxAttempts) ||
        signal.aborted ||
        isFatal(error) ||
        giveUp(error)
      )
        throw error;
      try {
        await clock.sleep(backoffDelay(policy, attempt), signal);
      } catch {
        throw error;
      }
    }
  }
}
