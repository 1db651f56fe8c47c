/**
 * The shard reader's timing on a manual clock. The Kinesis client here is a small fake on purpose:
 * kinesalite never throttles and its iterators expire only after five real minutes, so injecting
 * `ProvisionedThroughputExceededException`, `LimitExceededException` and `ExpiredIteratorException`
 * needs a fake. Everything else about the reader is tested against kinesalite
 * (test/integration/kinesis-source.test.ts).
 */
import {
  type _Record,
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
  LimitExceededException,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { shardReader } from '../../../sources/kinesis/retrieval/shardReader.ts';
import { flushMicrotasks, ManualClock, type RawRecord, type SourceBatch } from '../../../topology/index.ts';

type Page = Partial<GetRecordsCommandOutput> | Error;

/** A scripted Kinesis: GetRecords answers from `pages` in order; every call is logged with its time. */
class FakeKinesis {
  readonly calls: Array<{ op: 'GetShardIterator' | 'GetRecords'; at: number }> = [];
  readonly iteratorRequests: GetShardIteratorCommandInput[] = [];
  readonly iteratorFailures: Error[] = [];
  private iteratorCount = 0;

  constructor(
    private readonly clock: ManualClock,
    private readonly pages: Page[],
    /** What GetRecords answers once `pages` is used up. */
    private readonly afterPages: Page = { Records: [], NextShardIterator: 'it-idle', MillisBehindLatest: 0 },
  ) {}

  readonly send = async (command: unknown): Promise<unknown> => {
    if (command instanceof GetShardIteratorCommand) {
      this.calls.push({ op: 'GetShardIterator', at: this.clock.now() });
      const failure = this.iteratorFailures.shift();
      if (failure) throw failure;
      this.iteratorRequests.push(command.input);
      return { ShardIterator: `it-${++this.iteratorCount}` };
    }
    if (command instanceof GetRecordsCommand) {
      this.calls.push({ op: 'GetRecords', at: this.clock.now() });
      const page = this.pages.shift() ?? this.afterPages;
      if (page instanceof Error) throw page;
      return page;
    }
    throw new Error('unexpected command');
  };

  get client(): KinesisClient {
    return this as unknown as KinesisClient;
  }

  readsAt(): number[] {
    return this.calls.filter((c) => c.op === 'GetRecords').map((c) => c.at);
  }
}

function records(...sequenceNumbers: string[]): _Record[] {
  return sequenceNumbers.map((s) => ({
    SequenceNumber: s,
    PartitionKey: `pk-${s}`,
    Data: new TextEncoder().encode(`data-${s}`),
    ApproximateArrivalTimestamp: new Date(1_700_000_000_000),
  }));
}

const page = (seqs: string[], options: { shardEnd?: boolean } = {}): Page => ({
  Records: records(...seqs),
  NextShardIterator: options.shardEnd ? undefined : 'it-next',
  MillisBehindLatest: 0,
});
const empty = (): Page => page([]);

function throughputExceeded(): Error {
  return new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} });
}

/** Advances the clock in small steps until `promise` settles; returns its result. */
async function pump<T>(clock: ManualClock, promise: Promise<T>, stepMs = 10): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => {
    settled = true;
  });
  // Let the reader park on the clock before time moves, so waits are measured from where they began.
  await flushMicrotasks();
  for (let i = 0; i < 10_000 && !settled; i++) await clock.advance(stepMs);
  return watched;
}

function reader(
  fake: FakeKinesis,
  clock: ManualClock,
  overrides: { maxRecords?: number; signal?: AbortSignal } = {},
) {
  return shardReader({
    client: fake.client,
    clock,
    streamName: 'telemetry',
    shardId: 'shardId-000000000000',
    start: { type: 'TRIM_HORIZON' },
    maxRecords: overrides.maxRecords ?? 100,
    idleTimeBetweenReadsMs: 200,
    maxIdleTimeMs: 1000,
    backoff: { initialDelayMs: 100, maxDelayMs: 300 },
    random: () => 1,
    signal: overrides.signal,
  });
}

describe('shard reader', () => {
  it('waits longer after each empty page, up to the max, and resets when records arrive', async () => {
    const clock = new ManualClock(0);
    const fake = new FakeKinesis(clock, [empty(), empty(), empty(), empty(), empty(), page(['1']), empty()]);
    const abort = new AbortController();
    const batches = reader(fake, clock, { signal: abort.signal })[Symbol.asyncIterator]();
    const first = await pump(clock, batches.next());
    expect((first.value as SourceBatch<RawRecord>).records.map((r) => r.sequenceNumber)).toEqual(['1']);
    // waits 200, 400, 800, then capped at 1000
    expect(fake.readsAt()).toEqual([0, 200, 600, 1400, 2400, 3400]);
    const pending = batches.next();
    await clock.advance(199);
    expect(fake.readsAt()).toHaveLength(6);
    await clock.advance(1);
    // records reset the wait to its base
    expect(fake.readsAt().at(-1)).toBe(3600);
    abort.abort();
    await expect(pending).resolves.toMatchObject({ done: true });
  });

  it('reads again at once after a full page, and only when the consumer pulls', async () => {
    const clock = new ManualClock(0);
    const fake = new FakeKinesis(clock, [page(['1', '2']), page(['3'])]);
    const batches = reader(fake, clock, { maxRecords: 2 })[Symbol.asyncIterator]();
    await pump(clock, batches.next());
    await clock.advance(5000);
    // nothing fetched while the consumer did not ask
    expect(fake.readsAt()).toEqual([0]);
    const second = await pump(clock, batches.next());
    expect(second.value?.position).toEqual({ sequenceNumber: '3', subSequenceNumber: 0 });
    expect(fake.readsAt()).toEqual([0, 5000]);
    await batches.return?.();
  });

  it('backs off exponentially, capped, on throughput exceeded and limit exceeded', async () => {
    const clock = new ManualClock(0);
    const fake = new FakeKinesis(clock, [
      throughputExceeded(),
      throughputExceeded(),
      throughputExceeded(),
      throughputExceeded(),
      page(['7']),
    ]);
    fake.iteratorFailures.push(new LimitExceededException({ message: 'too many', $metadata: {} }));
    const batches = reader(fake, clock)[Symbol.asyncIterator]();
    const batch = await pump(clock, batches.next());
    expect(batch.value?.records).toHaveLength(1);
    expect(fake.calls.filter((c) => c.op === 'GetShardIterator').map((c) => c.at)).toEqual([0, 100]);
    // 100, 200, then capped at 300
    expect(fake.readsAt()).toEqual([100, 200, 400, 700, 1000]);
    await batches.return?.();
  });

  it('re-acquires an expired iterator just after the last record read, and ends at the shard end', async () => {
    const clock = new ManualClock(0);
    const expired = new ExpiredIteratorException({ message: 'expired', $metadata: {} });
    const fake = new FakeKinesis(clock, [page(['10', '11']), expired, page(['12'], { shardEnd: true })]);
    const shard = reader(fake, clock);
    const seen: string[] = [];
    const consume = (async () => {
      for await (const batch of shard) seen.push(...batch.records.map((r) => r.sequenceNumber));
    })();
    await pump(clock, consume);
    expect(seen).toEqual(['10', '11', '12']);
    expect(fake.iteratorRequests.map((r) => [r.ShardIteratorType, r.StartingSequenceNumber])).toEqual([
      ['TRIM_HORIZON', undefined],
      ['AFTER_SEQUENCE_NUMBER', '11'],
    ]);
    expect(shard.reachedEnd).toBe(true);
  });

  it('maps records to RawRecords and passes millisBehindLatest through', async () => {
    const clock = new ManualClock(0);
    const fake = new FakeKinesis(clock, [{ ...page(['5']), MillisBehindLatest: 4200 }]);
    const batches = reader(fake, clock)[Symbol.asyncIterator]();
    const { value } = await pump(clock, batches.next());
    expect(value?.millisBehindLatest).toBe(4200);
    expect(value?.records[0]).toEqual({
      stream: 'telemetry',
      shardId: 'shardId-000000000000',
      sequenceNumber: '5',
      partitionKey: 'pk-5',
      arrivedAt: 1_700_000_000_000,
      data: new TextEncoder().encode('data-5'),
    });
    await batches.return?.();
  });

  it('ends promptly when aborted while waiting on an idle shard', async () => {
    const clock = new ManualClock(0);
    const fake = new FakeKinesis(clock, []);
    const abort = new AbortController();
    const shard = reader(fake, clock, { signal: abort.signal });
    const next = shard[Symbol.asyncIterator]().next();
    await clock.advance(3000);
    expect(clock.pending).toBe(1);
    abort.abort();
    await expect(next).resolves.toEqual({ done: true, value: undefined });
    expect(shard.reachedEnd).toBe(false);
    expect(clock.pending).toBe(0);
  });
});
