/**
 * The SQS dead-letter store. No SQS-compatible server runs here: the npm ones (sqslite,
 * local-aws-sqs) speak only SQS's older query protocol, which the current AWS SDK no longer uses, and
 * ElasticMQ needs a JVM download. So a fake client stands in for SQS: it keeps SQS's limits (10
 * entries and 256 KiB per request) and injects the faults to test, partial batch failures and
 * failed requests. The dead letters go through the real topology runtime, whose retry drives resends.
 */
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { deadLetterStoreSink } from '../../sinks/deadletter/deadLetterStore.ts';
import {
  SQS_MAX_MESSAGE_BYTES,
  type SqsSender,
  sqsDeadLetterStore,
  toSqsMessage,
} from '../../sinks/deadletter/sqsDeadLetterStore.ts';
import { type DeadLetter, MemorySource, TopologyBuilder, TopologyTestDriver } from '../../topology/index.ts';

type Fault = 'none' | { failIds: readonly string[] } | 'throw';

/** A queue behind a fake `send`: keeps SQS's batch limits, and fails as scripted, one fault per call. */
function fakeSqs(faults: Fault[] = []) {
  const requests: SendMessageBatchRequestEntry[][] = [];
  const queue: SendMessageBatchRequestEntry[] = [];
  const client: SqsSender = {
    send: (async (command: SendMessageBatchCommand) => {
      if (!(command instanceof SendMessageBatchCommand)) throw new Error('unexpected command');
      const entries = command.input.Entries ?? [];
      requests.push(entries);
      if (entries.length > 10)
        throw Object.assign(new Error('too many entries'), { name: 'TooManyEntriesInBatchRequest' });
      const size = entries.reduce(
        (n, e) => n + Buffer.byteLength(e.MessageBody ?? '') + attributeBytes(e),
        0,
      );
      if (size > SQS_MAX_MESSAGE_BYTES)
        throw Object.assign(new Error('batch too long'), { name: 'BatchRequestTooLong' });
      const fault = faults.shift() ?? 'none';
      if (fault === 'throw') throw Object.assign(new Error('connection reset'), { name: 'TimeoutError' });
      const failIds = fault === 'none' ? [] : fault.failIds;
      const ok = entries.filter((e) => !failIds.includes(e.Id!));
      queue.push(...ok);
      return {
        Successful: ok.map((e) => ({ Id: e.Id, MessageId: `m-${queue.length}`, MD5OfMessageBody: '' })),
        Failed: entries
          .filter((e) => failIds.includes(e.Id!))
          .map((e) => ({ Id: e.Id, Code: 'InternalError', SenderFault: false, Message: 'try again' })),
      };
    }) as SqsSender['send'],
  };
  return { client, requests, queue };
}

function attributeBytes(e: SendMessageBatchRequestEntry): number {
  let n = 0;
  for (const [name, v] of Object.entries(e.MessageAttributes ?? {}))
    n +=
      Buffer.byteLength(name) + Buffer.byteLength(v.DataType ?? '') + Buffer.byteLength(v.StringValue ?? '');
  return n;
}

function letter(i: number, payload: Buffer = Buffer.from(`frame-${i}`)): DeadLetter {
  return {
    node: 'decode',
    reason: 'checksum mismatch',
    code: 'checksum-mismatch',
    specId: 'env-h1',
    specVersion: 3,
    stream: 'telemetry',
    shardId: 'shardId-000000000001',
    sequenceNumber: String(49_000 + i),
    payloadBase64: payload.toString('base64'),
    failedAt: 1_700_000_000_000 + i,
  };
}

const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/shardflow-dead-letters';

async function throughRuntime(client: SqsSender, batches: DeadLetter[][], queueUrl = QUEUE) {
  const b = new TopologyBuilder('dlq');
  const dead = b.source('dead', new MemorySource<DeadLetter>());
  dead.to('dead-letters', deadLetterStoreSink(sqsDeadLetterStore({ client, queueUrl })));
  const driver = new TopologyTestDriver(b.build(), {
    sinks: 'tap',
    sinkRetry: { maxAttempts: 0, initialDelayMs: 5, maxDelayMs: 20 },
  });
  const positions = batches.map((batch) => driver.send(dead, 'shardId-000000000001', batch));
  await driver.settle();
  const checkpoints = driver.checkpoints(dead, 'shardId-000000000001');
  await driver.close();
  return { positions, checkpoints };
}

const bodies = (queue: SendMessageBatchRequestEntry[]) =>
  queue.map(
    (e) => JSON.parse(e.MessageBody!) as DeadLetter & { payloadTruncated?: boolean; payloadBytes?: number },
  );

describe('SQS dead-letter store', () => {
  it('sends batches of at most 10 entries with code, spec and position as attributes', async () => {
    const sqs = fakeSqs();
    const letters = Array.from({ length: 25 }, (_, i) => letter(i));
    await throughRuntime(sqs.client, [letters]);
    expect(sqs.requests.map((r) => r.length)).toEqual([10, 10, 5]);
    expect(bodies(sqs.queue)).toEqual(letters);
    expect(sqs.queue[3]!.MessageAttributes).toMatchObject({
      code: { DataType: 'String', StringValue: 'checksum-mismatch' },
      specId: { DataType: 'String', StringValue: 'env-h1' },
      specVersion: { DataType: 'Number', StringValue: '3' },
      shardId: { StringValue: 'shardId-000000000001' },
      sequenceNumber: { StringValue: '49003' },
      subSequenceNumber: { DataType: 'Number', StringValue: '0' },
    });
    expect(sqs.queue[0]!.MessageGroupId).toBeUndefined();
  });

  it('cuts an oversized payload to fit 256 KiB and says so, and keeps requests under 256 KiB', async () => {
    const big = Buffer.alloc(400 * 1024, 7);
    const sqs = fakeSqs();
    await throughRuntime(sqs.client, [
      [letter(1, Buffer.alloc(100 * 1024, 1)), letter(2, big), letter(3, Buffer.alloc(100 * 1024, 3))],
    ]);
    const [first, second, third] = bodies(sqs.queue);
    expect(first!.payloadTruncated).toBeUndefined();
    expect(Buffer.from(third!.payloadBase64, 'base64')).toEqual(Buffer.alloc(100 * 1024, 3));
    expect(second).toMatchObject({
      payloadTruncated: true,
      payloadBytes: big.length,
      sequenceNumber: '49002',
    });
    const kept = Buffer.from(second!.payloadBase64, 'base64');
    expect(kept.length).toBeGreaterThan(180 * 1024);
    expect(kept).toEqual(big.subarray(0, kept.length));
    expect(sqs.queue[1]!.MessageAttributes?.truncated?.StringValue).toBe('true');
    const message = toSqsMessage(letter(2, big));
    expect(message.bytes).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
    // three messages of ~136, ~256 and ~136 KiB cannot share a request
    expect(sqs.requests.map((r) => r.length)).toEqual([1, 1, 1]);
  });

  it('resends only the entries SQS refused, until every one is accepted; then the shard checkpoints', async () => {
    const sqs = fakeSqs([{ failIds: ['e2', 'e7'] }, 'none', { failIds: ['e2'] }, 'throw', 'none']);
    const letters = Array.from({ length: 12 }, (_, i) => letter(i));
    const { positions, checkpoints } = await throughRuntime(sqs.client, [letters]);
    // 1st request: 10 entries, two refused; 2nd: the last 2 of the batch; then e2 and e7 again,
    // e2 refused once more, a failed request, and e2 alone
    expect(sqs.requests.map((r) => r.map((e) => e.Id))).toEqual([
      ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9'],
      ['e10', 'e11'],
      ['e2', 'e7'],
      ['e2'],
      ['e2'],
    ]);
    // every letter exactly once in the queue
    expect(
      bodies(sqs.queue)
        .map((d) => d.sequenceNumber)
        .sort(),
    ).toEqual(letters.map((d) => d.sequenceNumber).sort());
    expect(checkpoints.at(-1)).toEqual(positions.at(-1));
  });

  it('gives each message of a FIFO queue a deduplication id from its stream position', async () => {
    const sqs = fakeSqs();
    await throughRuntime(sqs.client, [[letter(1), letter(2)], [letter(1)]], `${QUEUE}.fifo`);
    const [a, b, again] = sqs.queue;
    expect(a!.MessageGroupId).toBe('shardId-000000000001');
    expect(a!.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(b!.MessageDeduplicationId).not.toBe(a!.MessageDeduplicationId);
    expect(again!.MessageDeduplicationId).toBe(a!.MessageDeduplicationId);
  });
});
