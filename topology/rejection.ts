/**
 * Records a store refuses for what they hold. A store error is either transient (the store is down,
 * slow, throttling, failing over, locked: retry, the shard stalls, nothing is lost) or permanent for
 * the records that caused it (PostgreSQL's data exceptions and program limits, say): retrying such a
 * batch would stall the shard for ever. Stores classify their own errors and mark the permanent ones
 * (see {@link RecordRejectedError}); the runtime then isolates the records responsible and sends them
 * on the node's `rejected` output as dead letters, and the shard moves on.
 */
import { createHash } from 'node:crypto';
import type { BatchContext } from './components.ts';
import type { DeadLetter } from './records.ts';

/** The reason code of every record a store refused. */
const STORE_REJECTED = 'store-rejected';

/** What a store said when it refused records. */
export interface Rejection {
  /** The store, e.g. `postgresql`, `mongodb`. */
  readonly store: string;
  /** The store's own code for the error (a SQLSTATE, a MongoDB error code). */
  readonly code: string;
  /** The constraint, index, column or limit involved, when the store names one. */
  readonly constraint?: string;
}

/** A store refused a batch because of the data in it: retrying the same records cannot succeed. */
export class RecordRejectedError extends Error {
  override readonly name = 'RecordRejectedError';
  /** Read by {@link isPermanent}. */
  readonly permanent = true;

  constructor(
    readonly rejection: Rejection,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for an error a store marked as caused by the records it was given (see the file comment). */
export function isPermanent(error: unknown): error is RecordRejectedError {
  return typeof error === 'object' && error !== null && (error as { permanent?: unknown }).permanent === true;
}

/** The longest reason text kept with a dead letter; a store's message may quote the whole value. */
const MAX_REASON_CHARS = 2000;

// C0 controls but tab, newline and carriage return, DEL, and UTF-16 halves without their partner:
// what PostgreSQL's text and jsonb (NUL) and UTF-8 encoders (lone surrogates) cannot take
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const UNSTORABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|\p{Cs}/gu;
// the same, one test at a time (a global regex keeps state between tests)
const UNSTORABLE_ONCE = new RegExp(UNSTORABLE.source, 'u');

/** True when `text` holds a character some store cannot: see {@link sanitizeText}. */
export function hasUnstorableText(text: string): boolean {
  return UNSTORABLE_ONCE.test(text);
}

/** Text safe for any store: no control characters (NUL above all), no lone surrogates, bounded length. */
export function sanitizeText(text: string, maxChars = MAX_REASON_CHARS): string {
  let clean = text.replace(UNSTORABLE, '\ufffd');
  if (clean.length > maxChars) clean = `${clean.slice(0, maxChars)}… (${clean.length} characters)`;
  return clean;
}

/** The stream position a record came from, when it carries one (telemetry does, in `rawRef`). */
interface Traceable {
  readonly rawRef?: {
    readonly stream: string;
    readonly shardId: string;
    readonly sequenceNumber: string;
    readonly subSequenceNumber?: number;
  };
}

/**
 * The dead letter of a record the store at `ctx.node` refused: the record as the node received it
 * (JSON, base64), the store's reason, and the record's own stream position (telemetry's `rawRef`) or
 * else the batch's. `item` is a digest of the record, so records refused at one position stay
 * distinct and a replay stores each of them once.
 */
export function rejectedDeadLetter(
  record: unknown,
  error: RecordRejectedError,
  ctx: BatchContext,
): DeadLetter {
  const json = JSON.stringify(record) ?? String(record);
  const ref = (record as Traceable | null)?.rawRef;
  const { store, code, constraint } = error.rejection;
  const what = constraint === undefined ? `${store} ${code}` : `${store} ${code} (${constraint})`;
  return {
    node: ctx.node,
    reason: sanitizeText(`${what}: ${error.message}`),
    code: STORE_REJECTED,
    stream: ref?.stream ?? '',
    shardId: ref?.shardId ?? ctx.shardId,
    sequenceNumber: ref?.sequenceNumber ?? ctx.position.sequenceNumber,
    subSequenceNumber: ref?.subSequenceNumber ?? ctx.position.subSequenceNumber,
    item: `rejected:${createHash('sha256').update(json).digest('hex').slice(0, 24)}`,
    payloadBase64: Buffer.from(json, 'utf8').toString('base64'),
    failedAt: ctx.clock.now(),
  };
}
