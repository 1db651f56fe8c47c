/**
 * The webhook channel: each notification one `POST` of `{ key, subject, body, facts }` as JSON to its
 * URL, with the action's key as `Idempotency-Key` and, when a secret is set, an HMAC-SHA256 of the
 * exact body bytes as `X-Shardflow-Signature: sha256=<hex>` (the receiver recomputes it over the raw
 * body before parsing).
 *
 * A 2xx answer is done. A 408, 429 or 5xx, a timeout or a network error is tried again (after
 * `Retry-After` seconds when the receiver says so); any other answer will not change by retrying.
 */
import { createHmac } from 'node:crypto';
import type { Channel, Delivery, DeliveryResult } from './channel.ts';
import { mapBounded } from './mapBounded.ts';

/** How webhooks are sent. */
export interface WebhookChannelOptions {
  /** The signing secret; unsigned when absent. */
  readonly secret?: string;
  /** Per request, answer and body included (default 10 s). */
  readonly timeoutMs?: number;
  /** Requests in flight (default 8). */
  readonly concurrency?: number;
}

/** The `X-Shardflow-Signature` value of a body. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** `Retry-After` in seconds as milliseconds; an HTTP date or anything else is ignored. */
function retryAfterMs(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value) * 1000;
}

const RETRIED_STATUSES = new Set([408, 429]);

/** Whether an answer's status is worth trying again. */
const retryable = (status: number) => RETRIED_STATUSES.has(status) || status >= 500;

/**
 * A webhook channel over Node's fetch.
 *
 * @example const webhook = webhookChannel({ secret: process.env.WEBHOOK_SECRET, timeoutMs: 5000 });
 */
export function webhookChannel(options: WebhookChannelOptions = {}): Channel<'webhook'> {
  const timeout = options.timeoutMs ?? 10_000;

  const sendOne = async ({ key, payload }: Delivery<'webhook'>): Promise<DeliveryResult> => {
    let url: URL;
    try {
      url = new URL(payload.to);
    } catch {
      return { ok: false, retry: false, error: `not a URL: ${payload.to}` };
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      return { ok: false, retry: false, error: `not an http(s) URL: ${payload.to}` };
    const body = JSON.stringify({ key, subject: payload.subject, body: payload.body, facts: payload.facts });
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Idempotency-Key': key };
    if (options.secret !== undefined)
      headers['X-Shardflow-Signature'] = webhookSignature(options.secret, body);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeout),
      });
      const text = await response.text();
      if (response.ok) return { ok: true, ref: String(response.status) };
      const error = `HTTP ${response.status}${text === '' ? '' : `: ${text.slice(0, 200)}`}`;
      if (!retryable(response.status)) return { ok: false, retry: false, error };
      const after = retryAfterMs(response.headers.get('retry-after'));
      return { ok: false, retry: true, error, ...(after === undefined ? {} : { retryAfterMs: after }) };
    } catch (error) {
      const e = error as { name?: string; message?: string; cause?: { code?: string } };
      const reason =
        e.name === 'TimeoutError' ? `no answer within ${timeout} ms` : (e.cause?.code ?? e.message);
      return { ok: false, retry: true, error: `${url.origin}: ${reason ?? String(error)}` };
    }
  };

  return {
    kind: 'webhook',
    send: function sendWebhooks(batch) {
      return mapBounded(batch, options.concurrency ?? 8, sendOne);
    },
  };
}
