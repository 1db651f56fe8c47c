import { describe, expect, it } from 'vitest';
import {
  comparePositions,
  flushMicrotasks,
  ManualClock,
  MemorySource,
  type Position,
  type Sink,
  type Source,
  silentLogger,
  TopologyBuilder,
  TopologyRuntime,
  TopologyTestDriver,
} from '../../../topology/index.ts';
import { arraySink, doubler, toText } from './fixtures.ts';

function numbers() {
  const b = new TopologyBuilder('numbers');
  const input = b.source('input', new MemorySource<number>());
  const doubled = input.via('double', doubler());
  const text = doubled.via('to-text', toText()).to('texts', arraySink<string>([]));
  const dead = doubled.side('dlq').to('dead-letters', arraySink<string>([]));
  const raw = input.to('raw', arraySink<number>([]));
  return { topology: b.build(), input, text, dead, raw };
}

describe('topology runtime', () => {
  it('runs batches through fan-out and side outputs, in order per shard', async () => {
    const t = numbers();
    const driver = new TopologyTestDriver(t.topology);
    driver.send(t.input, 'shard-a', [1, 2, -3]);
    driver.send(t.input, 'shard-a', [4]);
    driver.send(t.input, 'shard-b', [5, -6]);
    await driver.settle();
    expect(driver.output(t.raw)).toHaveLength(6);
    expect([...driver.output(t.dead)].sort()).toEqual(['negative: -3', 'negative: -6']);
    const texts = driver.output(t.text);
    // within a shard, order is kept
    expect(texts.filter((s) => ['2', '4', '8'].includes(s))).toEqual(['2', '4', '8']);
    expect([...texts].sort()).toEqual(['10', '2', '4', '8']);
    await driver.close();
  });

  it('counts records in and out and batches for every node without the components doing anything', async () => {
    const t = numbers();
    const driver = new TopologyTestDriver(t.topology);
    driver.send(t.input, 's', [1, -1, 3]);
    await driver.settle();
    const byName = Object.fromEntries(driver.metrics().nodes.map((n) => [n.node, n]));
    expect(byName.double).toMatchObject({ recordsIn: 3, recordsOut: 3, batches: 1, errors: 0 });
    expect(byName['to-text']).toMatchObject({ recordsIn: 2, recordsOut: 2 });
    expect(byName['dead-letters']).toMatchObject({ recordsIn: 1, recordsOut: 0 });
    expect(byName.input).toMatchObject({ recordsIn: 3, batches: 1 });
    await driver.close();
  });

  it('checkpoints only what every sink has made durable', async () => {
    const slowWrites: Array<() => void> = [];
    const gatedSink: Sink<string> = {
      type: 'gated',
      write: () => new Promise<void>((resolve) => slowWrites.push(resolve)),
    };
    const b = new TopologyBuilder('gated');
    const input = b.source('input', new MemorySource<number>());
    input.to('fast', arraySink<number>([]));
    input.via('to-text', toText()).to('slow', gatedSink);
    const driver = new TopologyTestDriver(b.build(), { sinks: 'tap' });
    const first = driver.send(input, 's', [1]);
    const second = driver.send(input, 's', [2]);
    await flushMicrotasks();
    expect(driver.checkpoints(input, 's')).toEqual([]);
    slowWrites.shift()!();
    await flushMicrotasks();
    expect(driver.checkpoints(input, 's')).toEqual([first]);
    slowWrites.shift()!();
    await driver.settle();
    expect(driver.checkpoints(input, 's').at(-1)).toEqual(second);
    await driver.close();
  });

  it('moves the checkpoint past batches whose records were all filtered out', async () => {
    const t = numbers();
    const driver = new TopologyTestDriver(t.topology);
    driver.send(t.input, 's', [1]);
    const last = driver.send(t.input, 's', [-1, -2]);
    await driver.settle();
    expect(driver.checkpoints(t.input, 's').at(-1)).toEqual(last);
    await driver.close();
  });

  it('retries a failing sink with backoff on the injected clock and loses nothing', async () => {
    const clock = new ManualClock(0);
    let failures = 2;
    const written: number[] = [];
    const flaky: Sink<number> = {
      type: 'flaky',
      write: async (batch) => {
        if (failures-- > 0) throw new Error('database down');
        written.push(...batch);
      },
    };
    const b = new TopologyBuilder('flaky');
    const input = b.source('input', new MemorySource<number>());
    input.to('db', flaky);
    const driver = new TopologyTestDriver(b.build(), {
      clock,
      sinks: 'tap',
      sinkRetry: { maxAttempts: 0, initialDelayMs: 1000, maxDelayMs: 5000 },
    });
    const position = driver.send(input, 's', [7, 8]);
    while (clock.pending === 0) await new Promise((r) => setTimeout(r, 1));
    expect(written).toEqual([]);
    await clock.advance(1000);
    await clock.advance(2000);
    await driver.settle();
    expect(written).toEqual([7, 8]);
    expect(driver.checkpoints(input, 's')).toEqual([position]);
    expect(driver.metrics().nodes.find((n) => n.node === 'db')?.errors).toBe(2);
    await driver.close();
  });

  it('stops the worker when an operator throws, and never checkpoints the failed batch', async () => {
    const b = new TopologyBuilder('broken');
    const input = b.source('input', new MemorySource<number>());
    const out = input
      .via('explode', {
        type: 'explode',
        process: (batch: readonly number[]) => {
          if (batch.includes(13)) throw new Error('unlucky');
          return batch;
        },
      })
      .to('out', arraySink<number>([]));
    input.to(
      'slow',
      arraySink<number>([], () => new Promise((r) => setTimeout(r, 1))),
    );
    const driver = new TopologyTestDriver(b.build());
    const ok = driver.send(input, 's', [1]);
    driver.send(input, 's', [13]);
    driver.send(input, 's', [2]);
    await expect(driver.settle()).rejects.toThrow('unlucky');
    await expect(driver.close()).rejects.toThrow('unlucky');
    // nothing after the failed batch may be written or checkpointed: a restart must see it again
    expect(driver.output(out)).toEqual([1]);
    expect(driver.released(input, 's')).toEqual(ok);
    expect(driver.checkpoints(input, 's')).toEqual([ok]);
  });

  it('writes nothing after a batch a sink gave up on, so a restart reads it again in order', async () => {
    const written: number[] = [];
    const picky: Sink<number> = {
      type: 'picky',
      write: async (batch) => {
        if (batch.includes(13)) throw new Error('constraint violated');
        written.push(...batch);
      },
    };
    const b = new TopologyBuilder('picky');
    const input = b.source('input', new MemorySource<number>());
    input.to('db', picky);
    const driver = new TopologyTestDriver(b.build(), {
      sinks: 'tap',
      sinkRetry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
    });
    const ok = driver.send(input, 's', [1]);
    driver.send(input, 's', [13]);
    driver.send(input, 's', [2]);
    await expect(driver.settle()).rejects.toThrow('constraint violated');
    await expect(driver.close()).rejects.toThrow('constraint violated');
    expect(written).toEqual([1]);
    expect(driver.released(input, 's')).toEqual(ok);
  });

  it('drains in-flight batches on stop and releases each shard at its last durable position', async () => {
    const source = new MemorySource<number>();
    const out: number[] = [];
    const b = new TopologyBuilder('drain');
    const clock = new ManualClock(0);
    b.source('input', source).to(
      'slow',
      arraySink(out, () => clock.sleep(5)),
    );
    const runtime = new TopologyRuntime(b.build(), { clock, checkpointIntervalMs: 0, maxInFlightBatches: 3 });
    const done = runtime.run();
    const positions = [source.push('s', [1]), source.push('s', [2]), source.push('s', [3])];
    await flushMicrotasks();
    const stopped = runtime.stop();
    // the three writes take 5 ms each on the runtime's clock; the stop waits for them
    for (let i = 0; i < 3; i++) {
      while (clock.pending === 0) await flushMicrotasks();
      await clock.advance(5);
    }
    await stopped;
    await done;
    expect(out).toEqual([1, 2, 3]);
    expect(source.released.get('s')).toEqual(positions[2]);
    expect(comparePositions(positions[0]!, positions[2]!)).toBeLessThan(0);
  });

  it('says which shards a stop past its drain timeout still waits for, and where each one is', async () => {
    // a source whose shard ignores the stop (a stuck read): the shard cannot drain
    const stuck = new Promise<IteratorResult<{ records: number[]; position: Position }>>(() => {});
    const source: Source<number> = {
      type: 'stuck',
      async *shards() {
        yield {
          shardId: 's',
          batches: { [Symbol.asyncIterator]: () => ({ next: () => stuck }) },
          checkpoint: async () => {},
          release: async () => {},
        };
      },
    };
    const b = new TopologyBuilder('stuck');
    b.source('input', source).to('out', arraySink<number>([]));
    const clock = new ManualClock(0);
    const warnings: { message: string; fields: object }[] = [];
    const log = {
      ...silentLogger,
      warn: (fields: object, message: string) => warnings.push({ message, fields }),
      error: (fields: object, message: string) => warnings.push({ message, fields }),
    };
    const runtime = new TopologyRuntime(b.build(), { clock, log, drainTimeoutMs: 1_000 });
    void runtime.run();
    await flushMicrotasks();
    void runtime.stop();
    await clock.advance(1_000);
    await clock.advance(30_000);
    const shards = [
      {
        source: 'input',
        shardId: 's',
        phase: 'waiting for the source',
        inFlightBatches: 1,
        inFlightTimers: 0,
      },
    ];
    const undrained = [
      {
        source: 'input',
        shardId: 's',
        phase: 'waiting for the source',
        inFlightBatches: 1,
        retrying: [],
        checkpoint: undefined,
      },
    ];
    expect(warnings).toEqual([
      {
        message:
          'drain timeout: retries aborted; these shards were not drained, their records after the checkpoint are read again by the next owner',
        fields: { drainTimeoutMs: 1_000, shards: undrained },
      },
      { message: 'still stopping; waiting for these shards', fields: { shards } },
    ]);
  });
});
