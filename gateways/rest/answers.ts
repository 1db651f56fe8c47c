/** The gateway's answers: JSON bodies, `{ error, message }` on failure, and the headers that go with them. */
import type { ServerResponse } from 'node:http';

/** Writes a JSON answer unless one was already written or the client is gone. */
export function answer(
  response: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent || response.destroyed) return;
  const json = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(json);
}

/** `Retry-After` in whole seconds (at least one) from milliseconds. */
export const retryAfter = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));
