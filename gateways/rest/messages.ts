/**
 * What a request asks the gateway to put: the route a path names, and the messages of a single post
 * or of a batch, each checked whole before anything is offered (a batch is all or nothing). Pure: no
 * I/O, so the unit tests and the fuzzing drive it directly.
 */
import { MAX_PARTITION_KEY_BYTES } from '../ingest/durableIngest.ts';

/** An answer other than 202: the status, a stable code, a human message and, for 429/503, the wait. */
export class Refusal extends Error {
  override readonly name = 'Refusal';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** One message to put, before it becomes an envelope. */
export interface Message {
  readonly deviceId: string;
  readonly hubId?: string | undefined;
  readonly productId?: string | undefined;
  readonly payload: Uint8Array;
  /** Epoch ms; the gateway's clock when the caller did not say. */
  readonly receivedAt?: number | undefined;
}

/** What a path names. */
export type Route =
  | { readonly kind: 'telemetry'; readonly deviceId: string; readonly hubId?: string }
  | { readonly kind: 'batch' }
  | { readonly kind: 'unknown' };

const MAX_ID_CHARS = 128;

/** Why `id` (URL-decoded) cannot name a device, hub or product, or `undefined` when it can. */
export function idProblem(id: string): string | undefined {
  if (id.length === 0) return 'is empty';
  if (id.length > MAX_ID_CHARS) return `is longer than ${MAX_ID_CHARS} characters`;
  // the device's (or hub's) id is the record's partition key
  if (Buffer.byteLength(id, 'utf8') > MAX_PARTITION_KEY_BYTES)
    return `is longer than ${MAX_PARTITION_KEY_BYTES} bytes in UTF-8`;
  // Printable: no C0 or C1 control characters, no DEL; '/' would change the topic's shape.
  if (/\p{Cc}/u.test(id)) return 'holds a control character';
  if (id.includes('/')) return "holds a '/'";
  return undefined;
}

function checkedId(raw: string, what: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new Refusal(400, 'bad-id', `the ${what} in the path is not valid percent-encoded UTF-8`);
  }
  const problem = idProblem(id);
  if (problem !== undefined) throw new Refusal(400, 'bad-id', `the ${what} ${problem}`);
  return id;
}

/** The route of a request's path (without its query). Throws a 400 `Refusal` for a bad id. */
export function routeOf(path: string): Route {
  const parts = path.split('/');
  if (parts[0] !== '' || parts[1] !== 'v1') return { kind: 'unknown' };
  if (parts.length === 3 && parts[2] === 'telemetry:batch') return { kind: 'batch' };
  if (parts[2] !== 'devices' || parts.at(-1) !== 'telemetry') return { kind: 'unknown' };
  if (parts.length === 5) return { kind: 'telemetry', deviceId: checkedId(parts[3]!, 'device id') };
  if (parts.length === 7 && parts[4] === 'child')
    return {
      kind: 'telemetry',
      hubId: checkedId(parts[3]!, 'hub id'),
      deviceId: checkedId(parts[5]!, 'device id'),
    };
  return { kind: 'unknown' };
}

/** The product id from the query or the header, checked; `undefined` when neither names one. */
export function productOf(query: URLSearchParams, header: string | string[] | undefined): string | undefined {
  const value = query.get('productId') ?? (typeof header === 'string' ? header : header?.[0]);
  if (value === undefined || value === '') return undefined;
  const problem = idProblem(value);
  if (problem !== undefined) throw new Refusal(400, 'bad-product', `the product id ${problem}`);
  return value;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const ITEM_KEYS = new Set(['deviceId', 'hubId', 'productId', 'payload', 'encoding', 'receivedAt']);

/** The bytes of a payload sent as text in `encoding`, or why not. */
function payloadBytes(payload: string, encoding: unknown): Uint8Array | string {
  switch (encoding ?? 'utf8') {
    case 'utf8':
      return Buffer.from(payload, 'utf8');
    case 'base64':
      return BASE64.test(payload) ? Buffer.from(payload, 'base64') : 'payload is not valid base64';
    case 'hex':
      return HEX.test(payload) ? Buffer.from(payload, 'hex') : 'payload is not valid hex (pairs of 0-9a-f)';
    default:
      return 'encoding must be "utf8", "base64" or "hex"';
  }
}

function receivedAtOf(value: unknown): number | undefined | string {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const at = Date.parse(value);
    if (Number.isFinite(at) && at >= 0) return at;
  }
  return 'receivedAt must be epoch milliseconds or an ISO-8601 time';
}

function optionalId(value: unknown, key: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`${key} must be a string`);
  const problem = idProblem(value);
  if (problem !== undefined) throw new Error(`${key} ${problem}`);
  return value;
}

/** One batch item checked, or an `Error` saying what is wrong with it. */
function batchMessage(item: unknown): Message {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error('is not an object');
  const fields = item as Record<string, unknown>;
  for (const key of Object.keys(fields))
    if (!ITEM_KEYS.has(key)) throw new Error(`has an unknown key "${key}"`);
  if (fields.deviceId === undefined) throw new Error('has no deviceId');
  const deviceId = optionalId(fields.deviceId, 'deviceId')!;
  const hubId = optionalId(fields.hubId, 'hubId');
  const productId = optionalId(fields.productId, 'productId');
  if (typeof fields.payload !== 'string') throw new Error('payload must be a string');
  const payload = payloadBytes(fields.payload, fields.encoding);
  if (typeof payload === 'string') throw new Error(payload);
  if (payload.byteLength === 0) throw new Error('payload is empty');
  const receivedAt = receivedAtOf(fields.receivedAt);
  if (typeof receivedAt === 'string') throw new Error(receivedAt);
  return { deviceId, hubId, productId, payload, receivedAt };
}

/**
 * The messages of a batch body (`{ "messages": [...] }`), all checked before any is returned.
 * Throws a `Refusal` naming the first bad item's index.
 */
export function batchMessages(body: Buffer, maxMessages: number): Message[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new Refusal(400, 'bad-json', `the body is not JSON: ${(error as Error).message}`);
  }
  const messages = (parsed as { messages?: unknown } | null)?.messages;
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(messages))
    throw new Refusal(400, 'bad-batch', 'the body must be an object with a "messages" array');
  if (Object.keys(parsed).length !== 1)
    throw new Refusal(400, 'bad-batch', 'the body must hold only "messages"');
  if (messages.length === 0) throw new Refusal(400, 'bad-batch', '"messages" is empty');
  if (messages.length > maxMessages)
    throw new Refusal(
      413,
      'too-many-messages',
      `the batch holds ${messages.length} messages; at most ${maxMessages} are taken at once`,
    );
  return messages.map((item, index) => {
    try {
      return batchMessage(item);
    } catch (error) {
      throw new Refusal(400, 'bad-message', `messages[${index}] ${(error as Error).message}`);
    }
  });
}
