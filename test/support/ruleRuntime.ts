/**
 * The rule operator on the runtime (`TopologyRuntime`, a scripted source, keyed state in a given store,
 * a `ManualClock`): what the restore tests of rules share. Records carry Kinesis-like positions; a
 * worker's alarm events are kept until it dies; `settleWorkers` waits until every batch sent has gone
 * through; `eventsById` checks that an event emitted twice (a redelivery) is the same event.
 */
import { expect } from 'vitest';
import { type RuleOperatorOptions, ruleOperator } from '../../operators/rules/ruleOperator.ts';
import {
  type AlarmEvent,
  comparePositions,
  type Enriched,
  flushMicrotasks,
  type ManualClock,
  type Position,
  positionOfRecord,
  type StateStore,
  TopologyBuilder,
  TopologyRuntime,
} from '../../topology/index.ts';
import { keepingSink, type ScriptedShard, ScriptedSource, until } from './scriptedSource.ts';

/** A reading's stream position. */
export const positionOf = (r: Enriched): Position => positionOfRecord(r.rawRef);

/** The records after position `p` (all without one). */
export const beyond = (records: readonly Enriched[], p: Position | undefined): readonly Enriched[] =>
  p === undefined ? records : records.filter((r) => comparePositions(positionOf(r), p) > 0);

/** A large sequence number, as Kinesis's. */
const BASE = 49_651_234_567_890_123_456_789_012_345_678_901_234_567_890_123_456n;

/** The records on shard `shardId` in their order, three user records to a sequence number (KPL). */
export function onShard(records: readonly Enriched[], shardId: string): Enriched[] {
  return records.map((r, i) => ({
    ...r,
    rawRef: {
      ...r.rawRef,
      shardId,
      sequenceNumber: (BASE + BigInt(Math.floor(i / 3)) * 1_000_003n).toString(),
      subSequenceNumber: i % 3,
    },
  }));
}

/** One worker: the rule operator between a scripted source and a sink that keeps its events. */
export interface RuleWorker {
  readonly source: ScriptedSource<Enriched>;
  readonly runtime: TopologyRuntime;
  readonly operator: ReturnType<typeof ruleOperator>;
  readonly events: AlarmEvent[];
  readonly done: Promise<void>;
  /** False once the worker is taken for dead (its sink keeps nothing more). */
  readonly alive: () => boolean;
}

/** Starts a worker on `store`; its node is `rules`. */
export function startRuleWorker(
  store: StateStore,
  clock: ManualClock,
  options: RuleOperatorOptions,
  checkpointIntervalMs: number,
  alive: () => boolean = () => true,
): RuleWorker {
  const source = new ScriptedSource<Enriched>(positionOf);
  const events: AlarmEvent[] = [];
  const operator = ruleOperator(options);
  const b = new TopologyBuilder('rule-worker');
  b.source('telemetry', source).via('rules', operator).to('alarms', keepingSink(events, alive));
  const runtime = new TopologyRuntime(b.build(), { clock, stateStore: store, checkpointIntervalMs });
  const done = runtime.run();
  done.catch(() => {});
  return { source, runtime, operator, events, done, alive };
}

/** Waits until every live worker has taken every batch sent and has none (nor a timer) in flight. */
export async function settleWorkers(workers: readonly RuleWorker[]): Promise<void> {
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

/** Events by id; an id emitted twice (a redelivery) must be the same event. */
export function eventsById(events: readonly AlarmEvent[]): Map<string, AlarmEvent> {
  const out = new Map<string, AlarmEvent>();
  for (const e of events) {
    const before = out.get(e.id);
    if (before !== undefined) expect(e).toEqual(before);
    out.set(e.id, e);
  }
  return out;
}

/** A shard's records sent to it a batch of `size` a round. */
export interface Feed {
  readonly shard: ScriptedShard<Enriched>;
  readonly records: readonly Enriched[];
  readonly size: number;
  next: number;
}

export const feed = (shard: ScriptedShard<Enriched>, records: readonly Enriched[], size: number): Feed => ({
  shard,
  records,
  size,
  next: 0,
});

/**
 * Rounds: each feed sends its next batch, the workers settle, the clock moves `roundMs`, they settle
 * again; until every feed is sent, `rounds` rounds went, or `stop` says so.
 */
export async function runRounds(
  clock: ManualClock,
  workers: readonly RuleWorker[],
  feeds: readonly Feed[],
  roundMs: number,
  { stop = () => false, rounds = Number.POSITIVE_INFINITY }: { stop?: () => boolean; rounds?: number } = {},
): Promise<void> {
  for (let round = 0; round < rounds && !stop(); round++) {
    const left = feeds.filter((f) => f.next < f.records.length);
    if (left.length === 0) return;
    for (const f of left) {
      f.shard.send(f.records.slice(f.next, f.next + f.size), f.size);
      f.next += f.size;
    }
    await settleWorkers(workers);
    await clock.advance(roundMs);
    await settleWorkers(workers);
  }
}

/** Lets `forMs` pass in rounds (timers fire, checkpoints are taken), then ends the workers cleanly. */
export async function finishWorkers(
  clock: ManualClock,
  workers: readonly RuleWorker[],
  roundMs: number,
  forMs: number,
): Promise<void> {
  for (let t = 0; t < forMs; t += roundMs) {
    await clock.advance(roundMs);
    await settleWorkers(workers);
  }
  for (const w of workers) {
    for (const s of w.source.opened) s.end();
    w.source.end();
    await w.done;
    expect(w.runtime.error).toBeUndefined();
  }
}
