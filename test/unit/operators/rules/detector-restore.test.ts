/**
 * Detector and aggregate rules under failures, on the runtime (`TopologyRuntime`, the embedded keyed state store,
 * checkpoints every `CHECKPOINT_MS` of a `ManualClock`), as `rule-restore.test.ts` does for threshold
 * rules: a worker killed right after a snapshot and before its checkpoint, and one killed in the
 * middle of a snapshot write, give the alarm events of an uninterrupted run (the same ids, the same
 * content). The detectors' cells and their open hours come back from the snapshot, and the records
 * after the checkpoint are judged again on them.
 */
import { describe, expect, it } from 'vitest';
import { detectorCellCodec } from '../../../../operators/rules/detectorCell.ts';
import { embeddedStateStore } from '../../../../state/keyed/embeddedStateStore.ts';
import {
  type AlarmEvent,
  comparePositions,
  type Enriched,
  ManualClock,
  type Position,
  type StateStore,
} from '../../../../topology/index.ts';
import { reading, thermoRules } from '../../../support/ruleFixtures.ts';
import {
  beyond,
  eventsById,
  type Feed,
  feed,
  finishWorkers,
  onShard,
  positionOf,
  type RuleWorker,
  runRounds,
  startRuleWorker,
} from '../../../support/ruleRuntime.ts';
import { CrashableStore } from '../../../support/scriptedSource.ts';
import { syntheticSignal } from '../../../support/syntheticSignals.ts';

const MIN = 60_000;
const ROUND_MS = 1_000;
const CHECKPOINT_MS = 2_000;
const BATCH = 8;
const SHARDS = ['s-0', 's-1'];

const RULES = thermoRules(
  `  - { id: jump, kind: rate-of-change, severity: minor, metric: temperature, maxChange: 1.5, per: 1m, over: 15m }
  - { id: band, kind: out-of-band, severity: minor, metric: temperature, last: 60, k: 6 }
  - { id: odd, kind: anomaly, severity: minor, metric: temperature, detector: { method: robust-z, window: 30 } }
  - id: forecast
    kind: predictive
    severity: major
    metric: temperature
    threshold: { op: ">=", value: 32 }
    horizon: 6h
    over: 3h
    escalate: [{ after: 1h, to: critical }]
  - { id: warm-hour, kind: aggregate, severity: minor, metric: temperature, window: 1h, statistic: mean, op: ">", value: 24 }
  - { id: peak-hour, kind: aggregate, severity: minor, metric: temperature, window: 1h, statistic: max, final: false, op: ">", value: 27 }\n`,
);

// per shard 3 devices, one reading every 5 min each, spikes and a drift, in event-time order
function shardRecords(s: number): Enriched[] {
  const records: Enriched[] = [];
  for (let d = 0; d < 3; d++) {
    const signal = syntheticSignal({
      seed: 40 + 3 * s + d,
      days: 1.4,
      stepMs: 5 * MIN,
      quietDays: 0.3,
      spikes: { count: 6, size: 10 },
      drift: { startDay: 0.5, perHour: 0.5 + 0.1 * d },
    });
    signal.times.forEach((t, i) => {
      records.push(reading(`thermo-${s}${d}`, t + d * 100, { temperature: signal.values[i]! }));
    });
  }
  records.sort((a, b) => a.device_timestamp - b.device_timestamp);
  return onShard(records, SHARDS[s]!);
}

const INPUT = SHARDS.map((_, s) => shardRecords(s));

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
  w: Worker,
  feeds: readonly Feed[],
  opts?: { stop?: () => boolean; rounds?: number },
) => runRounds(clock, [w], feeds, ROUND_MS, opts);
const finish = (clock: ManualClock, w: Worker) => finishWorkers(clock, [w], ROUND_MS, 3 * CHECKPOINT_MS);

const byId = eventsById;

const openShards = (w: Worker, from: (Position | undefined)[] = []) =>
  SHARDS.map((shardId, i) => w.source.open({ shardId, ...(from[i] ? { startPosition: from[i] } : {}) }));
const feedsOf = (shards: ReturnType<typeof openShards>, from: (Position | undefined)[] = [], size = BATCH) =>
  shards.map((s, i) => feed(s, beyond(INPUT[i]!, from[i]), size));

let reference: Promise<Map<string, AlarmEvent>> | undefined;
function uninterrupted(): Promise<Map<string, AlarmEvent>> {
  reference ??= (async () => {
    const clock = new ManualClock(INPUT[0]![0]!.device_timestamp);
    const w = startWorker(embeddedStateStore(clock), clock);
    await run(clock, w, feedsOf(openShards(w)));
    await finish(clock, w);
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

describe('detector and aggregate rules restored by the runtime', () => {
  it('raise, escalate and clear in an uninterrupted run, every kind', async () => {
    const events = [...(await uninterrupted()).values()];
    expect(new Set(events.filter((e) => e.kind === 'raise').map((e) => e.episode.ruleId))).toEqual(
      new Set(['jump', 'band', 'odd', 'forecast', 'warm-hour', 'peak-hour']),
    );
    expect(new Set(events.map((e) => e.kind))).toEqual(new Set(['raise', 'severity', 'clear', 'close']));
  });

  it('give the same alarms when a worker dies right after a snapshot and before its checkpoint', async () => {
    const clock = new ManualClock(INPUT[0]![0]!.device_timestamp);
    const store = embeddedStateStore(clock);
    const first = new CrashableStore(store);
    const a = startWorker(first, clock, () => !first.crashed);
    const shardsA = openShards(a);
    const deathAt = positionOf(INPUT[0]![700]!);
    shardsA[0]!.onCheckpoint = async (p) => {
      if (comparePositions(p, deathAt) < 0) return;
      first.crash();
      return new Promise<void>(() => {});
    };
    await run(clock, a, feedsOf(shardsA), { stop: () => first.crashed });
    expect(first.crashed).toBe(true);
    const checkpoints = shardsA.map((s) => s.checkpoints.at(-1));
    const snapshot = (await store.read('s-0'))!;
    expect(comparePositions(snapshot.position!, checkpoints[0]!)).toBeGreaterThan(0);
    // the snapshot holds detector cells with an hour open
    const cells = snapshot.entries
      .filter((e) => (JSON.parse(e.key) as string[])[1] === 'detectors')
      .map((e) => detectorCellCodec.decode(e.value));
    expect(cells.some((c) => c[2]! > 0)).toBe(true);

    const b = startWorker(store, clock);
    const shardsB = openShards(b, checkpoints);
    await run(clock, b, feedsOf(shardsB, checkpoints, 7));
    await finish(clock, b);
    await expectSameAlarms([...a.events, ...b.events]);
  });

  it('give the same alarms when a worker dies in the middle of a snapshot write', async () => {
    const clock = new ManualClock(INPUT[0]![0]!.device_timestamp);
    const store = embeddedStateStore(clock);
    const first = new CrashableStore(store);
    const a = startWorker(first, clock, () => !first.crashed);
    const feedsA = feedsOf(openShards(a));
    await run(clock, a, feedsA, { rounds: 90 });
    first.crashOnWrite = true;
    await run(clock, a, feedsA, { stop: () => first.crashed });
    expect(first.crashed).toBe(true);
    const checkpoints = a.source.opened.map((s) => s.checkpoints.at(-1)!);

    const b = startWorker(store, clock);
    await run(clock, b, feedsOf(openShards(b, checkpoints), checkpoints, 11));
    await finish(clock, b);
    await expectSameAlarms([...a.events, ...b.events]);
  });

  it('write a detector cell per reading learnt, snapshotted at most once per checkpoint', async () => {
    const clock = new ManualClock(INPUT[0]![0]!.device_timestamp);
    const store = new CrashableStore(embeddedStateStore(clock));
    const upserts = new Map<string, number>();
    let snapshots = 0;
    const write = store.write;
    store.write = (snapshot) => {
      snapshots++;
      for (const e of snapshot.upserts) {
        const state = (JSON.parse(e.key) as string[])[1]!;
        upserts.set(state, (upserts.get(state) ?? 0) + 1);
      }
      return write(snapshot);
    };
    const w = startWorker(store, clock);
    await run(clock, w, feedsOf(openShards(w)));
    await finish(clock, w);
    const readings = INPUT.reduce((n, r) => n + r.length, 0);
    const c = w.operator.counters;
    const perThousand = (n: number) => Math.round((1000 * n) / readings);
    const cells = 2 * 3 * 4; // shards × devices × rules
    // every reading is learnt by the four rules: four cell sets, marking dirty, not four store writes
    expect(c.detectorWrites).toBe(4 * readings);
    expect(upserts.get('detectors')!).toBeLessThanOrEqual(snapshots * cells);
    expect(upserts.get('detectors')!).toBeLessThan(c.detectorWrites / 4);
    expect(c.stateWrites).toBeLessThan(readings / 4);
    if (process.env.DETECTOR_FIGURES)
      console.log(
        `${readings} readings, 4 detector rules, ${cells} (rule, device) pairs, ${snapshots} snapshots (batches of ${BATCH}, a checkpoint every ${CHECKPOINT_MS / ROUND_MS} rounds)\n` +
          `per 1,000 readings: detector cell sets ${perThousand(c.detectorWrites)}, rule state sets ${perThousand(c.stateWrites)}, ` +
          `snapshot upserts of cells ${perThousand(upserts.get('detectors')!)}, of rule states ${perThousand(upserts.get('rules') ?? 0)}`,
      );
  });
});
