/**
 * Notifications on Amazon SNS topics, sent with `PublishBatch`. A batch is grouped by topic and cut
 * into requests of at most 10 entries and 256 KiB (counted as SNS counts: the UTF-8 bytes of each
 * message and of its attributes' names, types and values), sent with a bounded number in flight.
 * Each message carries its idempotency key as the attribute `shardflow.key` and a few alarm facts; on
 * a FIFO topic (`….fifo`) the deduplication id is the key's SHA-256, so SNS drops a resend within its
 * 5-minute window, and the group is the episode (one episode's messages stay in order).
 *
 * SNS answers per entry: `Failed` entries that are SNS's fault (`SenderFault` false) or throttled are
 * retried, the others never succeed as they are. A throttled or failed whole request retries all of
 * its entries; only a service that could not be reached makes `send` throw.
 */
import {
  type MessageAttributeValue,
  PublishBatchCommand,
  type PublishBatchRequestEntry,
  type PublishBatchResponse,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { failedDelivery, isThrottlingCode, sha256Hex } from './aws.ts';
import type { Channel, Delivery, DeliveryResult, NotificationPayload } from './channel.ts';
import { mapBounded } from './mapBounded.ts';

/** SNS's limit on one message, and on one PublishBatch request (messages and attributes). */
export const SNS_MAX_PAYLOAD_BYTES = 262_144;
const MAX_ENTRIES = 10;
const MAX_SUBJECT_CHARS = 100;
/** The alarm facts that travel as message attributes (subscribers filter on them). */
const ATTRIBUTE_FACTS = ['severity', 'episodeId'] as const;

/** Options of the SNS channel. */
export interface SnsChannelOptions {
  /**
   * PublishBatch requests in flight at once (default 16: at SNS's tens of milliseconds a request,
   * 16 × 10 entries keep one worker well above 2,000 notifications a second).
   */
  readonly concurrency?: number;
  /** The wait asked for after a throttle or a server error (default 1000 ms). */
  readonly backoffMs?: number;
}

/** One delivery as a PublishBatch entry, with its size as SNS counts it. */
interface Entry {
  readonly index: number;
  readonly entry: PublishBatchRequestEntry;
  readonly bytes: number;
}

/** One PublishBatch request to send. */
interface Chunk {
  readonly topicArn: string;
  readonly entries: readonly Entry[];
}

/** A channel publishing notifications to SNS topics (`payload.to` is the topic ARN). */
export function snsChannel(client: SNSClient, options: SnsChannelOptions = {}): Channel<'sns'> {
  const concurrency = options.concurrency ?? 16;
  const backoffMs = options.backoffMs ?? 1000;

  async function publish(chunk: Chunk, results: DeliveryResult[]): Promise<void> {
    let answer: PublishBatchResponse;
    try {
      answer = await client.send(
        new PublishBatchCommand({
          TopicArn: chunk.topicArn,
          PublishBatchRequestEntries: chunk.entries.map((e) => e.entry),
        }),
      );
    } catch (error) {
      const result = failedDelivery(error, backoffMs);
      for (const e of chunk.entries) results[e.index] = result;
      return;
    }
    const indexById = new Map(chunk.entries.map((e) => [e.entry.Id!, e.index]));
    for (const e of chunk.entries)
      results[e.index] = { ok: false, retry: true, error: 'SNS did not answer for this entry' };
    for (const ok of answer.Successful ?? []) {
      const index = indexById.get(ok.Id ?? '');
      if (index !== undefined) results[index] = { ok: true, ...(ok.MessageId ? { ref: ok.MessageId } : {}) };
    }
    for (const bad of answer.Failed ?? []) {
      const index = indexById.get(bad.Id ?? '');
      if (index === undefined) continue;
      const retry = !bad.SenderFault || isThrottlingCode(bad.Code);
      const error = `${bad.Code ?? 'Failed'}: ${bad.Message ?? 'SNS refused the message'}`;
      results[index] = retry
        ? { ok: false, retry, error, retryAfterMs: backoffMs }
        : { ok: false, retry, error };
    }
  }

  return {
    kind: 'sns',
    async send(batch) {
      const results: DeliveryResult[] = new Array(batch.length);
      const chunks = chunkBatch(batch, results);
      await mapBounded(chunks, concurrency, (chunk) => publish(chunk, results));
      return results;
    },
  };
}

/**
 * The PublishBatch requests for a batch: by topic, at most 10 entries and 256 KiB each. A message
 * too large on its own gets its (final) result in `results` and no request.
 */
function chunkBatch(batch: readonly Delivery<'sns'>[], results: DeliveryResult[]): Chunk[] {
  const chunks: Chunk[] = [];
  for (const [topicArn, indexes] of byTopic(batch)) {
    const fifo = topicArn.endsWith('.fifo');
    let entries: Entry[] = [];
    let bytes = 0;
    for (const index of indexes) {
      const entry = toEntry(batch[index]!, index, fifo);
      if (entry.bytes > SNS_MAX_PAYLOAD_BYTES) {
        results[index] = {
          ok: false,
          retry: false,
          error: `the message is ${entry.bytes} bytes with its attributes, over SNS's limit of ${SNS_MAX_PAYLOAD_BYTES}`,
        };
        continue;
      }
      if (entries.length === MAX_ENTRIES || bytes + entry.bytes > SNS_MAX_PAYLOAD_BYTES) {
        chunks.push({ topicArn, entries });
        entries = [];
        bytes = 0;
      }
      entries.push(entry);
      bytes += entry.bytes;
    }
    if (entries.length > 0) chunks.push({ topicArn, entries });
  }
  return chunks;
}

function byTopic(batch: readonly Delivery<'sns'>[]): Map<string, number[]> {
  const topics = new Map<string, number[]>();
  batch.forEach((d, index) => {
    const indexes = topics.get(d.payload.to);
    if (indexes) indexes.push(index);
    else topics.set(d.payload.to, [index]);
  });
  return topics;
}

function toEntry(delivery: Delivery<'sns'>, index: number, fifo: boolean): Entry {
  const { payload, key } = delivery;
  const attributes = messageAttributes(key, payload);
  const subject = snsSubject(payload.subject);
  const entry: PublishBatchRequestEntry = {
    Id: `m${index}`,
    Message: payload.body,
    MessageAttributes: attributes,
    ...(subject === undefined ? {} : { Subject: subject }),
    ...(fifo ? { MessageGroupId: groupId(delivery), MessageDeduplicationId: sha256Hex(key) } : {}),
  };
  return { index, entry, bytes: Buffer.byteLength(payload.body) + attributeBytes(attributes) };
}

function messageAttributes(key: string, payload: NotificationPayload): Record<string, MessageAttributeValue> {
  const attributes: Record<string, MessageAttributeValue> = {
    'shardflow.key': { DataType: 'String', StringValue: key },
  };
  for (const name of ATTRIBUTE_FACTS) {
    const value = payload.facts[name];
    if (value !== undefined && value !== null && String(value) !== '')
      attributes[name] = { DataType: 'String', StringValue: String(value) };
  }
  return attributes;
}

function attributeBytes(attributes: Record<string, MessageAttributeValue>): number {
  let n = 0;
  for (const [name, v] of Object.entries(attributes))
    n +=
      Buffer.byteLength(name) + Buffer.byteLength(v.DataType ?? '') + Buffer.byteLength(v.StringValue ?? '');
  return n;
}

/** The FIFO message group: the episode (its messages in order), or the key; SNS allows 128 printable ASCII. */
function groupId(delivery: Delivery<'sns'>): string {
  const episode = delivery.payload.facts.episodeId;
  const id = episode === undefined || episode === null || episode === '' ? delivery.key : String(episode);
  return /^[\x21-\x7e]{1,128}$/.test(id) ? id : sha256Hex(id);
}

/**
 * A subject SNS accepts: printable ASCII on one line, at most 100 characters (accents dropped, other
 * characters and line breaks made spaces); undefined when nothing is left.
 */
export function snsSubject(subject: string): string | undefined {
  const ascii = subject
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  return ascii === '' ? undefined : ascii.slice(0, MAX_SUBJECT_CHARS).trimEnd();
}
