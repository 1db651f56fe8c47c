/**
 * A stand-in for Amazon SNS `Publish` and `PublishBatch` on loopback, speaking SNS's wire protocol
 * (awsQuery: a form-encoded POST, XML answers) so the real `SNSClient` talks to it. It keeps SNS's
 * limits (10 entries, 256 KiB of messages and attributes per request, distinct entry ids) with SNS's
 * error codes, and FIFO topics (`….fifo`) deduplicate on `MessageDeduplicationId` for 5 minutes.
 * It records every request and every message it accepted, and injects per-entry failures (seeded),
 * throttles and server errors.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { seededRandom } from '../local/seeded.ts';
import { type Listening, NextRequests, readBody, serve } from './http.ts';

/** SNS's limit on one message, and on one batch request (messages and attributes). */
export const SNS_MAX_PAYLOAD_BYTES = 262_144;
const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const DEDUP_WINDOW_MS = 5 * 60_000;
const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';

/** A message attribute as SNS receives it. */
export interface SnsAttribute {
  readonly dataType: string;
  readonly value: string;
}

/** A message SNS accepted (a FIFO duplicate is answered but not recorded again). */
export interface SnsMessage {
  readonly messageId: string;
  readonly topicArn: string;
  readonly subject?: string;
  readonly message: string;
  readonly attributes: Readonly<Record<string, SnsAttribute>>;
  readonly groupId?: string;
  readonly deduplicationId?: string;
}

/** One request as it arrived. */
export interface SnsRequest {
  readonly action: string;
  readonly topicArn: string;
  readonly entries: number;
  /** Messages and message attributes, counted as SNS counts them. */
  readonly bytes: number;
  /** The error code the whole request was refused with, if it was. */
  readonly error?: string;
}

/** Options of the SNS stand-in. */
export interface SnsStandInOptions {
  /** The clock of FIFO deduplication (default `Date.now`). */
  readonly now?: () => number;
}

/** The running SNS stand-in: its records and its faults. */
export interface SnsStandIn extends Listening {
  /** Every message accepted, in order. */
  readonly messages: readonly SnsMessage[];
  /** Every request, in order of arrival. */
  readonly requests: readonly SnsRequest[];
  /**
   * Fails about `rate` (0–1) of the entries of later batches with `InternalError`, `SenderFault`
   * false; which ones follows from `seed`. `rate` 0 stops it.
   */
  failEntries(rate: number, seed?: number): void;
  /**
   * Refuses the next `n` requests as throttled: by default with SNS's own `Throttled` (HTTP 429, the
   * SDK's `ThrottledException`); `'Throttling'` answers the generic awsQuery throttle (HTTP 400).
   */
  throttleNext(n: number, code?: 'Throttled' | 'Throttling'): void;
  /** Answers the next `n` requests with `InternalError` (HTTP 500). */
  failNext(n: number): void;
}

interface Entry {
  readonly id: string;
  readonly message: string | undefined;
  readonly subject: string | undefined;
  readonly attributes: Record<string, SnsAttribute>;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
}

class SnsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the SNS stand-in on 127.0.0.1 and a free port. */
export async function startSnsStandIn(options: SnsStandInOptions = {}): Promise<SnsStandIn> {
  const now = options.now ?? Date.now;
  const messages: SnsMessage[] = [];
  const requests: SnsRequest[] = [];
  const throttles = new NextRequests();
  const genericThrottles = new NextRequests();
  const serverErrors = new NextRequests();
  // Per FIFO topic, the deduplication ids seen and when, with the message id first answered.
  const seen = new Map<string, Map<string, { at: number; messageId: string }>>();
  let entryFailure = { rate: 0, random: seededRandom(0) };

  function accept(topicArn: string, entry: Entry): string {
    if (topicArn.endsWith('.fifo')) {
      const ids = seen.get(topicArn) ?? new Map<string, { at: number; messageId: string }>();
      seen.set(topicArn, ids);
      const earlier = ids.get(entry.deduplicationId!);
      if (earlier && now() - earlier.at < DEDUP_WINDOW_MS) return earlier.messageId;
      const messageId = randomUUID();
      ids.set(entry.deduplicationId!, { at: now(), messageId });
      record(messageId, topicArn, entry);
      return messageId;
    }
    const messageId = randomUUID();
    record(messageId, topicArn, entry);
    return messageId;
  }

  function record(messageId: string, topicArn: string, entry: Entry): void {
    messages.push({
      messageId,
      topicArn,
      message: entry.message!,
      attributes: entry.attributes,
      ...(entry.subject === undefined ? {} : { subject: entry.subject }),
      ...(entry.groupId === undefined ? {} : { groupId: entry.groupId }),
      ...(entry.deduplicationId === undefined ? {} : { deduplicationId: entry.deduplicationId }),
    });
  }

  function publish(form: URLSearchParams): string {
    const topicArn = requireTopic(form);
    const entry = readEntry(form, '');
    const bytes = entryBytes(entry);
    requests.push({ action: 'Publish', topicArn, entries: 1, bytes });
    checkEntry(topicArn, entry);
    if (bytes > SNS_MAX_PAYLOAD_BYTES)
      throw new SnsError(400, 'InvalidParameter', 'Invalid parameter: Message too long');
    const messageId = accept(topicArn, entry);
    return `<PublishResult><MessageId>${messageId}</MessageId></PublishResult>`;
  }

  function publishBatch(form: URLSearchParams): string {
    const topicArn = requireTopic(form);
    const entries = readEntries(form);
    const bytes = entries.reduce((n, e) => n + entryBytes(e), 0);
    const request = { action: 'PublishBatch', topicArn, entries: entries.length, bytes };
    const refuse = batchError(entries, bytes);
    requests.push(refuse ? { ...request, error: refuse.code } : request);
    if (refuse) throw refuse;
    const successful: string[] = [];
    const failed: string[] = [];
    for (const entry of entries) {
      const id = xml(entry.id);
      if (entryFailure.rate > 0 && entryFailure.random() < entryFailure.rate) {
        failed.push(failure(id, 'InternalError', 'Internal error, try again', false));
        continue;
      }
      const problem = entryProblem(topicArn, entry);
      if (problem) {
        failed.push(failure(id, 'InvalidParameter', problem, true));
        continue;
      }
      successful.push(`<member><Id>${id}</Id><MessageId>${accept(topicArn, entry)}</MessageId></member>`);
    }
    return `<PublishBatchResult><Successful>${successful.join('')}</Successful><Failed>${failed.join('')}</Failed></PublishBatchResult>`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Form encoding can make each UTF-8 byte three characters (`%C3%A9`); the 256 KiB limit is checked on
    // the decoded messages.
    const body = await readBody(req, MAX_REQUEST_BYTES);
    try {
      if (req.method !== 'POST') throw new SnsError(400, 'InvalidAction', 'Only POST is supported');
      if (body === undefined) throw new SnsError(413, 'RequestEntityTooLarge', 'Request is too large');
      const form = new URLSearchParams(body.toString('utf8'));
      const action = form.get('Action');
      const fault = throttles.take()
        ? new SnsError(429, 'Throttled', 'Rate exceeded')
        : genericThrottles.take()
          ? new SnsError(400, 'Throttling', 'Rate exceeded')
          : serverErrors.take()
            ? new SnsError(500, 'InternalError', 'Internal error')
            : undefined;
      if (fault) {
        requests.push({ ...sizeOf(form), error: fault.code });
        throw fault;
      }
      if (action === 'Publish') return answer(res, 'Publish', publish(form));
      if (action === 'PublishBatch') return answer(res, 'PublishBatch', publishBatch(form));
      throw new SnsError(400, 'InvalidAction', `Action ${action ?? '(none)'} is not supported here`);
    } catch (error) {
      if (!(error instanceof SnsError)) throw error;
      sendError(res, error);
    }
  }

  const listening = await serve(handle);
  return {
    ...listening,
    messages,
    requests,
    failEntries(rate, seed = 1) {
      entryFailure = { rate, random: seededRandom(seed) };
    },
    throttleNext: (n, code = 'Throttled') => (code === 'Throttled' ? throttles : genericThrottles).fail(n),
    failNext: (n) => serverErrors.fail(n),
  };
}

/** A request's action, topic and entry count, for the record of a request refused before reading it. */
function sizeOf(form: URLSearchParams): SnsRequest {
  let entries = form.has('Message') ? 1 : 0;
  while (form.has(`PublishBatchRequestEntries.member.${entries + 1}.Id`)) entries++;
  return { action: form.get('Action') ?? '', topicArn: form.get('TopicArn') ?? '', entries, bytes: 0 };
}

function requireTopic(form: URLSearchParams): string {
  const topicArn = form.get('TopicArn');
  if (!topicArn?.startsWith('arn:aws:sns:'))
    throw new SnsError(400, 'InvalidParameter', 'Invalid parameter: TopicArn');
  return topicArn;
}

/** One message's fields under `prefix` (`''` for Publish, `PublishBatchRequestEntries.member.N.`). */
function readEntry(form: URLSearchParams, prefix: string): Entry {
  const attributes: Record<string, SnsAttribute> = {};
  for (let i = 1; form.has(`${prefix}MessageAttributes.entry.${i}.Name`); i++) {
    const at = `${prefix}MessageAttributes.entry.${i}.`;
    const name = form.get(`${at}Name`)!;
    const dataType = form.get(`${at}Value.DataType`);
    const value = form.get(`${at}Value.StringValue`) ?? form.get(`${at}Value.BinaryValue`);
    if (!dataType || value === null)
      throw new SnsError(400, 'ParameterValueInvalid', `The message attribute '${name}' has no value`);
    attributes[name] = { dataType, value };
  }
  const field = (name: string) => form.get(`${prefix}${name}`) ?? undefined;
  return {
    id: field('Id') ?? '',
    message: field('Message'),
    subject: field('Subject'),
    attributes,
    groupId: field('MessageGroupId'),
    deduplicationId: field('MessageDeduplicationId'),
  };
}

function readEntries(form: URLSearchParams): Entry[] {
  const entries: Entry[] = [];
  for (let i = 1; form.has(`PublishBatchRequestEntries.member.${i}.Id`); i++)
    entries.push(readEntry(form, `PublishBatchRequestEntries.member.${i}.`));
  return entries;
}

/** Bytes SNS counts against its limit: the message and each attribute's name, type and value. */
function entryBytes(entry: Entry): number {
  let n = Buffer.byteLength(entry.message ?? '');
  for (const [name, a] of Object.entries(entry.attributes))
    n += Buffer.byteLength(name) + Buffer.byteLength(a.dataType) + Buffer.byteLength(a.value);
  return n;
}

/** Why SNS refuses the whole batch, in the order SNS checks. */
function batchError(entries: readonly Entry[], bytes: number): SnsError | undefined {
  if (entries.length === 0)
    return new SnsError(400, 'EmptyBatchRequest', 'The batch request does not contain any entries');
  if (entries.length > MAX_ENTRIES)
    return new SnsError(
      400,
      'TooManyEntriesInBatchRequest',
      `The batch request contains more entries than permissible (${MAX_ENTRIES})`,
    );
  if (new Set(entries.map((e) => e.id)).size !== entries.length)
    return new SnsError(400, 'BatchEntryIdsNotDistinct', 'Two or more batch entries have the same Id');
  const badId = entries.find((e) => !/^[A-Za-z0-9_-]{1,80}$/.test(e.id));
  if (badId) return new SnsError(400, 'InvalidBatchEntryId', `The batch entry id '${badId.id}' is invalid`);
  if (bytes > SNS_MAX_PAYLOAD_BYTES)
    return new SnsError(
      400,
      'BatchRequestTooLong',
      `The length of all the messages put together is more than the limit (${SNS_MAX_PAYLOAD_BYTES} bytes)`,
    );
  return undefined;
}

/** Why SNS refuses one message, or undefined. */
function entryProblem(topicArn: string, entry: Entry): string | undefined {
  if (entry.message === undefined || entry.message === '') return 'Invalid parameter: Empty message';
  if (entry.subject !== undefined && !/^[\x20-\x7e]{1,100}$/.test(entry.subject))
    return 'Invalid parameter: Subject';
  const fifo = topicArn.endsWith('.fifo');
  if (fifo && !entry.groupId)
    return 'Invalid parameter: The MessageGroupId parameter is required for FIFO topics';
  if (fifo && !entry.deduplicationId)
    return 'Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly';
  if (!fifo && entry.deduplicationId !== undefined)
    return 'Invalid parameter: MessageDeduplicationId is only valid for FIFO topics';
  return undefined;
}

function checkEntry(topicArn: string, entry: Entry): void {
  const problem = entryProblem(topicArn, entry);
  if (problem) throw new SnsError(400, 'InvalidParameter', problem);
}

function failure(id: string, code: string, message: string, senderFault: boolean): string {
  return `<member><Id>${id}</Id><Code>${code}</Code><Message>${xml(message)}</Message><SenderFault>${senderFault}</SenderFault></member>`;
}

function answer(res: ServerResponse, action: string, result: string): void {
  const requestId = randomUUID();
  send(
    res,
    200,
    `<${action}Response xmlns="${XMLNS}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
  );
}

function sendError(res: ServerResponse, error: SnsError): void {
  const type = error.status >= 500 ? 'Receiver' : 'Sender';
  send(
    res,
    error.status,
    `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${error.code}</Code><Message>${xml(error.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
