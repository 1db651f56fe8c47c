/**
 * Dead letters on an Amazon SQS queue (production), sent with `SendMessageBatch`: at most 10 entries
 * and 256 KiB per request. Each message is the dead letter as JSON; its reason code, spec and stream
 * position are also message attributes, so consumers can filter without parsing. A payload that
 * would make the message exceed the size limit is cut (on a base64 boundary) and the message says so
 * (`payloadTruncated`, `payloadBytes`, attribute `truncated`).
 *
 * SQS may accept part of a batch. The entries it accepted are remembered for that batch, and the
 * write fails naming the refused ones; the runtime retries the same batch with backoff, and only
 * the entries not yet accepted are sent again. On a FIFO queue (`….fifo`) each message carries a
 * deduplication id from its stream position, so a resend after a lost answer is not stored twice.
 */
import { createHash } from 'node:crypto';
import {
  type MessageAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadLetter } from '../../topology/index.ts';
import type { DeadLetterStore } from './deadLetterStore.ts';

/** The SQS limit on one message, and on one batch request. */
export const SQS_MAX_MESSAGE_BYTES = 262_144;
const MAX_ENTRIES = 10;
const MAX_REASON_CHARS = 4096;

/** The one SQS call the store makes (a fault-injecting fake stands in for it in tests). */
export type SqsSender = Pick<SQSClient, 'send'>;

/** Options of the SQS dead-letter store. */
export interface SqsDeadLetterOptions {
  readonly client: SqsSender;
  readonly queueUrl: string;
  /** Size limit of one message in bytes (body and attributes); default 256 KiB. */
  readonly maxMessageBytes?: number;
}

/** Some entries of a batch were refused by SQS; the store sends only those again. */
class SqsBatchError extends Error {
  override readonly name = 'SqsBatchError';
  constructor(readonly failed: readonly { code: string; senderFault: boolean }[]) {
    super(
      `SQS refused ${failed.length} dead letter(s): ${[...new Set(failed.map((f) => f.code))].join(', ')}`,
    );
  }
}

function attributes(d: DeadLetter, truncated: boolean): Record<string, MessageAttributeValue> {
  const out: Record<string, MessageAttributeValue> = {};
  const text = (name: string, value: string | undefined) => {
    if (value !== undefined && value !== '') out[name] = { DataType: 'String', StringValue: value };
  };
  const num = (name: string, value: number | undefined) => {
    if (value !== undefined) out[name] = { DataType: 'Number', StringValue: String(value) };
  };
  text('node', d.node);
  text('code', d.code);
  text('specId', d.specId);
  num('specVersion', d.specVersion);
  text('stream', d.stream);
  text('shardId', d.shardId);
  text('sequenceNumber', d.sequenceNumber);
  num('subSequenceNumber', d.subSequenceNumber ?? 0);
  if (truncated) text('truncated', 'true');
  return out;
}

function attributeBytes(attrs: Record<string, MessageAttributeValue>): number {
  let n = 0;
  for (const [name, v] of Object.entries(attrs))
    n +=
      Buffer.byteLength(name) + Buffer.byteLength(v.DataType ?? '') + Buffer.byteLength(v.StringValue ?? '');
  return n;
}

/** One dead letter as an SQS message: its body, attributes and size, cut to fit `limit`. */
export function toSqsMessage(
  d: DeadLetter,
  limit: number = SQS_MAX_MESSAGE_BYTES,
): { body: string; attributes: Record<string, MessageAttributeValue>; bytes: number; truncated: boolean } {
  const letter: DeadLetter =
    d.reason.length > MAX_REASON_CHARS ? { ...d, reason: d.reason.slice(0, MAX_REASON_CHARS) } : d;
  let body = JSON.stringify(letter);
  let attrs = attributes(letter, false);
  let bytes = Buffer.byteLength(body) + attributeBytes(attrs);
  if (bytes <= limit) return { body, attributes: attrs, bytes, truncated: false };

  attrs = attributes(letter, true);
  const payloadBytes = Buffer.from(letter.payloadBase64, 'base64').length;
  const shell = JSON.stringify({ ...letter, payloadBase64: '', payloadTruncated: true, payloadBytes });
  const room = Math.max(0, limit - Buffer.byteLength(shell) - attributeBytes(attrs));
  // Base64 is plain ASCII in JSON; a multiple of 4 characters keeps the kept prefix decodable.
  const kept = letter.payloadBase64.slice(0, Math.floor(room / 4) * 4);
  body = JSON.stringify({ ...letter, payloadBase64: kept, payloadTruncated: true, payloadBytes });
  bytes = Buffer.byteLength(body) + attributeBytes(attrs);
  return { body, attributes: attrs, bytes, truncated: true };
}

function deduplicationId(d: DeadLetter): string {
  return createHash('sha256')
    .update(
      `${d.stream}\u0000${d.shardId}\u0000${d.sequenceNumber}\u0000${d.subSequenceNumber ?? 0}\u0000${d.item ?? ''}\u0000${d.node}`,
    )
    .digest('hex');
}

/** Dead letters sent to an SQS queue in batches of at most 10 entries and 256 KiB. */
export function sqsDeadLetterStore(options: SqsDeadLetterOptions): DeadLetterStore {
  const limit = options.maxMessageBytes ?? SQS_MAX_MESSAGE_BYTES;
  const fifo = options.queueUrl.endsWith('.fifo');
  // Per batch (the runtime retries the same array), the indexes SQS has accepted.
  const accepted = new WeakMap<readonly DeadLetter[], Set<number>>();

  return {
    store: { name: `sqs.${options.queueUrl.split('/').at(-1) ?? 'dead-letters'}`, kind: 'sqs' },
    async write(batch) {
      let done = accepted.get(batch);
      if (done === undefined) {
        done = new Set();
        accepted.set(batch, done);
      }
      const failed: { code: string; senderFault: boolean }[] = [];
      let entries: { index: number; entry: SendMessageBatchRequestEntry }[] = [];
      let bytes = 0;

      const flush = async () => {
        if (entries.length === 0) return;
        const sending = entries;
        entries = [];
        bytes = 0;
        const answer = await options.client.send(
          new SendMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: sending.map((e) => e.entry) }),
        );
        const byId = new Map(sending.map((e) => [e.entry.Id!, e.index]));
        for (const ok of answer.Successful ?? []) {
          const index = byId.get(ok.Id ?? '');
          if (index !== undefined) done!.add(index);
        }
        for (const bad of answer.Failed ?? [])
          failed.push({ code: bad.Code ?? 'unknown', senderFault: bad.SenderFault ?? false });
      };

      for (let index = 0; index < batch.length; index++) {
        if (done.has(index)) continue;
        const d = batch[index]!;
        const message = toSqsMessage(d, limit);
        if (entries.length === MAX_ENTRIES || bytes + message.bytes > limit) await flush();
        entries.push({
          index,
          entry: {
            Id: `e${index}`,
            MessageBody: message.body,
            MessageAttributes: message.attributes,
            ...(fifo ? { MessageGroupId: d.shardId, MessageDeduplicationId: deduplicationId(d) } : {}),
          },
        });
        bytes += message.bytes;
      }
      await flush();
      if (done.size < batch.length)
        throw new SqsBatchError(failed.length > 0 ? failed : [{ code: 'no-answer', senderFault: false }]);
      accepted.delete(batch);
    },
  };
}
