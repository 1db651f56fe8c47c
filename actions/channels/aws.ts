/**
 * What the AWS channels share: running calls with a bound on how many are in flight, and turning an
 * AWS SDK error into a delivery result. An error with an HTTP status came from the service (a
 * throttle or a server error is worth retrying after a backoff; any other refusal will not change);
 * one without came from the connection, so the service could not be reached and the channel throws.
 */
import { createHash } from 'node:crypto';
import type { DeliveryResult } from './channel.ts';

/** The error codes AWS services throttle with (the SDK's own list, plus SNS's and KMS's codes). */
const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'Throttled',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'KMSThrottling',
  'KMSThrottlingException',
]);

/** True for an error code that means "slow down". */
export function isThrottlingCode(code: string | undefined): boolean {
  return code !== undefined && THROTTLING_CODES.has(code);
}

/** The HTTP status of an SDK error, or undefined when no answer came. */
export function httpStatusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** The service's error code (the SDK puts it in `name`). */
export function errorCodeOf(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

/**
 * The result of a delivery whose call failed with `error`: retry after `backoffMs` on a throttle or
 * a server error, give up on any other answer, and rethrow when the service gave no answer at all.
 */
export function failedDelivery(error: unknown, backoffMs: number): DeliveryResult {
  const status = httpStatusOf(error);
  if (status === undefined) throw error;
  const code = errorCodeOf(error);
  const text = `${code}: ${(error as Error).message}`;
  if (status === 429 || status >= 500 || isThrottlingCode(code))
    return { ok: false, retry: true, error: text, retryAfterMs: backoffMs };
  return { ok: false, retry: false, error: text };
}

/** Hex SHA-256 of a text: idempotency keys turned into the tokens services accept. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
