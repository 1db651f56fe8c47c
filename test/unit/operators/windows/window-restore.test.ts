/**
 * The window operator under failures, on the runtime (`TopologyRuntime` with the embedded keyed state
 * store, checkpoints every `CHECKPOINT_MS` of a `ManualClock`): a worker killed right after a snapshot
 * and before its checkpoint, a worker killed in the middle of a snapshot write, a shard whose lease
 * moves while its old owner still runs, a shard split into two children. Each run's outputs (every
 * worker's, as the stores would keep them: the highest revision of each window) equal the brute force
 * of the records it did not send to late, and the records it sent to late are those an uninterrupted
 * run sends there.
 *
 * Records carry real positions: a Kinesis-like sequence number (three user records of a KPL aggregate
 * to each, with their sub-sequence numbers) and the device as partition key; the source's `positionOf`
 * reads them from `rawRef`. Each round sends one batch to every shard, then moves the clock a second:
 * ticks (processing-time timers) emit what is due, and every `CHECKPOINT_MS` the runtime writes the due
 * snapshots and checkpoints.
 */
import { describe, expect, it } from 'vitest';
import { windowAggregate, windowAggregateConfigSchema } from '../../../../operators/windows/index.ts';
import { embeddedStateStore } from '../../../../state/keyed/embeddedStateStore.ts';
import {
  comparePositions,
  type Enriched,
  flushMicrotasks,
  hashKeyOf,
  inheritedKey,
  ManualClock,
  type Position,
  positionOfRecord,
  type StateStore,
  TopologyBuilder,
  TopologyRuntime,
  type WindowAggregate,
} from '../../../../topology/index.ts';
import {
  CrashableStore,
  keepingSink,
  type ScriptedShard,
  ScriptedSource,
  until,
} from '../../../support/scriptedSource.ts';
import {
  aggregateKey,
  compareAggregates,
  enriched,
  latestAggregates,
  referenceAggregates,
  windowWorkload,
} from '../../../support/windowBruteForce.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 5);
const ROUND_MS = 1_000;
const CHECKPOINT_MS = 2_000;
/** Records per batch of the first owner (a next owner cuts its batches differently). */
const BATCH = 4;
const NODE = 'windows';

const CONFIG = windowAggregateConfigSchema.parse({
  allowedOutOfOrdernessMs: 5 * MIN,
  allowedLatenessMs: 10 * MIN,
  retentionMs: 6 * HOUR,
  idleTimeoutMs: 5 * MIN,
  flushIntervalMs: 0,
  customerFlushIntervalMs: 0,
  deviceFlushIntervalMs: 0,
});

// ---------------------------------------------------------------------------------------------
// The workload: two shards of 240 records over two days, out of order by up to 30 minutes (late for
// windows already final: they are emitted again), 4 % delayed by 16 hours (far past retention: late).

/** Each record's place in the workload: the same record, re-sent to a child shard, keeps it. */
const ORIGIN = new WeakMap<Enriched, string>();
const originOf = (r: Enriched): string => ORIGIN.get(r)!;

/** The base of a shard's sequence numbers: 56 digits, as Kinesis's. */
const PARENT_BASE = 49_651_234_567_890_123_456_789_012_345_678_901_234_567_890_123_456n;
const CHILD_BASE = 49_652_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n;

/** Records at positions of `shardId`: three user records per sequence number, partition key the device. */
function positioned(records: readonly Enriched[], shardId: string, base: bigint): Enriched[] {
  return records.map((r, i) => {
    const copy: Enriched = {
      ...r,
      rawRef: {
        ...r.rawRef,
        shardId,
        sequenceNumber: (base + BigInt(Math.floor(i / 3)) * 1_000_003n).toString(),
        subSequenceNumber: i % 3,
        partitionKey: r.device_id,
      },
    };
    ORIGIN.set(copy, ORIGIN.get(r) ?? `${shardId}#${i}`);
    return copy;
  });
}

const positionOf = (r: Enriched): Position => positionOfRecord(r.rawRef);

/** A record far ahead of all others, without metrics: every window becomes final. */
const closing = () => enriched('closing', 'closing', null, T0 + 30 * DAY, {});

const SHARDS = ['s-0', 's-1'];
const INPUT: readonly Enriched[][] = windowWorkload({
  seed: 20_260_105,
  devices: 48,
  products: 3,
  metrics: 2,
  shards: 2,
  records: 480,
  spanMs: 2 * DAY,
  start: T0,
  outOfOrderMs: 30 * MIN,
  lateShare: 0.04,
  lateByMs: 16 * HOUR,
}).map((records, s) => positioned([...records, closing()], SHARDS[s]!, PARENT_BASE));
const ALL = INPUT.flat();

const beyond = (records: readonly Enriched[], p: Position | undefined) =>
  p === undefined ? records : records.filter((r) => comparePositions(positionOf(r), p) > 0);

// ---------------------------------------------------------------------------------------------
// Workers and rounds

interface Worker {
  readonly source: ScriptedSource<Enriched>;
  readonly runtime: TopologyRuntime;
  readonly aggregates: WindowAggregate[];
  readonly late: Enriched[];
  readonly done: Promise<void>;
  readonly alive: () => boolean;
}

function startWorker(store: StateStore, clock: ManualClock, alive: () => boolean = () => true): Worker {
  const source = new ScriptedSource<Enriched>(positionOf);
  const aggregates: WindowAggregate[] = [];
  const late: Enriched[] = [];
  const b = new TopologyBuilder('window-restore');
  const windows = b.source('telemetry', source).via(NODE, windowAggregate(CONFIG));
  windows.to('aggregates', keepingSink(aggregates, alive));
  windows.side('late').to('late-records', keepingSink(late, alive));
  const runtime = new TopologyRuntime(b.build(), {
    clock,
    stateStore: store,
    checkpointIntervalMs: CHECKPOINT_MS,
  });
  const done = runtime.run();
  done.catch(() => {});
  return { source, runtime, aggregates, late, done, alive };
}

/** Waits until every batch sent to the live workers and every timer they fired has left the pipeline. */
async function settle(workers: readonly Worker[]): Promise<void> {
  for (const w of workers) {
    if (!w.alive()) continue;
    await until(() => {
      if (w.runtime.error !== undefined) throw w.runtime.error;
      const m = w.runtime.metrics();
      const admitted = m.nodes.find((n) => n.node === 'telemetry')!.batches;
      const pushed = w.source.opened.reduce((sum, s) => sum + s.pushed, 0);
      return admitted === pushed && m.shards.every((s) => s.inFlightBatches === 0 && s.inFlightTimers === 0);
    });
  }
  await flushMicrotasks(20);
}

/** A shard's records still to send, `size` a batch. */
interface Feed {
  readonly shard: ScriptedShard<Enriched>;
  readonly records: readonly Enriched[];
  readonly size: number;
  next: number;
}

const feed = (shard: ScriptedShard<Enriched>, records: readonly Enriched[], size = BATCH): Feed => ({
  shard,
  records,
  size,
  next: 0,
});

/**
 * Rounds until the feeds are sent (or `stop` holds, or `rounds` ran): a batch to every shard, the
 * workers settle, the clock moves a second (ticks, checkpoints), they settle again.
 */
async function run(
  clock: ManualClock,
  workers: readonly Worker[],
  feeds: readonly Feed[],
  { stop = () => false, rounds = Number.POSITIVE_INFINITY }: { stop?: () => boolean; rounds?: number } = {},
): Promise<void> {
  for (let round = 0; round < rounds && !stop(); round++) {
    const left = feeds.filter((f) => f.next < f.records.length);
    if (left.length === 0) return;
    for (const f of left) {
      f.shard.send(f.records.slice(f.next, f.next + f.size), f.size);
      f.next += f.size;
    }
    await settle(workers);
    await clock.advance(ROUND_MS);
    await settle(workers);
  }
}

/** Moves the clock `ms` a second at a time, the workers settling after each. */
async function pass(clock: ManualClock, workers: readonly Worker[], ms: number): Promise<void> {
  for (let t = 0; t < ms; t += ROUND_MS) {
    await clock.advance(ROUND_MS);
    await settle(workers);
  }
}

/** After the last records: the last snapshots are written and read by every worker's ticks; then stop. */
async function finish(clock: ManualClock, workers: readonly Worker[]): Promise<void> {
  await pass(clock, workers, 3 * CHECKPOINT_MS);
  for (const w of workers) {
    for (const s of w.source.opened) s.end();
    w.source.end();
    await w.done;
    expect(w.runtime.error).toBeUndefined();
  }
}

const recordsIn = (w: Worker) => w.runtime.metrics().nodes.find((n) => n.node === NODE)!.recordsIn;
const shardFigures = (w: Worker, shardId: string) =>
  w.runtime.metrics().shards.find((s) => s.shardId === shardId)?.state;

// ---------------------------------------------------------------------------------------------
// What a run must give

interface Outcome {
  readonly aggregates: readonly WindowAggregate[];
  /** The workload ids of the records sent to late. */
  readonly late: ReadonlySet<string>;
}

const outcomeOf = (workers: readonly Worker[]): Outcome => ({
  aggregates: workers.flatMap((w) => w.aggregates),
  late: new Set(workers.flatMap((w) => w.late.map(originOf))),
});

/** One uninterrupted run of the workload on one worker, in the same batches and rounds. */
async function uninterrupted(): Promise<Outcome> {
  const clock = new ManualClock(T0);
  const w = startWorker(embeddedStateStore(clock), clock);
  const shards = SHARDS.map((shardId) => w.source.open({ shardId }));
  await run(
    clock,
    [w],
    shards.map((s, i) => feed(s, INPUT[i]!)),
  );
  await finish(clock, [w]);
  return outcomeOf([w]);
}

let reference: Promise<Outcome> | undefined;
const uninterruptedRun = () => {
  reference ??= uninterrupted();
  return reference;
};

/** The run's highest revisions equal the brute force of what it did not send to late, and its late set is the uninterrupted run's. */
async function expectExact(outcome: Outcome): Promise<void> {
  const accepted = ALL.filter((r) => !outcome.late.has(originOf(r)));
  const problems = compareAggregates(
    latestAggregates(outcome.aggregates),
    referenceAggregates(accepted, CONFIG.windows),
  );
  expect(problems.slice(0, 5)).toEqual([]);
  expect([...outcome.late].sort()).toEqual([...(await uninterruptedRun()).late].sort());
}

/** Whether some batch of `records` cut in `size` holds records at and after `p` (the runtime cuts it). */
function straddles(records: readonly Enriched[], size: number, p: Position): boolean {
  for (let i = 0; i < records.length; i += size) {
    const batch = records.slice(i, i + size);
    if (comparePositions(positionOf(batch[0]!), p) <= 0 && comparePositions(positionOf(batch.at(-1)!), p) > 0)
      return true;
  }
  return false;
}

describe('window-aggregate restored by the runtime', () => {
  it('gives the brute force in an uninterrupted run, with late records and windows emitted again', async () => {
    const outcome = await uninterruptedRun();
    await expectExact(outcome);
    // records delayed 16 hours went to late; those up to 30 minutes out of order changed final windows
    expect(outcome.late.size).toBeGreaterThan(5);
    const finals = outcome.aggregates.filter((a) => a.final);
    const finalsPerWindow = new Map<string, number>();
    for (const a of finals)
      finalsPerWindow.set(aggregateKey(a), (finalsPerWindow.get(aggregateKey(a)) ?? 0) + 1);
    expect([...finalsPerWindow.values()].some((n) => n > 1)).toBe(true);
  });

  it('counts nothing twice when a worker dies right after a snapshot and before its checkpoint', async () => {
    const clock = new ManualClock(T0);
    const store = embeddedStateStore(clock);
    const first = new CrashableStore(store);
    const a = startWorker(first, clock, () => !first.crashed);
    const shardsA = SHARDS.map((shardId) => a.source.open({ shardId }));
    // the worker dies once it is about to checkpoint s-0 past its 100th record: that snapshot is written
    const deathAt = positionOf(INPUT[0]![100]!);
    first.crashAtCheckpoint(shardsA[0]!, deathAt);
    await run(
      clock,
      [a],
      shardsA.map((s, i) => feed(s, INPUT[i]!)),
      { stop: () => first.crashed },
    );
    expect(first.crashed).toBe(true);

    const checkpoints = shardsA.map((s) => s.checkpoints.at(-1));
    const snapshots = await Promise.all(SHARDS.map((id) => store.read(id)));
    const snapshotAt = snapshots.map((s) => s!.position!);
    // s-0's snapshot is ahead of its checkpoint: the records between were applied and their outputs written
    expect(comparePositions(snapshotAt[0]!, checkpoints[0]!)).toBeGreaterThan(0);
    const between = beyond(INPUT[0]!, checkpoints[0]).filter(
      (r) => comparePositions(positionOf(r), snapshotAt[0]!) <= 0,
    );
    expect(between.length).toBeGreaterThanOrEqual(BATCH);

    // the next owner reads both shards again after their checkpoints, in batches cut differently
    const b = startWorker(store, clock);
    const shardsB = SHARDS.map((shardId, i) =>
      b.source.open({ shardId, ...(checkpoints[i] ? { startPosition: checkpoints[i] } : {}) }),
    );
    const again = INPUT.map((records, i) => beyond(records, checkpoints[i]));
    expect(straddles(again[0]!, 7, snapshotAt[0]!)).toBe(true);
    await run(
      clock,
      [b],
      shardsB.map((s, i) => feed(s, again[i]!, 7)),
    );
    // it restored both shards' state, and applied only the records past each snapshot
    for (const id of SHARDS) expect(shardFigures(b, id)!.restoredEntries).toBeGreaterThan(0);
    expect(recordsIn(b)).toBe(
      INPUT.reduce((sum, records, i) => sum + beyond(records, snapshotAt[i]).length, 0),
    );
    // its first checkpoint of s-0 is the snapshot's position or later, never back at the old checkpoint
    expect(comparePositions(shardsB[0]!.checkpoints[0]!, snapshotAt[0]!)).toBeGreaterThanOrEqual(0);
    await finish(clock, [b]);
    await expectExact(outcomeOf([a, b]));
  });

  it('loses nothing and counts nothing twice when a worker dies in the middle of a snapshot write', async () => {
    const clock = new ManualClock(T0);
    const store = embeddedStateStore(clock);
    const first = new CrashableStore(store);
    const a = startWorker(first, clock, () => !first.crashed);
    const shardsA = SHARDS.map((shardId) => a.source.open({ shardId }));
    const feedsA = shardsA.map((s, i) => feed(s, INPUT[i]!));
    await run(clock, [a], feedsA, { rounds: 25 });
    const before = {
      snapshots: await Promise.all(SHARDS.map((id) => store.read(id))),
      watermarks: await store.publishedWatermarks(NODE),
    };
    // the next snapshot write is cut off: the worker dies in it
    first.crashOnWrite = true;
    await run(clock, [a], feedsA, { stop: () => first.crashed });
    expect(first.crashed).toBe(true);
    // nothing of it landed: entries, positions, published watermarks as before
    expect(await Promise.all(SHARDS.map((id) => store.read(id)))).toEqual(before.snapshots);
    expect(await store.publishedWatermarks(NODE)).toEqual(before.watermarks);
    const checkpoints = shardsA.map((s) => s.checkpoints.at(-1)!);
    expect(before.snapshots.map((s) => s!.position)).toEqual(checkpoints);

    const b = startWorker(store, clock);
    const shardsB = SHARDS.map((shardId, i) => b.source.open({ shardId, startPosition: checkpoints[i]! }));
    await run(
      clock,
      [b],
      shardsB.map((s, i) => feed(s, beyond(INPUT[i]!, checkpoints[i]), 11)),
    );
    // restored at the checkpoints: every record after them applied once
    for (const id of SHARDS) expect(shardFigures(b, id)!.restoredEntries).toBeGreaterThan(0);
    expect(recordsIn(b)).toBe(
      INPUT.reduce((sum, records, i) => sum + beyond(records, checkpoints[i]).length, 0),
    );
    await finish(clock, [b]);
    await expectExact(outcomeOf([a, b]));
  });

  it('fences the old owner out when a lease moves, and merges the shared windows across the workers', async () => {
    const clock = new ManualClock(T0);
    const store = embeddedStateStore(clock);
    const a = startWorker(store, clock);
    const [a0, a1] = SHARDS.map((shardId) => a.source.open({ shardId })) as [
      ScriptedShard<Enriched>,
      ScriptedShard<Enriched>,
    ];
    const feedA0 = feed(a0, INPUT[0]!);
    const feedA1 = feed(a1, INPUT[1]!);
    await run(clock, [a], [feedA0, feedA1], { rounds: 20 });

    // s-1's lease moves to worker b, which claims its state while a still reads it
    const handover = a1.checkpoints.at(-1)!;
    const b = startWorker(store, clock);
    const b1 = b.source.open({ shardId: 's-1', startPosition: handover });
    await until(() => (shardFigures(b, 's-1')?.restoredEntries ?? 0) > 0);
    const feedB1 = feed(b1, beyond(INPUT[1]!, handover));
    await run(clock, [a, b], [feedA0, feedA1, feedB1], { rounds: 6 });
    // a's snapshots of s-1 were refused: its checkpoint stayed; then it notices and lets the shard go
    expect(a1.checkpoints.at(-1)).toEqual(handover);
    a1.end();
    await until(() => a1.released !== undefined);
    expect(a1.released).toEqual(handover);
    expect((await store.read('s-1'))!.position).toEqual(b1.checkpoints.at(-1));
    expect(comparePositions(b1.checkpoints.at(-1)!, handover)).toBeGreaterThan(0);

    await run(clock, [a, b], [feedA0, feedB1]);
    // the records stopped: each shard's last batch (which need not have been a barrier) is snapshotted,
    // published and checkpointed all the same, so each worker sees the other's closing watermark
    await pass(clock, [a, b], 2 * CHECKPOINT_MS);
    expect(a0.checkpoints.at(-1)).toEqual(positionOf(INPUT[0]!.at(-1)!));
    expect(b1.checkpoints.at(-1)).toEqual(positionOf(INPUT[1]!.at(-1)!));
    const closed = T0 + 30 * DAY - CONFIG.allowedOutOfOrdernessMs;
    expect((await store.publishedWatermarks(NODE)).map((m) => [m.shardId, m.watermark])).toEqual([
      ['s-0', closed],
      ['s-1', closed],
    ]);
    await finish(clock, [a, b]);
    await expectExact(outcomeOf([a, b]));
    // each worker emitted finals of shared windows holding the other shard's records: merged from its
    // memory and the other worker's published partials
    const inShard = (i: number) => {
      const counts = new Map<string, number>();
      for (const [key, stats] of referenceAggregates(INPUT[i]!, CONFIG.windows)) counts.set(key, stats.count);
      return counts;
    };
    const merged = (w: Worker, own: Map<string, number>) =>
      w.aggregates.filter(
        (x) => x.final && x.scope !== 'device' && x.stats.count > (own.get(aggregateKey(x)) ?? 0),
      );
    expect(merged(a, inShard(0)).length).toBeGreaterThan(10);
    expect(merged(b, inShard(1)).length).toBeGreaterThan(10);
  });

  it('splits a shard into two children by hash range, the parent’s partials merged into the shared windows and finished by the children', async () => {
    const clock = new ManualClock(T0);
    const store = embeddedStateStore(clock);
    const w = startWorker(store, clock);
    const [parent, other] = SHARDS.map((shardId) => w.source.open({ shardId })) as [
      ScriptedShard<Enriched>,
      ScriptedShard<Enriched>,
    ];
    const splitAt = 110;
    const feedOther = feed(other, INPUT[1]!);
    await run(clock, [w], [feed(parent, INPUT[0]!.slice(0, splitAt)), feedOther], {
      rounds: Math.ceil(splitAt / BATCH),
    });
    parent.end();
    await until(() => parent.released !== undefined);
    await settle([w]);

    // the children: the parent's records after the split, each with the keys of its hash range
    const middle = 2n ** 128n / 2n;
    const ranges = [
      { startingHashKey: '0', endingHashKey: String(middle - 1n) },
      { startingHashKey: String(middle), endingHashKey: String(2n ** 128n - 1n) },
    ];
    const owner = (key: string) => (hashKeyOf(key) < middle ? 0 : 1);
    const rest = INPUT[0]!.slice(splitAt, -1);
    const childIds = ['c-0', 'c-1'];
    const childRecords = childIds.map((id, i) =>
      positioned([...rest.filter((r) => owner(r.device_id) === i), closing()], id, CHILD_BASE),
    );
    const children = childIds.map((shardId, i) =>
      w.source.open({ shardId, lineage: { parentShardIds: ['s-0'], hashKeyRange: ranges[i]! } }),
    );
    // the ended parent's published watermark counts until it is idle: a pause before the children
    // read (as a lease taker's would be) keeps the global watermark, and so the late records, as in
    // the uninterrupted run
    await pass(clock, [w], CONFIG.idleTimeoutMs + CHECKPOINT_MS);
    const feeds = [feedOther, ...children.map((c, i) => feed(c, childRecords[i]!))];
    await run(clock, [w], feeds, { rounds: 6 });

    // each child took the parent's state of the keys in its range, and a copy of its published partials
    const parentEntries = (await store.read('s-0'))!.entries.map((e) => JSON.parse(e.key) as string[]);
    const parentPartials = parentEntries.filter((k) => k[1] === 'partials' && k[2] === '').length;
    expect(parentPartials).toBeGreaterThan(0);
    for (const [i, id] of childIds.entries())
      expect(shardFigures(w, id)!.restoredEntries).toBe(
        parentEntries.filter((k) => k[2] !== '' && owner(k[2]!) === i).length + parentPartials,
      );
    // what the children wrote: device windows of their own keys, none of the parent's own state
    const parentKeys = new Set(INPUT[0]!.slice(0, splitAt).map((r) => r.device_id));
    for (const [i, id] of childIds.entries()) {
      const keys = (await store.read(id))!.entries.map((e) => JSON.parse(e.key) as string[]);
      const devices = keys.filter((k) => k[1] === 'devices').map((k) => k[2]!);
      expect(devices.length).toBeGreaterThan(0);
      expect(devices.every((d) => owner(d) === i)).toBe(true);
      // partials: its own, and what is left of its copy of the parent's (those it must still finish)
      const partials = keys.filter((k) => k[1] === 'partials');
      expect(partials.every((k) => k[2] === '' || k[2] === inheritedKey('s-0'))).toBe(true);
      expect(devices.some((d) => parentKeys.has(d))).toBe(true);
    }
    // the parent's partials stay published under its id
    const groups = parentEntries
      .filter((k) => k[1] === 'partials')
      .map((k) => JSON.stringify([NODE, 'partials', k[3]]));
    const published = await store.readPublished(groups);
    expect(groups.every((g) => published.get(g)?.has('s-0'))).toBe(true);

    await run(clock, [w], feeds);
    await finish(clock, [w]);
    // the children's records are the parent's, re-sent: compared by the workload's records
    await expectExact(outcomeOf([w]));
  });
});
