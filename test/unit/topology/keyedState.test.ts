/**
 * Keyed state owned by the shard: an operator's value and map state and its timers are snapshotted
 * with the shard's position, restored by whoever takes the shard over (after a crash right after a
 * snapshot, in the middle of a snapshot write, or while the old owner still runs), split between the
 * children of a reshard by hash range, and the outputs equal those of one uninterrupted run.
 */
import { describe, expect, it } from 'vitest';
import { embeddedStateStore } from '../../../state/keyed/embeddedStateStore.ts';
import {
  flushMicrotasks,
  hashKeyOf,
  ManualClock,
  type Operator,
  type Position,
  StateLostError,
  type StateStore,
  TopologyBuilder,
  TopologyRuntime,
} from '../../../topology/index.ts';
import { CrashableStore, keepingSink, ScriptedSource, until } from '../../support/scriptedSource.ts';

/** A reading of one device: partition key, event time, value, and its sequence number in the shard. */
interface Reading {
  readonly key: string;
  readonly t: number;
  readonly v: number;
  readonly seq: number;
}

const at = (seq: number): Position => ({ sequenceNumber: String(seq), subSequenceNumber: 0 });

/**
 * A rule-like operator: a reading above 10 opens a condition (map state) and an event-time timer
 * `durationMs` later; one at or below 10 clears both; a timer that fires raises an alarm naming when
 * the condition began, once per condition. A processing-time timer per key, 60 s after its last
 * reading, reports the key silent with how many readings it had (value state).
 */
function thresholdRule(durationMs = 10): Operator<Reading, string> {
  return {
    type: 'threshold-rule',
    state: [
      { name: 'count', kind: 'value' },
      { name: 'pending', kind: 'map' },
    ],
    process: (batch, ctx) => {
      const count = ctx.state!.value<number>('count');
      const pending = ctx.state!.map<number>('pending');
      for (const r of batch) {
        count.set(r.key, (count.get(r.key) ?? 0) + 1);
        const since = pending.get(r.key, 'high');
        if (r.v > 10 && since === undefined) {
          pending.set(r.key, 'high', r.t);
          ctx.timers!.registerEventTime(r.key, r.t + durationMs);
        } else if (r.v <= 10 && since !== undefined) {
          pending.clear(r.key);
          ctx.timers!.deleteEventTime(r.key, since + durationMs);
        }
        ctx.timers!.registerProcessingTime(r.key, ctx.clock.now() + 60_000);
      }
      ctx.timers!.advanceWatermark(Math.max(...batch.map((r) => r.t)));
      return [];
    },
    onTimer: (fired, ctx) =>
      fired.map((f) => {
        if (f.domain === 'processing-time')
          return `silent ${f.key} count=${ctx.state!.value<number>('count').get(f.key)}`;
        const pending = ctx.state!.map<number>('pending');
        pending.set(f.key, 'alarmed', f.timestamp);
        return `alarm ${f.key} since=${pending.get(f.key, 'high')}`;
      }),
  };
}

interface Worker {
  readonly source: ScriptedSource<Reading>;
  readonly runtime: TopologyRuntime;
  readonly outputs: string[];
  readonly done: Promise<void>;
}

function startWorker(
  store: StateStore,
  clock: ManualClock,
  options: { alive?: () => boolean; durationMs?: number } = {},
): Worker {
  const source = new ScriptedSource<Reading>((r) => at(r.seq));
  const outputs: string[] = [];
  const b = new TopologyBuilder('keyed');
  b.source('readings', source)
    .via('rule', thresholdRule(options.durationMs))
    .to('out', keepingSink(outputs, options.alive));
  const runtime = new TopologyRuntime(b.build(), { clock, stateStore: store, checkpointIntervalMs: 0 });
  const done = runtime.run();
  done.catch(() => {});
  return { source, runtime, outputs, done };
}

/** Readings of `devices` devices, alternating above and below the threshold in runs. */
function readings(count: number, devices: number, firstSeq = 1): Reading[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `dev-${i % devices}`,
    t: 1_000 + i * 20,
    v: Math.floor(i / devices) % 4 < 2 ? 20 : 5,
    seq: firstSeq + i,
  }));
}

/** What one uninterrupted run of the rule produces from `input` (each output once). */
async function reference(input: readonly Reading[], settleAt: number): Promise<string[]> {
  const clock = new ManualClock(0);
  const worker = startWorker(embeddedStateStore(), clock);
  const shard = worker.source.open({ shardId: 's-0' });
  shard.send(input, 7);
  await until(() => shard.checkpoints.at(-1)?.sequenceNumber === String(input.at(-1)!.seq));
  await clock.advance(settleAt);
  await until(() => worker.outputs.filter((o) => o.startsWith('silent')).length === 6);
  shard.batches.end();
  worker.source.end();
  await worker.done;
  return [...new Set(worker.outputs)].sort();
}

/** Readings of six devices, 40 each. */
const INPUT = readings(240, 6);

/**
 * The shard's next owner reads again after `checkpoint` in batches of `size`, runs until its silence
 * timers fire, and ends; returns its outputs.
 */
async function finishOnNextOwner(
  store: StateStore,
  clock: ManualClock,
  checkpoint: Position,
  size: number,
): Promise<string[]> {
  const b = startWorker(store, clock);
  const shard = b.source.open({ shardId: 's-0', startPosition: checkpoint });
  shard.send(
    INPUT.filter((r) => r.seq > Number(checkpoint.sequenceNumber)),
    size,
  );
  await until(() => shard.checkpoints.at(-1)?.sequenceNumber === String(INPUT.at(-1)!.seq));
  await clock.advance(61_000);
  await until(() => b.outputs.filter((o) => o.startsWith('silent')).length === 6);
  shard.batches.end();
  b.source.end();
  await b.done;
  return b.outputs;
}

describe('keyed state owned by the shard', () => {
  const input = INPUT;

  it('gives the outputs of an uninterrupted run after a crash right after a snapshot and before its checkpoint', async () => {
    const expected = await reference(input, 61_000);
    const store = embeddedStateStore();
    const clock = new ManualClock(0);
    // the first worker dies when it is about to checkpoint past reading 120: its snapshot is written
    const first = new CrashableStore(store);
    let alive = true;
    const a = startWorker(first, clock, { alive: () => alive });
    const shardA = a.source.open({ shardId: 's-0' });
    const died = new Promise<void>((resolve) => {
      shardA.onCheckpoint = async (p) => {
        if (Number(p.sequenceNumber) < 120) return;
        alive = false;
        first.crash();
        resolve();
        return new Promise<void>(() => {});
      };
    });
    shardA.send(input, 7);
    await died;
    const checkpoint = shardA.checkpoints.at(-1)!;
    const snapshot = await store.read('s-0');
    expect(Number(snapshot!.position!.sequenceNumber)).toBeGreaterThan(Number(checkpoint.sequenceNumber));

    // the next owner reads again after the checkpoint, in batches cut differently
    const next = await finishOnNextOwner(store, clock, checkpoint, 5);
    expect([...new Set([...a.outputs, ...next])].sort()).toEqual(expected);
    // no reading was counted twice: the silent reports carry each device's count of 40
    expect(next.filter((o) => o.startsWith('silent')).every((o) => o.endsWith('count=40'))).toBe(true);
  });

  it('gives the outputs of an uninterrupted run after a crash in the middle of a snapshot write', async () => {
    const expected = await reference(input, 61_000);
    const store = embeddedStateStore();
    const clock = new ManualClock(0);
    const first = new CrashableStore(store);
    let alive = true;
    const a = startWorker(first, clock, { alive: () => alive });
    const shardA = a.source.open({ shardId: 's-0' });
    shardA.send(input.slice(0, 98), 7);
    await until(() => shardA.checkpoints.at(-1)?.sequenceNumber === '98');
    const before = await store.read('s-0');
    first.crashOnWrite = true;
    alive = false;
    shardA.send(input.slice(98), 7);
    await flushMicrotasks(50);
    // the write that was cut off changed nothing
    expect(await store.read('s-0')).toEqual(before);

    const next = await finishOnNextOwner(store, clock, at(98), 11);
    expect([...new Set([...a.outputs, ...next])].sort()).toEqual(expected);
  });

  it('restores state and timers on the new owner, and fences the old one out', async () => {
    const store = embeddedStateStore();
    const clock = new ManualClock(0);
    const a = startWorker(store, clock, { durationMs: 10_000 });
    const shardA = a.source.open({ shardId: 's-0' });
    // every device goes high (an alarm timer 10 s of event time later) and gets a silence timer
    shardA.send(input.slice(0, 12), 12);
    await until(() => shardA.checkpoints.at(-1)?.sequenceNumber === '12');

    // the lease moves: the new owner claims the state while the old one still runs
    const b = startWorker(store, clock, { durationMs: 10_000 });
    const shardB = b.source.open({ shardId: 's-0', startPosition: at(12) });
    await until(() => b.runtime.metrics().shards.length === 1);
    await flushMicrotasks(20);
    shardA.send(input.slice(12, 24), 12);
    const ruleBatches = () => a.runtime.metrics().nodes.find((n) => n.node === 'rule')!.batches;
    await until(() => ruleBatches() === 2);
    await flushMicrotasks(50);
    // the old owner's snapshot was refused, so its checkpoint did not move
    expect(shardA.checkpoints.map((p) => p.sequenceNumber)).toEqual(['12']);
    expect((await store.read('s-0'))!.position).toEqual(at(12));

    // the new owner has the timers: time passes with no readings and it reports every device silent
    await clock.advance(60_000);
    await until(() => b.outputs.length === 6);
    expect(b.outputs.sort()).toEqual(Array.from({ length: 6 }, (_, i) => `silent dev-${i} count=2`).sort());
    // and the event-time timers of the pending conditions fire once its watermark passes them
    shardB.send([{ key: 'dev-1', t: 20_000, v: 20, seq: 13 }], 1);
    await until(() => b.outputs.some((o) => o.startsWith('alarm')));
    expect(b.outputs.filter((o) => o.startsWith('alarm')).sort()).toEqual(
      Array.from({ length: 6 }, (_, i) => `alarm dev-${i} since=${1_000 + i * 20}`).sort(),
    );
    shardB.batches.end();
    b.source.end();
    await b.done;
    shardA.batches.end();
    a.source.end();
    await a.done.catch(() => {});
  });

  it('splits the keys of an ended shard between its children by hash range', async () => {
    const store = embeddedStateStore();
    const clock = new ManualClock(0);
    const w = startWorker(store, clock);
    const parent = w.source.open({ shardId: 'p' });
    parent.send(input.slice(0, 60), 10);
    parent.batches.end();
    await until(() => parent.released !== undefined);

    const middle = 2n ** 128n / 2n;
    const ranges = [
      { startingHashKey: '0', endingHashKey: String(middle - 1n) },
      { startingHashKey: String(middle), endingHashKey: String(2n ** 128n - 1n) },
    ];
    const children = ranges.map((hashKeyRange, i) =>
      w.source.open({ shardId: `c-${i}`, lineage: { parentShardIds: ['p'], hashKeyRange } }),
    );
    const owner = (key: string) => (hashKeyOf(key) < middle ? 0 : 1);
    const rest = input.slice(60);
    const sent = children.map((child, i) => {
      const own = rest.filter((r) => owner(r.key) === i).map((r, j) => ({ ...r, seq: j + 1 }));
      child.send(own, 4);
      return String(own.length);
    });
    await until(() => children.every((c, i) => c.checkpoints.at(-1)?.sequenceNumber === sent[i]));
    await clock.advance(61_000);
    await until(() => w.outputs.filter((o) => o.startsWith('silent')).length === 6);
    // each device's count went on from the parent's in the child that owns its key
    expect(w.outputs.filter((o) => o.startsWith('silent')).sort()).toEqual(
      Array.from({ length: 6 }, (_, i) => `silent dev-${i} count=40`).sort(),
    );
    for (const child of children) child.batches.end();
    w.source.end();
    await w.done;
  });

  it('refuses to resume a checkpointed shard whose state the store does not hold', async () => {
    const clock = new ManualClock(0);
    const w = startWorker(embeddedStateStore(), clock);
    w.source.open({ shardId: 's-0', startPosition: at(50) });
    await expect(w.done).rejects.toThrow(StateLostError);
    expect(String(w.runtime.error)).toMatch(/shard s-0 resumes after checkpoint 50 but the state store/);
  });

  it('refuses a topology with stateful operators and no state store', () => {
    const b = new TopologyBuilder('keyed');
    b.source('readings', new ScriptedSource<Reading>((r) => at(r.seq)))
      .via('rule', thresholdRule())
      .to('out', keepingSink<string>([]));
    expect(() => new TopologyRuntime(b.build(), {})).toThrow(/"rule" declare keyed state/);
  });
});
