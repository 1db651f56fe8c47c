/** The alarm episode state machine on hand-written sequences: each lifecycle rule once, by example. */
import { describe, expect, it } from 'vitest';
import {
  type AlarmRule,
  APPLIED_ACTIONS,
  apply,
  applyAction,
  applyActionOnce,
  type EpisodeInput,
  type EpisodePolicy,
  type EpisodeState,
  episodeStateCodec,
} from '../../../../operators/rules/episodes/index.ts';
import { type AlarmEvent, episodeId } from '../../../../topology/index.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 8);

function rule(policy: Partial<EpisodePolicy> = {}): AlarmRule {
  return {
    ruleId: 'overheat',
    rulesetVersion: 1,
    target: { kind: 'device', id: 'dev-1' },
    productId: 'env-h1',
    customerId: 'cust-1',
    siteId: 'site-1',
    deviceId: 'dev-1',
    policy: { severity: 'warning', ...policy },
  };
}

function feed(r: AlarmRule, inputs: readonly EpisodeInput[], from?: EpisodeState) {
  let state = from;
  const events: AlarmEvent[] = [];
  for (const input of inputs) {
    const step = apply(state, input, r);
    state = step.state;
    events.push(...step.events);
  }
  return { state: state!, events, kinds: events.map((e) => e.kind) };
}

const holds = (min: number, value = 1): EpisodeInput => ({
  kind: 'condition',
  at: T0 + min * MIN,
  holds: true,
  value,
});
const ends = (min: number): EpisodeInput => ({ kind: 'condition', at: T0 + min * MIN, holds: false });
const tick = (min: number): EpisodeInput => ({ kind: 'tick', at: T0 + min * MIN });

describe('alarm episode state machine', () => {
  it('raises one episode for two readings 1 ms apart, with an id made from the rule, target and time', () => {
    const r = rule();
    const { events, state } = feed(r, [
      { kind: 'condition', at: T0, holds: true, value: 11 },
      { kind: 'condition', at: T0 + 1, holds: true, value: 12 },
    ]);
    expect(events.map((e) => [e.kind, e.seq, e.notify])).toEqual([
      ['raise', 1, true],
      ['update', 2, false],
    ]);
    expect(state.episode?.id).toBe(episodeId('overheat', { kind: 'device', id: 'dev-1' }, T0));
    expect(events[1]!.id).toBe(`${state.episode!.id}/2`);
  });

  it('closes an episode that is not latched when the condition ends', () => {
    const { kinds, state } = feed(rule(), [holds(0), ends(1)]);
    expect(kinds).toEqual(['raise', 'clear', 'close']);
    expect(state.episode).toBeNull();
  });

  it('holds a latched episode open, cleared, until acknowledged', () => {
    const r = rule({ latched: true });
    const { kinds, state } = feed(r, [holds(0), ends(1), tick(100)]);
    expect(kinds).toEqual(['raise', 'clear', 'latch']);
    expect(state.episode?.status).toBe('cleared');
    const acked = feed(r, [{ kind: 'acknowledge', at: T0 + 101 * MIN, by: 'ana' }], state);
    expect(acked.kinds).toEqual(['acknowledge', 'close']);
    expect(acked.state.episode).toBeNull();
  });

  it('continues a latched episode when the condition comes back before the acknowledgement', () => {
    const { kinds, state } = feed(rule({ latched: true }), [holds(0), ends(1), holds(2)]);
    expect(kinds).toEqual(['raise', 'clear', 'latch', 'update']);
    expect(state.episode?.status).toBe('active');
  });

  it('escalates after N minutes active and falls back after M minutes cleared', () => {
    const r = rule({
      latched: true,
      escalate: { to: 'critical', afterMs: 10 * MIN },
      deescalateAfterMs: 5 * MIN,
    });
    const { events, state } = feed(r, [holds(0), tick(9), tick(10), ends(12), tick(16), tick(17)]);
    expect(events.map((e) => [e.kind, e.episode.severity, (e.at - T0) / MIN])).toEqual([
      ['raise', 'warning', 0],
      ['severity', 'critical', 10],
      ['clear', 'critical', 12],
      ['latch', 'critical', 12],
      ['severity', 'warning', 17],
    ]);
    expect(state.episode?.severity).toBe('warning');
  });

  it('records but does not notify while shelved, and shelving carries to the next episode', () => {
    const r = rule();
    const first = feed(r, [
      holds(0),
      { kind: 'shelve', at: T0 + MIN, by: 'ana', until: T0 + 60 * MIN },
      ends(2),
      holds(3),
    ]);
    expect(first.events.map((e) => [e.kind, e.notify, e.suppressed])).toEqual([
      ['raise', true, false],
      ['shelve', false, false],
      ['clear', false, true],
      ['close', false, false],
      ['raise', false, true],
    ]);
    const later = feed(r, [ends(61), holds(62)], first.state);
    expect(later.events.map((e) => [e.kind, e.notify])).toEqual([
      ['unshelve', false],
      ['clear', true],
      ['close', false],
      ['raise', true],
    ]);
  });

  it('marks a (rule, target) flapping after too many changes and notifies again once stable', () => {
    const r = rule({ flapping: { maxChanges: 3, windowMs: 10 * MIN } });
    const { events, state } = feed(r, [holds(0), ends(1), holds(2), ends(3), holds(4)]);
    expect(
      events.filter((e) => e.kind === 'raise').map((e) => [e.notify, e.suppressed, e.episode.flapping]),
    ).toEqual([
      [true, false, false],
      [true, false, false],
      [false, true, true],
    ]);
    const stable = feed(r, [tick(14), ends(15), holds(16)], state);
    expect(stable.events.map((e) => [e.kind, e.notify, e.note])).toEqual([
      ['update', false, 'stable'],
      ['clear', true, null],
      ['close', false, null],
      ['raise', true, null],
    ]);
  });

  it('closes a cleared episode after the grace period, and continues it when the condition returns within', () => {
    const r = rule({ closeAfterMs: 5 * MIN });
    expect(feed(r, [holds(0), ends(1), holds(3), ends(4), tick(8), tick(9)]).kinds).toEqual([
      'raise',
      'clear',
      'update',
      'clear',
      'close',
    ]);
  });

  it('gives distinct episode ids to two raises at one event time', () => {
    const { events } = feed(rule(), [holds(0), ends(0), holds(0)]);
    const raises = events.filter((e) => e.kind === 'raise');
    expect(new Set(raises.map((e) => e.episodeId)).size).toBe(2);
  });

  it('refuses actions that do not apply', () => {
    const r = rule();
    const { state } = feed(r, [holds(0)]);
    expect(apply(undefined, { kind: 'acknowledge', at: T0, by: 'ana' }, r).refused).toBe('no open alarm');
    const acked = apply(state, { kind: 'acknowledge', at: T0 + 1, by: 'ana' }, r);
    expect(apply(acked.state, { kind: 'acknowledge', at: T0 + 2, by: 'ana' }, r).refused).toMatch(
      /acknowledged already/,
    );
    expect(applyAction(state.episode!, { kind: 'shelve', at: T0, by: 'ana', until: T0 }).refused).toMatch(
      /after now/,
    );
    expect(applyAction(state.episode!, { kind: 'unshelve', at: T0, by: 'ana' }).refused).toMatch(
      /not shelved/,
    );
  });

  it('applies an action with an id once, remembers the latest ids through the codec, and advances no time', () => {
    const r = rule({ closeAfterMs: 5 * MIN });
    const { state } = feed(r, [holds(0)]);
    const comment = { kind: 'comment', at: T0 + 10 * MIN, by: 'ana', text: 'on it' } as const;
    const once = applyActionOnce(state, comment, 'act-1');
    expect(once.events.map((e) => e.kind)).toEqual(['comment']);
    expect(once.state.appliedActions).toEqual(['act-1']);
    const again = applyActionOnce(once.state, comment, 'act-1');
    expect(again.events).toEqual([]);
    expect(again.refused).toMatch(/act-1 is applied already/);
    const bytes = episodeStateCodec.encode(once.state);
    expect(episodeStateCodec.decode(bytes)).toEqual(once.state);
    // a state without ids keeps its old layout
    expect(episodeStateCodec.decode(episodeStateCodec.encode(state))).toEqual(state);
    let s = once.state;
    for (let i = 2; i <= APPLIED_ACTIONS + 1; i++) s = applyActionOnce(s, comment, `act-${i}`).state;
    expect(s.appliedActions).toHaveLength(APPLIED_ACTIONS);
    expect(s.appliedActions![0]).toBe('act-2');
    // a cleared episode past its grace period is closed by time, not by the action's time
    const cleared = feed(r, [ends(1)], state).state;
    const late = applyActionOnce(cleared, { ...comment, at: T0 + 60 * MIN }, 'act-x');
    expect(late.events.map((e) => e.kind)).toEqual(['comment']);
  });
});
