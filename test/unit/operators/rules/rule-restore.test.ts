/**
 * The rule operator under failures, on the runtime (`TopologyRuntime`, the embedded keyed state store,
 * checkpoints every `CHECKPOINT_MS` of a `ManualClock`): a worker killed right after a snapshot and
 * before its checkpoint, one killed in the middle of a snapshot write, a shard whose lease moves with
 * an on-delay running and its timer pending. Every run gives the alarm events of an uninterrupted run:
 * the same ids with the same content (an event sent twice, once by each worker, is the same event,
 * which the alarm sink writes once).
 */
import { describe, expect, it } from 'vitest';
import { ruleStateCodec } from '../../../../operators/rules/ruleState.ts';
import { embeddedStateStore } from '../../../../state/keyed/embeddedStateStore.ts';
import {
  type AlarmEvent,
  comparePositions,
  type Enriched,
  ManualClock,
  type StateStore,
} from '../../../../topology/index.ts';
import { noisySignal, reading, thermoRules } from '../../../support/ruleFixtures.ts';
import {
  beyond,
  eventsById,
  type Feed,
  feed as feedOf,
  finishWorkers,
  onShard,
  positionOf,
  type RuleWorker,
  runRounds,
  startRuleWorker,
} from '../../../support/ruleRuntime.ts';
import { CrashableStore, type ScriptedShard, until } from '../../../support/scriptedSource.ts';

const SEC = 1_000;
const T0 = Date.UTC(2026, 0, 5, 9);
const ROUND_MS = 1_000;
const CHECKPOINT_MS = 2_000;
const BATCH = 8;
const SHARDS = ['s-0', 's-1'];

const RULES = thermoRules(
  `  - id: hot
    kind: threshold
    severity: minor
    when: { metric: temperature, op: ">", value: 11 }
    clear: { hysteresis: 0.3 }
    onDelay: 20s
    offDelay: 10s
    escalate: [{ after: 1m, to: critical }]
  - id: cold
    kind: threshold
    severity: major
    when: { metric: temperature, op: "<", value: 8.8 }
    repeat: { count: 2, within: 5m }\n`,
);

// ---------------------------------------------------------------------------------------------
// The workload: per shard 4 devices, one reading every 4 s each, a slow wave with noise, in event-time
// order on the shard; positions as Kinesis's (three user records to a sequence number).

function shardRecords(s: number): Enriched[] {
  const devices = [0, 1, 2, 3].map((d) => `thermo-${s}${d}`);
  const waves = devices.map((_, d) =>
    noisySignal(100 * s + d + 1, 300, 10, 0.3).map(
      (v, i) => v + 2 * Math.sin((2 * Math.PI * (i + 17 * d)) / 75),
    ),
  );
  const records: Enriched[] = [];
  for (let i = 0; i < 300; i++)
    devices.forEach((device, d) => {
      records.push(reading(device, T0 + i * 4 * SEC + d * 100, { temperature: waves[d]![i]! }));
    });
  return onShard(records, SHARDS[s]!);
}

const INPUT = SHARDS.map((_, s) => shardRecords(s));

// ---------------------------------------------------------------------------------------------
// Workers and rounds

type Worker = RuleWorker;

const startWorker = (store: StateStore, clock: ManualClock, alive?: () => boolean): Worker =>
  startRuleWorker(
    store,
    clock,
    { rulesets: () => RULES, config: { allowedOutOfOrdernessMs: 0 } },
    CHECKPOINT_MS,
    alive,
  );

const run = (
  clock: ManualClock,
  workers: readonly Worker[],
  feeds: readonly Feed[],
  opts?: { stop?: () => boolean; rounds?: number },
) => runRounds(clock, workers, feeds, ROUND_MS, opts);
const finish = (clock: ManualClock, workers: readonly Worker[]) =>
  finishWorkers(clock, workers, ROUND_MS, 3 * CHECKPOINT_MS);
const feed = (shard: ScriptedShard<Enriched>, records: readonly Enriched[], size = BATCH) =>
  feedOf(shard, records, size);

// ---------------------------------------------------------------------------------------------
// What a run must give

/** The events by id; an id seen twice must carry the same event. */
const byId = eventsById;

let reference: Promise<Map<string, AlarmEvent>> | undefined;
function uninterrupted(): Promise<Map<string, AlarmEvent>> {
  reference ??= (async () => {
    const clock = new ManualClock(T0);
    const w = startWorker(embeddedStateStore(clock), clock);
    const shards = SHARDS.map((shardId) => w.source.open({ shardId }));
    await run(
      clock,
      [w],
      shards.map((s, i) => feed(s, INPUT[i]!)),
    );
    await finish(clock, [w]);
    return byId(w.events);
  })();
  return reference;
}

async function expectSameAlarms(events: readonly AlarmEvent[]): Promise<void> {
  const expected = await uninterrupted();
  const got = byId(events);
  expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [id, e] of got) expect(e).toEqual(expected.get(id));
}

/** The rule states in a shard's snapshot. */
async function storedRuleStates(store: StateStore, shardId: string) {
  const snapshot = await store.read(shardId);
  return (snapshot?.entries ?? [])
    .filter((e) => (JSON.parse(e.key) as string[])[1] === 'rules')
    .map((e) => ruleStateCodec.decode(e.value));
}

describe('rule operator restored by the runtime', () => {
  it('raises, escalates and clears in an uninterrupted run', async () => {
    const events = [...(await uninterrupted()).values()];
    const kinds = new Set(events.map((e) => e.kind));
    expect(kinds).toEqual(new Set(['raise', 'severity', 'clear', 'close']));
    expect(events.filter((e) => e.kind === 'raise').length).toBeGreaterThan(10);
  });

  it('gives the same alarms when a worker dies right after a snapshot and before its checkpoint', async () => {
    const clock = new ManualClock(T0);
    const store = embeddedStateStore(clock);
    const first = new CrashableStore(store);
    const a = startWorker(first, clock, () => !first.crashed);
    const shardsA = SHARDS.map((shardId) => a.source.open({ shardId }));
    const deathAt = positionOf(INPUT[0]![500]!);
    first.crashAtCheckpoint(shardsA[0]!, deathAt);
    await run(
      clock,
      [a],
      shardsA.map((s, i) => feed(s, INPUT[i]!)),
      { stop: () => first.crashed },
    );
    expect(first.crashed).toBe(true);
    const checkpoints = shardsA.map((s) => s.checkpoints.at(-1));
    const snapshotAt = (await store.read('s-0'))!.position!;
    expect(comparePositions(snapshotAt, checkpoints[0]!)).toBeGreaterThan(0);

    const b = startWorker(store, clock);
    const shardsB = SHARDS.map((shardId, i) =>
      b.source.open({ shardId, ...(checkpoints[i] ? { startPosition: checkpoints[i] } : {}) }),
    );
    await run(
      clock,
      [b],
      shardsB.map((s, i) => feed(s, beyond(INPUT[i]!, checkpoints[i]), 7)),
    );
    await finish(clock, [b]);
    await expectSameAlarms([...a.events, ...b.events]);
  });

  it('gives the same alarms when a worker dies in the middle of a snapshot write', async () => {
    const clock = new ManualClock(T0);
    const store = embeddedStateStore(clock);
    const first = new CrashableStore(store);
    const a = startWorker(first, clock, () => !first.crashed);
    const shardsA = SHARDS.map((shardId) => a.source.open({ shardId }));
    const feedsA = shardsA.map((s, i) => feed(s, INPUT[i]!));
    await run(clock, [a], feedsA, { rounds: 60 });
    first.crashOnWrite = true;
    await run(clock, [a], feedsA, { stop: () => first.crashed });
    expect(first.crashed).toBe(true);
    const checkpoints = shardsA.map((s) => s.checkpoints.at(-1)!);

    const b = startWorker(store, clock);
    const shardsB = SHARDS.map((shardId, i) => b.source.open({ shardId, startPosition: checkpoints[i]! }));
    await run(
      clock,
      [b],
      shardsB.map((s, i) => feed(s, beyond(INPUT[i]!, checkpoints[i]), 11)),
    );
    await finish(clock, [b]);
    await expectSameAlarms([...a.events, ...b.events]);
  });

  it('restores a running on-delay and its timers when a lease moves', async () => {
    const clock = new ManualClock(T0);
    const store = embeddedStateStore(clock);
    const a = startWorker(store, clock);
    const [a0, a1] = SHARDS.map((shardId) => a.source.open({ shardId })) as [
      ScriptedShard<Enriched>,
      ScriptedShard<Enriched>,
    ];
    const feedA0 = feed(a0, INPUT[0]!);
    const feedA1 = feed(a1, INPUT[1]!);
    // run until s-1's last snapshot holds an on-delay that is running
    let pending = false;
    for (let round = 0; round < 200 && !pending; round++) {
      await run(clock, [a], [feedA0, feedA1], { rounds: 1 });
      const checkpoint = a1.checkpoints.at(-1);
      const snapshot = await store.read('s-1');
      if (checkpoint === undefined || comparePositions(snapshot!.position!, checkpoint) !== 0) continue;
      pending = (await storedRuleStates(store, 's-1')).some((s) => s.pendingSince !== null);
    }
    expect(pending).toBe(true);

    const handover = a1.checkpoints.at(-1)!;
    const b = startWorker(store, clock);
    const b1 = b.source.open({ shardId: 's-1', startPosition: handover });
    await until(
      () => (b.runtime.metrics().shards.find((s) => s.shardId === 's-1')?.state?.restoredEntries ?? 0) > 0,
    );
    const feedB1 = feed(b1, beyond(INPUT[1]!, handover));
    // a reads no more of s-1 and lets it go: what s-1 gives after the handover is b's alone
    a1.end();
    await until(() => a1.released !== undefined);
    expect(a1.released).toEqual(handover);
    await run(clock, [a, b], [feedA0, feedB1]);
    await finish(clock, [a, b]);
    expect(b.events.length).toBeGreaterThan(0);
    await expectSameAlarms([...a.events, ...b.events]);
  });
});
