/**
 * Keyed timers of operators: processing-time timers fire from the runtime's clock while a shard is
 * idle, event-time timers fire in timestamp order when the operator's watermark passes them, and a
 * timer's outputs flow downstream (main and side outputs) in the node's lane, never beyond the
 * checkpoint the shard's sinks have made durable.
 */
import { describe, expect, it } from 'vitest';
import {
  AsyncQueue,
  type BatchContext,
  flushMicrotasks,
  ManualClock,
  MemorySource,
  type Operator,
  type Position,
  type ShardHandle,
  type Sink,
  type Source,
  type SourceBatch,
  TopologyBuilder,
  TopologyRuntime,
  TopologyTestDriver,
} from '../../../topology/index.ts';
import { arraySink } from './fixtures.ts';

/** A reading of one key at event time `t`. */
interface Reading {
  readonly key: string;
  readonly t: number;
}

/** Waits (without a timeout of its own) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  for (let round = 0; round < 10_000; round++) {
    if (condition()) return;
    await flushMicrotasks(2);
  }
  throw new Error('condition never held');
}

/** A sink that keeps every record with the context it was written with. */
function recordingSink<T>(into: { record: T; ctx: BatchContext }[]): Sink<T> {
  return {
    type: 'recording',
    write: async (batch, ctx) => {
      for (const record of batch) into.push({ record, ctx });
    },
  };
}

/**
 * Registers, for each reading, an event-time timer at `t + 10` under its key, and moves the watermark
 * to the batch's highest `t`; each fired timer becomes `key@timestamp`.
 */
function eventTimeAlarm(): Operator<Reading, string> {
  return {
    type: 'event-time-alarm',
    process: (batch, ctx) => {
      for (const r of batch) ctx.timers?.registerEventTime(r.key, r.t + 10);
      ctx.timers?.advanceWatermark(Math.max(...batch.map((r) => r.t)));
      return [];
    },
    onTimer: (fired) => fired.map((f) => `${f.key}@${f.timestamp}`),
  };
}

/** Registers a processing-time timer `delayMs` after each batch, under the key `flush`. */
function flushAfter(delayMs: number, log: string[] = []): Operator<Reading, string> {
  return {
    type: 'flush-after',
    process: (batch, ctx) => {
      log.push(`process ${batch.map((r) => r.key).join(',')}`);
      ctx.timers?.registerProcessingTime('flush', ctx.clock.now() + delayMs);
      return batch.map((r) => r.key);
    },
    onTimer: (fired, ctx) => {
      log.push(`timer ${ctx.shardId}`);
      return fired.map((f) => `${f.key} ${f.domain} ${f.timestamp}`);
    },
  };
}

function pipeline(operator: Operator<Reading, string>) {
  const b = new TopologyBuilder('timers');
  const input = b.source('input', new MemorySource<Reading>());
  const out = input.via('timed', operator).to('out', arraySink<string>([]));
  return { topology: b.build(), input, out };
}

describe('operator timers', () => {
  it('fires a processing-time timer on an idle shard from the runtime clock and delivers its outputs to the sink', async () => {
    const clock = new ManualClock(1_000);
    const t = pipeline(flushAfter(5_000));
    const driver = new TopologyTestDriver(t.topology, { clock });
    driver.send(t.input, 's', [{ key: 'a', t: 0 }]);
    await driver.settle();
    expect(driver.output(t.out)).toEqual(['a']);

    await clock.advance(4_999);
    await driver.settle();
    expect(driver.output(t.out)).toEqual(['a']);

    // no batch arrives: the clock alone fires the timer
    await clock.advance(1);
    await driver.settle();
    expect(driver.output(t.out)).toEqual(['a', 'flush processing-time 6000']);
    const timed = driver.metrics().nodes.find((n) => n.node === 'timed')!;
    expect(timed.timersFired).toBe(1);
    expect(timed.recordsOut).toBe(2);

    // it fired once: later time brings nothing more
    await clock.advance(60_000);
    await driver.settle();
    expect(driver.output(t.out)).toHaveLength(2);
    await driver.close();
  });

  it('fires event-time timers in timestamp order once the watermark passes them', async () => {
    const t = pipeline(eventTimeAlarm());
    const driver = new TopologyTestDriver(t.topology);
    driver.send(t.input, 's', [
      { key: 'a', t: 100 },
      { key: 'b', t: 50 },
      { key: 'c', t: 70 },
    ]);
    await driver.settle();
    // watermark 100: b@60 and c@80 are due, a@110 is not
    expect(driver.output(t.out)).toEqual(['b@60', 'c@80']);

    driver.send(t.input, 's', [{ key: 'd', t: 105 }]);
    await driver.settle();
    expect(driver.output(t.out)).toEqual(['b@60', 'c@80']);

    driver.send(t.input, 's', [{ key: 'e', t: 200 }]);
    await driver.settle();
    expect(driver.output(t.out)).toEqual(['b@60', 'c@80', 'a@110', 'd@115']);

    // a lower watermark is ignored: nothing fires, and e@210 waits
    driver.send(t.input, 's', [{ key: 'f', t: 10 }]);
    await driver.settle();
    expect(driver.output(t.out)).toEqual(['b@60', 'c@80', 'a@110', 'd@115', 'f@20']);
    await driver.close();
  });

  it('keeps one timer per key, timestamp and domain, and deletes timers that have not fired', async () => {
    const clock = new ManualClock(0);
    const operator: Operator<string, string> = {
      type: 'dedupe',
      process: (commands, ctx) => {
        const timers = ctx.timers!;
        for (const command of commands) {
          const [op, domain, key, at] = command.split(' ') as [string, string, string, string];
          const time = Number(at);
          if (op === 'add' && domain === 'event') timers.registerEventTime(key, time);
          if (op === 'add' && domain === 'processing') timers.registerProcessingTime(key, time);
          if (op === 'del' && domain === 'event') timers.deleteEventTime(key, time);
          if (op === 'del' && domain === 'processing') timers.deleteProcessingTime(key, time);
          if (op === 'watermark') timers.advanceWatermark(time);
        }
        return [];
      },
      onTimer: (fired) => fired.map((f) => `${f.domain} ${f.key} ${f.timestamp}`),
    };
    const b = new TopologyBuilder('dedupe');
    const input = b.source('input', new MemorySource<string>());
    const out = input.via('timed', operator).to('out', arraySink<string>([]));
    const driver = new TopologyTestDriver(b.build(), { clock });
    driver.send(input, 's', [
      'add event k 10',
      'add event k 10',
      'add event k 10',
      'add event k 20',
      'add event j 10',
      'add processing k 10',
      'add processing k 10',
      'add event gone 5',
      'del event gone 5',
      'add processing gone 5',
      'del processing gone 5',
      'del event never 7',
      // deleted and registered again: it fires once
      'add event again 15',
      'del event again 15',
      'add event again 15',
    ]);
    driver.send(input, 's', ['watermark 0 x 20']);
    await driver.settle();
    expect(driver.output(out)).toEqual([
      'event-time k 10',
      'event-time j 10',
      'event-time again 15',
      'event-time k 20',
    ]);

    await clock.advance(100);
    await driver.settle();
    expect(driver.output(out).slice(4)).toEqual(['processing-time k 10']);
    expect(driver.metrics().nodes.find((n) => n.node === 'timed')!.timersFired).toBe(5);
    await driver.close();
  });

  it('never runs a timer alongside a batch of the same shard, while other shards fire freely', async () => {
    const clock = new ManualClock(0);
    const log: string[] = [];
    let releaseBatch: () => void = () => {};
    let active = 0;
    let overlapped = false;
    const inner = flushAfter(1_000, log);
    const operator: Operator<Reading, string> = {
      ...inner,
      process: async (batch, ctx) => {
        active++;
        if (batch.some((r) => r.key === 'slow')) await new Promise<void>((r) => (releaseBatch = r));
        const out = await inner.process(batch, ctx);
        active--;
        return out;
      },
      onTimer: (fired, ctx) => {
        if (ctx.shardId === 's' && active > 0) overlapped = true;
        return inner.onTimer!(fired, ctx);
      },
    };
    const t = pipeline(operator);
    const driver = new TopologyTestDriver(t.topology, { clock });
    driver.send(t.input, 's', [{ key: 'a', t: 0 }]);
    driver.send(t.input, 'other', [{ key: 'b', t: 0 }]);
    await driver.settle();
    driver.send(t.input, 's', [{ key: 'slow', t: 0 }]);
    await until(() => active === 1);

    // both shards' timers are due; shard s is busy with a batch, shard other is not
    await clock.advance(1_000);
    await until(() => log.includes('timer other'));
    expect(log).not.toContain('timer s');

    releaseBatch();
    await driver.settle();
    expect(overlapped).toBe(false);
    const ofS = log.filter((line) => line !== 'process b' && line !== 'timer other');
    // the timer waited for the batch; the batch re-registered at 1000 + 1000, a timer that is not due
    expect(ofS).toEqual(['process a', 'process slow', 'timer s']);
    expect(driver.output(t.out)).toContain('flush processing-time 1000');
    await driver.close();
  });

  it('routes a timer’s outputs through side outputs and marks them as coming from a timer', async () => {
    const clock = new ManualClock(0);
    const operator: Operator<Reading, Reading, { alerts: string }> = {
      type: 'watchdog',
      sideOutputs: ['alerts'],
      process: (batch, ctx) => {
        for (const r of batch) ctx.timers?.registerProcessingTime(r.key, ctx.clock.now() + 60_000);
        return batch;
      },
      onTimer: (fired, ctx) => {
        for (const f of fired) ctx.side('alerts', `${f.key} silent since ${f.timestamp - 60_000}`);
        return [];
      },
    };
    const main: { record: Reading; ctx: BatchContext }[] = [];
    const alerts: { record: string; ctx: BatchContext }[] = [];
    const b = new TopologyBuilder('watchdog');
    const input = b.source('input', new MemorySource<Reading>());
    const watched = input.via('watchdog', operator);
    watched.to('readings', recordingSink(main));
    watched.side('alerts').to('alerts', recordingSink(alerts));
    const driver = new TopologyTestDriver(b.build(), { clock, sinks: 'tap' });
    const position = driver.send(input, 's', [{ key: 'device-1', t: 0 }]);
    await driver.settle();
    await clock.advance(60_000);
    await driver.settle();

    expect(alerts.map((a) => a.record)).toEqual(['device-1 silent since 0']);
    expect(alerts[0]!.ctx).toMatchObject({ shardId: 's', position, fromTimer: true });
    // the main output had nothing from the timer: no empty batch was passed on for it
    expect(main.map((m) => m.record.key)).toEqual(['device-1']);
    expect(main[0]!.ctx.fromTimer).toBeUndefined();
    await driver.close();
  });

  it('retries a failing onTimer under the operator’s retry policy, like process', async () => {
    const clock = new ManualClock(0);
    let failures = 2;
    const operator: Operator<Reading, string> = {
      ...flushAfter(1_000),
      retry: 'like-sink',
      onTimer: (fired) => {
        if (failures-- > 0) throw new Error('state store down');
        return fired.map((f) => f.key);
      },
    };
    const t = pipeline(operator);
    const driver = new TopologyTestDriver(t.topology, {
      clock,
      sinkRetry: { maxAttempts: 0, initialDelayMs: 500, maxDelayMs: 500 },
    });
    driver.send(t.input, 's', [{ key: 'a', t: 0 }]);
    await driver.settle();
    await clock.advance(1_000);
    await until(() => driver.metrics().nodes.find((n) => n.node === 'timed')!.errors === 1);
    expect(driver.output(t.out)).toEqual(['a']);
    await clock.advance(500);
    await clock.advance(500);
    await driver.settle();
    expect(driver.output(t.out)).toEqual(['a', 'flush']);
    expect(driver.metrics().nodes.find((n) => n.node === 'timed')!.errors).toBe(2);
    await driver.close();
  });

  it('stops the worker when onTimer throws under the default operator policy', async () => {
    const clock = new ManualClock(0);
    const operator: Operator<Reading, string> = {
      ...flushAfter(1_000),
      onTimer: () => {
        throw new Error('bug in onTimer');
      },
    };
    const t = pipeline(operator);
    const driver = new TopologyTestDriver(t.topology, { clock });
    const ok = driver.send(t.input, 's', [{ key: 'a', t: 0 }]);
    await driver.settle();
    await clock.advance(1_000);
    await expect(driver.settle()).rejects.toThrow('bug in onTimer');
    await expect(driver.close()).rejects.toThrow('bug in onTimer');
    expect(driver.released(t.input, 's')).toEqual(ok);
  });

  it('stops the worker when a sink gives up on a timer’s outputs, and checkpoints nothing after it', async () => {
    const clock = new ManualClock(0);
    const picky: Sink<string> = {
      type: 'picky',
      write: async (batch) => {
        if (batch.some((s) => s.startsWith('flush'))) throw new Error('constraint violated');
      },
    };
    const b = new TopologyBuilder('picky');
    const input = b.source('input', new MemorySource<Reading>());
    input.via('timed', flushAfter(1_000)).to('db', picky);
    const driver = new TopologyTestDriver(b.build(), {
      clock,
      sinks: 'tap',
      sinkRetry: { maxAttempts: 2, initialDelayMs: 0, maxDelayMs: 0 },
    });
    const ok = driver.send(input, 's', [{ key: 'a', t: 0 }]);
    await driver.settle();
    await clock.advance(1_000);
    await clock.advance(0);
    await expect(driver.settle()).rejects.toThrow('constraint violated');
    await expect(driver.close()).rejects.toThrow('constraint violated');
    expect(driver.checkpoints(input, 's')).toEqual([ok]);
    expect(driver.released(input, 's')).toEqual(ok);
  });

  it('refuses a timer from an operator without onTimer', async () => {
    const operator: Operator<Reading, string> = {
      type: 'no-handler',
      process: (batch, ctx) => {
        ctx.timers?.registerEventTime('k', 1);
        return batch.map((r) => r.key);
      },
    };
    const t = pipeline(operator);
    const driver = new TopologyTestDriver(t.topology);
    driver.send(t.input, 's', [{ key: 'a', t: 0 }]);
    await expect(driver.settle()).rejects.toThrow('node "timed" registers timers but has no onTimer');
    await expect(driver.close()).rejects.toThrow('no onTimer');
  });

  it('cancels a shard’s timers when the shard is released: none fires afterwards', async () => {
    const clock = new ManualClock(0);
    const log: string[] = [];
    const t = pipeline(flushAfter(1_000, log));
    const driver = new TopologyTestDriver(t.topology, { clock });
    const last = driver.send(t.input, 's', [{ key: 'a', t: 0 }]);
    await driver.settle();
    expect(clock.pending).toBe(1);

    driver.endShard(t.input, 's');
    await until(() => driver.released(t.input, 's') !== undefined);
    expect(driver.released(t.input, 's')).toEqual(last);
    // the sleep on the clock is gone, and time passing fires nothing
    expect(clock.pending).toBe(0);
    await clock.advance(10_000);
    await flushMicrotasks();
    expect(log).toEqual(['process a']);
    expect(driver.output(t.out)).toEqual(['a']);
    await driver.close();
  });

  it('drains a timer’s outputs before the shard is released on shutdown', async () => {
    const clock = new ManualClock(0);
    const written: string[] = [];
    let openGate: () => void = () => {};
    const gate = new Promise<void>((r) => (openGate = r));
    const b = new TopologyBuilder('drain');
    const input = b.source('input', new MemorySource<Reading>());
    input.via('timed', flushAfter(1_000)).to(
      'gated',
      arraySink(written, () => (written.length > 0 ? gate : Promise.resolve())),
    );
    const driver = new TopologyTestDriver(b.build(), { clock, sinks: 'tap' });
    const position = driver.send(input, 's', [{ key: 'a', t: 0 }]);
    await driver.settle();
    await clock.advance(1_000);
    await until(() => driver.metrics().shards[0]!.inFlightTimers === 1);

    let closed = false;
    const closing = driver.close().then(() => (closed = true));
    await flushMicrotasks();
    expect(closed).toBe(false);
    expect(driver.released(input, 's')).toBeUndefined();
    openGate();
    await closing;
    expect(written).toEqual(['a', 'flush processing-time 1000']);
    expect(driver.released(input, 's')).toEqual(position);
  });

  it('never moves the checkpoint past a batch still upstream of the timer’s node', async () => {
    const clock = new ManualClock(0);
    let openGate: () => void = () => {};
    const gate = new Promise<void>((r) => (openGate = r));
    const gated: Operator<Reading, Reading> = {
      type: 'gate',
      process: async (batch) => {
        if (batch.some((r) => r.key === 'held')) await gate;
        return batch;
      },
    };
    const written: { record: string; ctx: BatchContext }[] = [];
    const b = new TopologyBuilder('checkpoints');
    const input = b.source('input', new MemorySource<Reading>());
    input.via('gate', gated).via('timed', flushAfter(1_000)).to('out', recordingSink(written));
    const driver = new TopologyTestDriver(b.build(), { clock, sinks: 'tap' });
    const first = driver.send(input, 's', [{ key: 'a', t: 0 }]);
    await driver.settle();
    const second = driver.send(input, 's', [{ key: 'held', t: 0 }]);
    await flushMicrotasks();

    // the timer fires while the second batch is held upstream: its outputs carry the first position
    await clock.advance(1_000);
    await until(() => written.length === 2);
    expect(written[1]).toMatchObject({
      record: 'flush processing-time 1000',
      ctx: { position: first, fromTimer: true },
    });
    await flushMicrotasks();
    expect(driver.checkpoints(input, 's')).toEqual([first]);

    openGate();
    await driver.settle();
    expect(driver.checkpoints(input, 's')).toEqual([first, second]);
    await driver.close();
  });

  it('writes a timer’s outputs after those of the batches before it', async () => {
    const clock = new ManualClock(0);
    const slowWrites: Array<() => void> = [];
    const written: string[] = [];
    const slow: Sink<string> = {
      type: 'slow',
      write: async (batch) => {
        await new Promise<void>((r) => slowWrites.push(r));
        written.push(...batch);
      },
    };
    const b = new TopologyBuilder('order');
    const input = b.source('input', new MemorySource<Reading>());
    input.via('timed', flushAfter(1_000)).to('slow', slow);
    const driver = new TopologyTestDriver(b.build(), { clock, sinks: 'tap' });
    const position = driver.send(input, 's', [{ key: 'a', t: 0 }]);
    await until(() => slowWrites.length === 1);
    // the timer fires while the batch is still at the sink: its outputs queue behind the batch's
    await clock.advance(1_000);
    await until(() => driver.metrics().shards[0]!.inFlightTimers === 1);
    expect(driver.checkpoints(input, 's')).toEqual([]);

    slowWrites.shift()!();
    await until(() => slowWrites.length === 1);
    expect(written).toEqual(['a']);
    expect(driver.checkpoints(input, 's')).toEqual([position]);
    slowWrites.shift()!();
    await driver.settle();
    expect(written).toEqual(['a', 'flush processing-time 1000']);
    // the timer's outputs moved nothing: the batch's position was checkpointed already
    expect(driver.checkpoints(input, 's')).toEqual([position]);
    await driver.close();
  });

  it('fires a processing-time timer that is due when a batch ends right after that batch', async () => {
    const clock = new ManualClock(0);
    const t = pipeline(flushAfter(0));
    const driver = new TopologyTestDriver(t.topology, { clock });
    driver.send(t.input, 's', [{ key: 'a', t: 0 }]);
    await driver.settle();
    expect(driver.output(t.out)).toEqual(['a', 'flush processing-time 0']);
    await driver.close();
  });
});

describe('openShard', () => {
  /** A one-shard source that resumes after `start` and reads its batches from `batches`. */
  function oneShard(
    start: Position | undefined,
    batches: AsyncQueue<SourceBatch<Reading>>,
    checkpoints: Position[],
  ): Source<Reading> {
    return {
      type: 'one-shard',
      async *shards(ctx) {
        ctx.signal.addEventListener('abort', () => batches.abort(), { once: true });
        const handle: ShardHandle<Reading> = {
          shardId: 'only',
          startPosition: start,
          batches,
          checkpoint: async (p) => void checkpoints.push(p),
          release: async () => {},
        };
        yield handle;
      },
    };
  }

  /** Registers a processing-time tick when a shard opens, and again on every tick. */
  function ticker(everyMs: number): Operator<Reading, string> {
    return {
      type: 'ticker',
      openShard: (ctx) => ctx.timers.registerProcessingTime('tick', ctx.clock.now() + everyMs),
      process: (batch) => batch.map((r) => r.key),
      onTimer: (fired, ctx) => {
        ctx.timers.registerProcessingTime('tick', ctx.clock.now() + everyMs);
        return fired.map((f) => `tick ${f.timestamp} at ${ctx.position.sequenceNumber}`);
      },
    };
  }

  function run(start: Position | undefined) {
    const clock = new ManualClock(0);
    const batches = new AsyncQueue<SourceBatch<Reading>>();
    const checkpoints: Position[] = [];
    const out: string[] = [];
    const b = new TopologyBuilder('restart');
    b.source('input', oneShard(start, batches, checkpoints))
      .via('ticker', ticker(10_000))
      .to('out', arraySink(out));
    const runtime = new TopologyRuntime(b.build(), { clock, checkpointIntervalMs: 0 });
    const done = runtime.run();
    return { clock, batches, checkpoints, out, runtime, done };
  }

  it('lets a shard that stays idle after a restart fire timers at its start position', async () => {
    const t = run({ sequenceNumber: '41', subSequenceNumber: 0 });
    await until(() => t.clock.pending === 1);
    await t.clock.advance(10_000);
    await until(() => t.out.length === 1);
    await t.clock.advance(10_000);
    await until(() => t.out.length === 2);
    expect(t.out).toEqual(['tick 10000 at 41', 'tick 20000 at 41']);
    await t.runtime.stop();
    await t.done;
    // the start position is durable already: it is not handed back as a checkpoint
    expect(t.checkpoints).toEqual([]);
  });

  it('holds timers that come due before the node has a position until the shard’s first batch', async () => {
    const t = run(undefined);
    await until(() => t.runtime.metrics().shards.length === 1);
    await t.clock.advance(30_000);
    await flushMicrotasks();
    expect(t.out).toEqual([]);

    const position: Position = { sequenceNumber: '7', subSequenceNumber: 0 };
    t.batches.push({ records: [{ key: 'a', t: 0 }], position });
    await until(() => t.out.length === 2);
    // one tick for the three intervals that passed: a timer fires once, however late
    expect(t.out).toEqual(['a', 'tick 10000 at 7']);
    await until(() => t.checkpoints.length === 1);
    expect(t.checkpoints).toEqual([position]);
    await t.runtime.stop();
    await t.done;
  });
});
