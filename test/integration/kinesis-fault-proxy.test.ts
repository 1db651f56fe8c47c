/**
 * The Kinesis fault proxy (`infra/local/kinesisFaults.ts`) with the real SDK client in front of
 * kinesalite: other operations pass unchanged, throttled requests put nothing, failed entries are
 * truly absent from the stream while the others land in order, and a stalled stream holds requests
 * until it is unstalled (dropping those whose client gave up).
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KinesisFaultProxy, startKinesisFaultProxy } from '../../infra/local/kinesisFaults.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { testEnv } from '../support/wait.ts';

const target = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Every record's data on the stream's single shard, read straight from kinesalite. */
async function streamData(direct: KinesisClient, stream: string): Promise<string[]> {
  const [shard] = (await direct.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
  let iterator = (
    await direct.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: shard!.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    )
  ).ShardIterator;
  const out: string[] = [];
  for (;;) {
    const page = await direct.send(new GetRecordsCommand({ ShardIterator: iterator }));
    for (const r of page.Records ?? []) out.push(decoder.decode(r.Data));
    if ((page.Records ?? []).length === 0) return out;
    iterator = page.NextShardIterator;
  }
}

function entries(labels: string[]) {
  return labels.map((l) => ({ PartitionKey: 'k', Data: encoder.encode(l) }));
}

describe('Kinesis fault proxy (kinesalite, SDK v3)', () => {
  let proxy: KinesisFaultProxy;
  let direct: KinesisClient;
  let viaProxy: KinesisClient;

  beforeAll(async () => {
    proxy = await startKinesisFaultProxy({ target, seed: 7 });
    direct = createKinesisClient({ region: 'us-east-1', endpoint: target });
    viaProxy = createKinesisClient({ region: 'us-east-1', endpoint: proxy.endpoint, maxAttempts: 1 });
  });
  afterAll(async () => {
    viaProxy.destroy();
    direct.destroy();
    await proxy.close();
  });

  it('passes other operations through and puts everything when no fault is set', async () => {
    const stream = uniqueStream('faults-pass');
    await createStream(viaProxy, stream, 1);
    const out = await viaProxy.send(
      new PutRecordsCommand({ StreamName: stream, Records: entries(['a', 'b', 'c']) }),
    );
    expect(out.FailedRecordCount).toBe(0);
    expect(out.Records?.every((r) => r.SequenceNumber !== undefined)).toBe(true);
    expect(await streamData(direct, stream)).toEqual(['a', 'b', 'c']);
  });

  it('fails entries one by one: the failed ones are not in the stream, the others are, in order', async () => {
    const stream = uniqueStream('faults-entries');
    await createStream(direct, stream, 1);
    proxy.set({ entryFailureRate: 0.3 });
    const before = proxy.stats().entriesFailed;
    const labels = Array.from({ length: 200 }, (_, i) => `r${i}`);
    const out = await viaProxy.send(new PutRecordsCommand({ StreamName: stream, Records: entries(labels) }));
    proxy.set({ entryFailureRate: 0 });

    const results = out.Records ?? [];
    expect(results).toHaveLength(200);
    const failed = results.filter((r) => r.ErrorCode !== undefined);
    expect(failed.length).toBeGreaterThan(30);
    expect(failed.length).toBeLessThan(90);
    expect(out.FailedRecordCount).toBe(failed.length);
    expect(proxy.stats().entriesFailed - before).toBe(failed.length);
    for (const r of failed) {
      expect(['ProvisionedThroughputExceededException', 'InternalFailure']).toContain(r.ErrorCode);
      expect(r.ErrorMessage).toBeTruthy();
      expect(r.SequenceNumber).toBeUndefined();
    }
    const put = labels.filter((_, i) => results[i]!.ErrorCode === undefined);
    expect(await streamData(direct, stream)).toEqual(put);
  });

  it('throttles whole requests: the SDK sees ProvisionedThroughputExceededException, nothing is put', async () => {
    const stream = uniqueStream('faults-throttle');
    await createStream(direct, stream, 1);
    proxy.set({ throttleRate: 1 });
    const before = proxy.stats().throttled;
    const error = await viaProxy
      .send(new PutRecordsCommand({ StreamName: stream, Records: entries(['x', 'y']) }))
      .then(
        () => undefined,
        (e: Error) => e,
      );
    proxy.set({ throttleRate: 0 });
    expect(error?.name).toBe('ProvisionedThroughputExceededException');
    expect(proxy.stats().throttled).toBe(before + 1);
    expect(await streamData(direct, stream)).toEqual([]);
  });

  it('holds every request while stalled, forwards them once unstalled, drops those given up', async () => {
    const stream = uniqueStream('faults-stall');
    await createStream(direct, stream, 1);
    proxy.set({ stalled: true });
    const before = proxy.stats().stalledRequests;
    let answered = false;
    const waiting = viaProxy
      .send(new PutRecordsCommand({ StreamName: stream, Records: entries(['kept']) }))
      .then((out) => {
        answered = true;
        return out;
      });
    const abandoned = new AbortController();
    const givenUp = viaProxy
      .send(new PutRecordsCommand({ StreamName: stream, Records: entries(['dropped']) }), {
        abortSignal: abandoned.signal,
      })
      .catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 400));
    expect(answered).toBe(false);
    abandoned.abort();
    expect(await givenUp).toBeInstanceOf(Error);
    await new Promise((r) => setTimeout(r, 50));
    expect(proxy.stats().stalledRequests - before).toBe(2);

    proxy.set({ stalled: false });
    expect((await waiting).FailedRecordCount).toBe(0);
    expect(await streamData(direct, stream)).toEqual(['kept']);
  });
});
