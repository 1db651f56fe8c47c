/**
 * Keyed state on the real parts: leased KCL workers on kinesalite and dynalite, snapshots in Redis.
 * A counter per partition key goes on exactly, with no count repeated or skipped, while its shard is
 * split, handed from one worker to another, and its two children merged: each key's count follows
 * it to the child that owns its hash, and the new owner of a shard restores what the old one wrote.
 */
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { afterAll, describe, expect, it } from 'vitest';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { redisStateStore } from '../../state/keyed/redisStateStore.ts';
import {
  type Operator,
  type RawRecord,
  type Sink,
  type StateStore,
  TopologyBuilder,
  TopologyRuntime,
} from '../../topology/index.ts';
import { uniqueTable } from '../support/dynamodb.ts';
import { testKclSource } from '../support/kclInProcess.ts';
import { createStream, mergeFirstTwoShards, splitFirstShard, uniqueStream } from '../support/kinesis.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const KEYS = Array.from({ length: 20 }, (_, i) => `device-${i}`);

/** Counts the records of each partition key in keyed state; each record leaves as `key:count`. */
function counter(): Operator<RawRecord, string> {
  return {
    type: 'counter',
    state: [{ name: 'count', kind: 'value' }],
    process: (batch, ctx) => {
      const count = ctx.state!.value<number>('count');
      return batch.map((r) => {
        const n = (count.get(r.partitionKey) ?? 0) + 1;
        count.set(r.partitionKey, n);
        return `${r.partitionKey}:${n}`;
      });
    },
  };
}

function startWorker(stream: string, table: string, workerId: string, store: StateStore, into: Set<string>) {
  const sink: Sink<string> = {
    type: 'collect',
    write: async (batch) => {
      for (const out of batch) into.add(out);
    },
  };
  const b = new TopologyBuilder('keyed-it');
  b.source('kinesis', testKclSource(stream, table, workerId))
    .via('counter', counter())
    .to('collect', sink);
  const runtime = new TopologyRuntime(b.build(), { stateStore: store, checkpointIntervalMs: 200 });
  const done = runtime.run();
  done.catch(() => {});
  return { runtime, done };
}

describe('keyed state on Kinesis shards (kinesalite, dynalite, Redis)', () => {
  const kinesis = createKinesisClient({
    region: 'us-east-1',
    endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
  });
  afterAll(() => kinesis.destroy());

  /** Puts `rounds` records for every key, in order. */
  async function put(stream: string, rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++)
      for (const key of KEYS)
        await kinesis.send(
          new PutRecordCommand({
            StreamName: stream,
            PartitionKey: key,
            Data: new TextEncoder().encode(key),
          }),
        );
  }

  it('counts every key exactly through a split, a hand-off to another worker and a merge', async () => {
    const stream = uniqueStream('keyed');
    const table = uniqueTable('keyed');
    const namespace = `keyed-it-${Date.now()}`;
    const redisUrl = testEnv('SHARDFLOW_TEST_REDIS_URL');
    await createStream(kinesis, stream, 1);
    const outputs = new Set<string>();
    const seen = (n: number) => () => outputs.size >= n * KEYS.length;

    const a = startWorker(stream, table, 'worker-a', redisStateStore({ redisUrl, namespace }), outputs);
    await put(stream, 5);
    await waitFor('5 records of every key', seen(5), 60_000);

    const parent = await splitFirstShard(kinesis, stream);
    await put(stream, 5);
    await waitFor('10 records of every key', seen(10), 60_000);
    // the parent's keys went to the children that own their hashes
    const children = a.runtime.metrics().shards.filter((s) => s.shardId !== parent);
    expect(children.reduce((sum, s) => sum + (s.state?.restoredEntries ?? 0), 0)).toBe(KEYS.length);

    // hand-off: the first worker stops and gives its leases back; the second restores their state
    await a.runtime.stop();
    await a.done;
    const b = startWorker(stream, table, 'worker-b', redisStateStore({ redisUrl, namespace }), outputs);
    await mergeFirstTwoShards(kinesis, stream);
    await put(stream, 5);
    await waitFor('15 records of every key', seen(15), 90_000);
    await b.runtime.stop();
    await b.done;

    for (const key of KEYS) {
      const counts = [...outputs].filter((o) => o.startsWith(`${key}:`)).map((o) => Number(o.split(':')[1]));
      expect(counts.sort((x, y) => x - y)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    }
    expect(outputs.size).toBe(15 * KEYS.length);
  }, 240_000);
});
