/**
 * The durable ingest against a scripted PutRecords endpoint: a fake only to inject per-entry
 * failures, throttles and silences in a chosen pattern (the integration test runs the same claims
 * against kinesalite behind the fault proxy).
 */
import type { KinesisClient, PutRecordsCommand, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { durableIngest, RecordTooLargeError } from '../../../gateways/ingest/durableIngest.ts';
import { deaggregate } from '../../../sources/kinesis/retrieval/kpl.ts';
import { systemClock } from '../../../topology/index.ts';

interface Script {
  /** Whether the entry at `index` of request number `request` fails. */
  failEntry?: (request: number, index: number) => boolean;
  /** Whether request number `request` is throttled as a whole. */
  throttle?: (request: number) => boolean;
  /** Holds every request until `release` resolves. */
  hold?: () => Promise<void>;
}

/** A PutRecords endpoint that keeps what it accepted, user records de-aggregated, in order. */
function scriptedKinesis(script: Script = {}) {
  const landed: { key: string; data: string }[] = [];
  let requests = 0;
  const maxEntriesPerKey: number[] = [];
  const client = {
    async send(command: PutRecordsCommand) {
      const request = requests++;
      await script.hold?.();
      const entries = command.input.Records as PutRecordsRequestEntry[];
      const keys = entries.map((e) => e.PartitionKey!);
      maxEntriesPerKey.push(Math.max(...[...new Set(keys)].map((k) => keys.filter((x) => x === k).length)));
      if (script.throttle?.(request))
        throw Object.assign(new Error('Rate exceeded'), {
          name: 'ProvisionedThroughputExceededException',
          $metadata: { httpStatusCode: 400 },
        });
      const results = entries.map((entry, i) => {
        if (script.failEntry?.(request, i)) return { ErrorCode: 'ProvisionedThroughputExceededException' };
        const data = entry.Data!;
        const kpl = deaggregate(data);
        if (kpl.kind === 'aggregate')
          for (const r of kpl.records)
            landed.push({ key: r.partitionKey, data: Buffer.from(r.data).toString() });
        else landed.push({ key: entry.PartitionKey!, data: Buffer.from(data).toString() });
        return { SequenceNumber: String(landed.length), ShardId: 'shardId-000000000000' };
      });
      return { FailedRecordCount: results.filter((r) => 'ErrorCode' in r).length, Records: results };
    },
  } as unknown as KinesisClient;
  return { client, landed, maxEntriesPerKey, requests: () => requests };
}

const record = (key: string, n: number) => ({ partitionKey: key, data: Buffer.from(`${key}#${n}`) });
const fast = { lingerMs: 2, initialRetryDelayMs: 1, maxRetryDelayMs: 5 };

describe('durable ingest', () => {
  it('keeps each key in order and loses nothing when a fifth of the entries and requests fail', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const kinesis = scriptedKinesis({ failEntry: () => random() < 0.2, throttle: (n) => n % 5 === 1 });
    const ingest = durableIngest({
      client: kinesis.client,
      streamName: 's',
      clock: systemClock,
      limits: fast,
    });
    const keys = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
    const acked: string[] = [];
    const all: Promise<void>[] = [];
    for (let n = 0; n < 50; n++)
      for (const key of keys) {
        const r = record(key, n);
        all.push(ingest.put(r).then(() => void acked.push(`${key}#${n}`)));
      }
    await Promise.all(all);
    expect(acked).toHaveLength(2000);
    // every acknowledged record is in the stream, exactly once, and each key's are in order
    expect(new Set(kinesis.landed.map((l) => l.data)).size).toBe(2000);
    expect(kinesis.landed).toHaveLength(2000);
    for (const key of keys) {
      const mine = kinesis.landed.filter((l) => l.key === key).map((l) => Number(l.data.split('#')[1]));
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
    // never two entries of one key in one request
    expect(Math.max(...kinesis.maxEntriesPerKey)).toBe(1);
    expect(ingest.stats().entriesFailed).toBeGreaterThan(0);
    expect(ingest.stats().requestsFailed).toBeGreaterThan(0);
    await ingest.close();
  });

  it('resolves a record only once it is in the stream', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const kinesis = scriptedKinesis({ hold: () => gate });
    const ingest = durableIngest({
      client: kinesis.client,
      streamName: 's',
      clock: systemClock,
      limits: fast,
    });
    let durable = false;
    const put = ingest.put(record('a', 1)).then(() => {
      durable = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(durable).toBe(false);
    expect(kinesis.landed).toHaveLength(0);
    release();
    await put;
    expect(kinesis.landed).toEqual([{ key: 'a', data: 'a#1' }]);
    await ingest.close();
  });

  it('refuses past its bound, makes room again, and rejects what it still holds when closed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const kinesis = scriptedKinesis({ hold: () => gate });
    const ingest = durableIngest({
      client: kinesis.client,
      streamName: 's',
      clock: systemClock,
      limits: { ...fast, maxBufferedRecords: 10 },
    });
    const taken = Array.from({ length: 10 }, (_, n) => ingest.offer(record(`k${n % 3}`, n)));
    expect(taken.every((t) => t.accepted)).toBe(true);
    const refused = ingest.offer(record('k0', 99));
    expect(refused).toMatchObject({ accepted: false, reason: 'full' });
    expect(ingest.hasRoom).toBe(false);
    const room = ingest.whenRoom();
    release();
    await room;
    expect(ingest.hasRoom).toBe(true);
    for (const t of taken) if (t.accepted) await t.durable;
    expect(kinesis.landed).toHaveLength(10);

    // a stream that never answers: close gives up after its drain time and rejects, never resolves
    const silent = scriptedKinesis({ hold: () => new Promise(() => {}) });
    const stuck = durableIngest({ client: silent.client, streamName: 's', clock: systemClock, limits: fast });
    const pending = stuck.put(record('z', 1));
    await stuck.close(50);
    await expect(pending).rejects.toThrow(/closed before the record was put/);
    expect(stuck.offer(record('z', 2))).toMatchObject({ accepted: false, reason: 'closed' });
    await ingest.close();
  });

  it('sends a waiting key as one aggregate and refuses a record Kinesis cannot hold', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let first = true;
    const kinesis = scriptedKinesis({
      hold: () => {
        if (!first) return Promise.resolve();
        first = false;
        return gate;
      },
    });
    const ingest = durableIngest({
      client: kinesis.client,
      streamName: 's',
      clock: systemClock,
      limits: fast,
    });
    const head = ingest.put(record('hub-1', 0));
    await new Promise((r) => setTimeout(r, 10)); // the first request is in flight, held
    const rest = Array.from({ length: 20 }, (_, n) => ingest.put(record('hub-1', n + 1)));
    release();
    await Promise.all([head, ...rest]);
    expect(kinesis.requests()).toBe(2);
    expect(kinesis.landed.map((l) => l.data)).toEqual(Array.from({ length: 21 }, (_, n) => `hub-1#${n}`));
    expect(() => ingest.offer({ partitionKey: 'x', data: new Uint8Array(1024 * 1024) })).toThrow(
      RecordTooLargeError,
    );
    await ingest.close();
  });
});
