/**
 * Absence rules on the test driver (embedded keyed state, `ManualClock`): processing-time judgement
 * of devices, hubs and metrics, and no false alarm while the consumer is the one that is late: a
 * backlog read behind the stream's tip, a replay. The lease move is in `rule-absence-restore.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import {
  absenceField,
  absenceStateCodec,
  heardState,
  parseAbsenceField,
} from '../../../../operators/rules/absenceState.ts';
import type { AlarmEvent, Enriched } from '../../../../topology/index.ts';
import { RuleHarness, reading, thermoRules } from '../../../support/ruleFixtures.ts';

const SEC = 1_000;
const MIN = 60 * SEC;
/** A Monday, 09:00 UTC. */
const T0 = Date.UTC(2026, 0, 5, 9);

const RULES = thermoRules(
  `  - { id: silent, kind: absence, severity: major, after: 15m }
  - { id: humidity-silent, kind: absence, severity: minor, metric: humidity, after: 10m }\n`,
);

/** The device-level rule alone. */
const DEVICE_RULE = thermoRules(`  - { id: silent, kind: absence, severity: major, after: 15m }\n`);

const harness = (start = T0, rules = RULES) => new RuleHarness({ rulesets: () => rules }, start);

/** A reading of `device` received now, with both metrics unless told. */
const now = (
  h: RuleHarness,
  device: string,
  metrics: Enriched['metrics'] = { temperature: 20, humidity: 40 },
  extra: Parameters<typeof reading>[3] = {},
) => reading(device, h.clock.now(), metrics, extra);

/** Runs `minutes` of live stream: each minute the readings `each` gives, then the clock moves on. */
async function live(h: RuleHarness, minutes: number, each: (minute: number) => Enriched[]): Promise<void> {
  for (let m = 0; m < minutes; m++) {
    const records = each(m);
    if (records.length > 0) await h.send(records, 50, 'shard-0', { millisBehindLatest: 0 });
    await h.clock.advance(MIN);
    await h.driver.settle();
  }
}

/** What happened to one target: kind, time from T0 and rule, in time order. */
const about = (events: readonly AlarmEvent[], id: string) =>
  events
    .filter((e) => e.episode.target.id === id)
    .sort((a, b) => a.at - b.at)
    .map((e) => [e.kind, e.at - T0, e.episode.ruleId]);

describe('rule operator: absence rules', () => {
  it('a device silent for longer than T raises once, at T after it was last heard, and clears when heard', async () => {
    const h = harness(T0, DEVICE_RULE);
    // thermo-1 talks for 5 minutes then falls silent; thermo-2 talks all along
    await live(h, 40, (m) => [now(h, 'thermo-2'), ...(m < 5 ? [now(h, 'thermo-1')] : [])]);
    // a duplicate of its last reading (a producer's retry) comes through: it ends no silence
    await h.send([reading('thermo-1', T0 + 4 * MIN, { temperature: 20, humidity: 40 })]);
    const raisedBy = h.events.length;
    await live(h, 1, () => [now(h, 'thermo-1'), now(h, 'thermo-2')]);
    const events = [...h.events];
    await h.close();
    expect(raisedBy).toBe(1);
    expect(about(events, 'thermo-1')).toEqual([
      ['raise', 19 * MIN, 'silent'],
      ['clear', 40 * MIN, 'silent'],
      ['close', 40 * MIN, 'silent'],
    ]);
    expect(events[0]!.episode.target).toEqual({ kind: 'device', id: 'thermo-1' });
    expect(events[0]!.episode.message).toBe('nothing heard for more than 15m');
    expect(about(events, 'thermo-2')).toEqual([]);
  });

  it('metric-level absence: a device that talks without the metric raises for the metric alone', async () => {
    const h = harness();
    await live(h, 30, (m) => [
      now(h, 'thermo-1', m < 3 ? { temperature: 20, humidity: 40 } : { temperature: 20 }),
    ]);
    // a null value is the device saying it has none: not heard either
    await live(h, 1, () => [now(h, 'thermo-1', { temperature: 20, humidity: null })]);
    await live(h, 1, () => [now(h, 'thermo-1')]);
    const events = [...h.events];
    await h.close();
    expect(about(events, 'thermo-1')).toEqual([
      ['raise', 12 * MIN, 'humidity-silent'],
      ['clear', 31 * MIN, 'humidity-silent'],
      ['close', 31 * MIN, 'humidity-silent'],
    ]);
    expect(events[0]!.episode.message).toBe('no humidity heard for more than 10m');
  });

  it.each([
    ['the source gives its lag', true],
    ['the lag is read from the readings', false],
  ])('reading a backlog raises nothing until the consumer has caught up (%s)', async (_name, figure) => {
    // The stream holds two hours of readings the consumer did not read: it starts at T0 + 2 h and
    // reads four minutes of stream per minute, so it catches up 40 minutes later, over twice T.
    // thermo-1 and thermo-2 talk all along; thermo-3 fell silent at T0 + 90 min, for real.
    const start = T0 + 120 * MIN;
    const h = harness(start);
    const stream = (from: number, to: number) => {
      const out: Enriched[] = [];
      for (let t = from; t < to; t += MIN) {
        out.push(reading('thermo-1', t, { temperature: 20, humidity: 40 }));
        out.push(reading('thermo-2', t, { temperature: 21, humidity: 41 }));
        if (t <= T0 + 90 * MIN) out.push(reading('thermo-3', t, { temperature: 22, humidity: 42 }));
      }
      return out;
    };
    // what each minute of reading emitted, with how far behind the tip that minute's batch was
    const minutes: { lag: number; emitted: number }[] = [];
    let read = T0;
    for (let k = 0; k < 40; k++) {
      const to = Math.min(read + 4 * MIN, h.clock.now());
      const lag = h.clock.now() - (to - MIN);
      const before = h.events.length;
      await h.send(stream(read, to), 100, 'shard-0', figure ? { millisBehindLatest: lag } : {});
      read = to;
      await h.clock.advance(MIN);
      await h.driver.settle();
      minutes.push({ lag, emitted: h.events.length - before });
    }
    // caught up: the last minute read what the minute before it brought
    expect(minutes.at(-1)!.lag).toBe(MIN);
    expect(minutes.filter((m) => m.lag > MIN).length).toBe(39);
    // nothing while the backlog was read, though every device's timer came due in it
    expect(minutes.filter((m) => m.lag > MIN && m.emitted > 0)).toEqual([]);
    // live from here: thermo-3 is still silent
    await live(h, 10, () => [now(h, 'thermo-1'), now(h, 'thermo-2')]);
    const events = [...h.events];
    await h.close();
    // raised once caught up, at the time its silence reached T (so with the id a live run gives it)
    expect(about(events, 'thermo-3')).toEqual([
      ['raise', 100 * MIN, 'humidity-silent'],
      ['raise', 105 * MIN, 'silent'],
    ]);
    expect(events.every((e) => e.episode.target.id === 'thermo-3')).toBe(true);
  });

  it('a replay raises nothing spurious: no episode the live run did not have, the same ids', async () => {
    const talking = (h: RuleHarness, m: number) => [
      now(h, 'thermo-1'),
      now(h, 'thermo-2'),
      ...(m < 20 ? [now(h, 'thermo-3')] : []),
    ];
    // the live run: an hour, thermo-3 silent from minute 19 on
    const first = harness();
    const stream: Enriched[] = [];
    await live(first, 60, (m) => {
      const records = talking(first, m);
      stream.push(...records);
      return records;
    });
    const liveEvents = [...first.events];
    await first.close();
    expect(liveEvents.map((e) => [e.kind, e.episode.target.id])).toEqual([
      ['raise', 'thermo-3'],
      ['raise', 'thermo-3'],
    ]);

    // the replay, an hour later: the shard's state reset, the same records read again from the start
    // as a backlog (300 readings a minute of clock), then live
    const replay = harness(T0 + 120 * MIN);
    for (let i = 0; i < stream.length; i += 300) {
      const batch = stream.slice(i, i + 300);
      const lag = replay.clock.now() - batch.at(-1)!.ingest_timestamp;
      await replay.send(batch, 300, 'shard-0', { millisBehindLatest: lag });
      await replay.clock.advance(MIN);
      await replay.driver.settle();
    }
    await live(replay, 30, (m) => talking(replay, 100 + m));
    const replayed = [...replay.events];
    await replay.close();
    // thermo-3 is still silent: its episode comes again with the live run's id and content, once
    expect(replayed.length).toBe(2);
    const byId = new Map(liveEvents.map((e) => [e.id, e]));
    for (const e of replayed) expect(e).toEqual(byId.get(e.id));
  });

  it('a silent hub raises one alarm of its own and none for its children; they are judged again once it is back', async () => {
    const children = ['child-1', 'child-2', 'child-3', 'child-4'];
    const h = harness();
    // the hub's frame: each child's reading, keyed by the hub (as devices/{hub}/telemetry is)
    const frame = (who: readonly string[]) =>
      who.map((c) => now(h, c, { temperature: 20, humidity: 40 }, { hub: 'hub-7', key: 'hub-7' }));
    await live(h, 10, () => [...frame(children), now(h, 'thermo-1')]);
    // the hub falls silent for 40 minutes
    await live(h, 40, () => [now(h, 'thermo-1')]);
    const whileSilent = [...h.events];
    // back, without child-4
    await live(h, 30, () => [...frame(children.slice(0, 3)), now(h, 'thermo-1')]);
    const events = [...h.events];
    await h.close();
    expect(whileSilent.map((e) => [e.kind, e.episode.target, e.at - T0])).toEqual([
      ['raise', { kind: 'hub', id: 'hub-7' }, 24 * MIN],
    ]);
    const after = events.slice(whileSilent.length);
    expect(after.slice(0, 2).map((e) => [e.kind, e.episode.target.id, e.at - T0])).toEqual([
      ['clear', 'hub-7', 50 * MIN],
      ['close', 'hub-7', 50 * MIN],
    ]);
    // child-4 has not been heard since minute 9, and its hub has been since: its own silence now
    expect(after.length).toBe(4);
    expect(about(after, 'child-4')).toEqual([
      ['raise', 19 * MIN, 'humidity-silent'],
      ['raise', 24 * MIN, 'silent'],
    ]);
  });

  it('a child whose readings are not keyed by its hub is judged as any device', async () => {
    const h = harness();
    await live(h, 3, () => [now(h, 'child-1', { temperature: 20, humidity: 40 }, { hub: 'hub-7' })]);
    await live(h, 20, () => []);
    const events = [...h.events];
    await h.close();
    expect(events.map((e) => [e.kind, e.episode.target.id, e.at - T0])).toEqual([
      ['raise', 'child-1', 12 * MIN],
      ['raise', 'child-1', 17 * MIN],
    ]);
  });
});

describe('absence state', () => {
  it('keeps its fields through the codec, and its field names the rule and target', () => {
    const s = {
      ...heardState({ productId: 'hub-j4', siteId: null, customerId: 'c-1', hubId: 'hub-7' }, T0),
      timerAt: T0 + 15 * MIN,
    };
    expect(absenceStateCodec.decode(absenceStateCodec.encode(s))).toEqual(s);
    const field = absenceField('silent', { kind: 'hub', id: 'hub-7' });
    expect(parseAbsenceField(field)).toEqual({ ruleId: 'silent', target: { kind: 'hub', id: 'hub-7' } });
  });
});
