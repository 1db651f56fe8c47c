/**
 * The alarm episode state machine over random sequences of inputs (condition, time, people's
 * actions) and random rule policies: the lifecycle's invariants hold after every step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AlarmRule,
  apply,
  dueAt,
  type EpisodeInput,
  type EpisodePolicy,
  type EpisodeState,
  episodeStateCodec,
} from '../../../../operators/rules/episodes/index.ts';
import { type AlarmEvent, rebuildEpisodes, SEVERITIES, severityRank } from '../../../../topology/index.ts';

const MIN = 60_000;
const RUNS = 10_000;

const policyArb: fc.Arbitrary<EpisodePolicy> = fc.record(
  {
    severity: fc.constantFrom('info', 'warning', 'minor'),
    latched: fc.boolean(),
    escalate: fc.record({
      to: fc.constantFrom('major', 'critical'),
      afterMs: fc.integer({ min: 1, max: 30 }).map((m) => m * MIN),
    }),
    deescalateAfterMs: fc.integer({ min: 1, max: 30 }).map((m) => m * MIN),
    closeAfterMs: fc.constantFrom(0, 5 * MIN, 20 * MIN),
    flapping: fc.record({
      maxChanges: fc.integer({ min: 2, max: 5 }),
      windowMs: fc.integer({ min: 1, max: 30 }).map((m) => m * MIN),
    }),
  },
  { requiredKeys: ['severity'] },
);

type Step = { dt: number; input: (at: number) => EpisodeInput };

const stepArb: fc.Arbitrary<Step> = fc.record({
  // mostly short steps, so flapping windows fill; sometimes long, so timers fire; sometimes 0 or 1 ms
  dt: fc.oneof(
    fc.constantFrom(0, 1),
    fc.integer({ min: 1, max: 5 * MIN }),
    fc.integer({ min: 5 * MIN, max: 60 * MIN }),
  ),
  input: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({ holds: fc.boolean(), value: fc.constantFrom(1, 2, 3) }).map(
        ({ holds, value }) =>
          (at: number): EpisodeInput => ({ kind: 'condition', at, holds, value }),
      ),
    },
    { weight: 2, arbitrary: fc.constant((at: number): EpisodeInput => ({ kind: 'tick', at })) },
    {
      weight: 2,
      arbitrary: fc.constant((at: number): EpisodeInput => ({ kind: 'acknowledge', at, by: 'ana' })),
    },
    {
      weight: 1,
      arbitrary: fc.constant((at: number): EpisodeInput => ({ kind: 'assign', at, by: 'ana', to: 'bo' })),
    },
    {
      weight: 1,
      arbitrary: fc.constant(
        (at: number): EpisodeInput => ({ kind: 'comment', at, by: 'bo', text: 'on it' }),
      ),
    },
    { weight: 1, arbitrary: fc.constant((at: number): EpisodeInput => ({ kind: 'clear', at, by: 'bo' })) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 90 }).map(
        (m) =>
          (at: number): EpisodeInput => ({ kind: 'shelve', at, by: 'ana', until: at + m * MIN }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constant((at: number): EpisodeInput => ({ kind: 'unshelve', at, by: 'ana' })),
    },
  ),
});

function ruleWith(policy: EpisodePolicy): AlarmRule {
  return {
    ruleId: 'overheat',
    rulesetVersion: 3,
    target: { kind: 'device', id: 'dev-1' },
    productId: 'env-h1',
    customerId: 'cust-1',
    siteId: 'site-1',
    deviceId: 'dev-1',
    policy,
  };
}

interface Run {
  readonly states: { input: EpisodeInput; state: EpisodeState; events: AlarmEvent[] }[];
  readonly events: AlarmEvent[];
}

function run(rule: AlarmRule, steps: readonly Step[]): Run {
  let at = Date.UTC(2026, 0, 1);
  let state: EpisodeState | undefined;
  const states: Run['states'] = [];
  const events: AlarmEvent[] = [];
  for (const step of steps) {
    at += step.dt;
    const input = step.input(at);
    const result = apply(state, input, rule);
    state = result.state;
    events.push(...result.events);
    states.push({ input, state, events: result.events });
  }
  return { states, events };
}

/** The condition's changes (flapping counts those, not a person's clear). */
const isChange = (e: AlarmEvent) =>
  e.by === null &&
  (e.kind === 'raise' || e.kind === 'clear' || (e.kind === 'update' && e.note === 'active again'));

describe('alarm episode state machine (properties)', () => {
  const scenarios = fc.tuple(policyArb, fc.array(stepArb, { minLength: 1, maxLength: 60 }));

  it(`never holds two open episodes of one rule and target (${RUNS} sequences)`, () => {
    fc.assert(
      fc.property(scenarios, ([policy, steps]) => {
        const open = new Set<string>();
        for (const e of run(ruleWith(policy), steps).events) {
          if (e.kind === 'raise') {
            expect([...open]).toEqual([]);
            open.add(e.episodeId);
          } else expect(open.has(e.episodeId)).toBe(true);
          if (e.kind === 'close') open.delete(e.episodeId);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('closes a latched episode only once acknowledged', () => {
    fc.assert(
      fc.property(scenarios, ([policy, steps]) => {
        for (const e of run(ruleWith(policy), steps).events) {
          if (e.kind === 'close' && e.episode.latched) expect(e.episode.acknowledged).toBe(true);
          if (e.kind === 'latch') expect(e.episode.acknowledged).toBe(false);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('rebuilds from its events the episode it holds, and every other episode closed; the codec round-trips', () => {
    fc.assert(
      fc.property(scenarios, ([policy, steps]) => {
        const { states, events } = run(ruleWith(policy), steps);
        const ids = new Set(events.map((e) => e.id));
        expect(ids.size).toBe(events.length);
        const seen: AlarmEvent[] = [];
        for (const { state, events: stepEvents } of states) {
          seen.push(...stepEvents);
          const { episodes, gaps } = rebuildEpisodes(seen);
          expect(gaps).toEqual([]);
          for (const [id, episode] of episodes) {
            if (id === state.episode?.id) expect(episode).toEqual(state.episode);
            else expect(episode.closedAt).not.toBeNull();
          }
          if (state.episode !== null) expect(episodes.has(state.episode.id)).toBe(true);
          // replayed out of order and twice, the history rebuilds the same
          expect(rebuildEpisodes([...seen].reverse().concat(seen)).episodes).toEqual(episodes);
          expect(episodeStateCodec.decode(episodeStateCodec.encode(state))).toEqual(state);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('escalates after the active time and falls back after the clear time, within its bounds', () => {
    fc.assert(
      fc.property(scenarios, ([policy, steps]) => {
        const base = severityRank(policy.severity);
        const top = policy.escalate === undefined ? base : severityRank(policy.escalate.to);
        for (const { input, state } of run(ruleWith(policy), steps).states) {
          const e = state.episode;
          if (e === null) continue;
          const rank = severityRank(e.severity);
          expect(rank).toBeGreaterThanOrEqual(base);
          expect(rank).toBeLessThanOrEqual(top);
          if (
            e.status === 'active' &&
            policy.escalate &&
            state.activeSince !== null &&
            input.at - state.activeSince >= policy.escalate.afterMs
          )
            expect(e.severity).toBe(policy.escalate.to);
          if (
            e.status === 'cleared' &&
            policy.deescalateAfterMs !== undefined &&
            input.at - e.clearedAt! >= policy.deescalateAfterMs
          )
            expect(e.severity).toBe(policy.severity);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('notifies nothing while flapping or shelved, and every raise otherwise', () => {
    fc.assert(
      fc.property(scenarios, ([policy, steps]) => {
        const flap = policy.flapping;
        const changes: number[] = [];
        let flappingSince: number | undefined;
        for (const e of run(ruleWith(policy), steps).events) {
          const shelved = e.episode.shelvedUntil !== null && e.at < e.episode.shelvedUntil;
          if (e.notify) {
            expect(e.episode.flapping).toBe(false);
            expect(shelved).toBe(false);
          }
          if (flap === undefined) continue;
          if (flappingSince !== undefined && changes.at(-1)! <= e.at - flap.windowMs)
            flappingSince = undefined;
          if (isChange(e)) {
            changes.push(e.at);
            const recent = changes.filter((t) => t > e.at - flap.windowMs);
            if (recent.length > flap.maxChanges) flappingSince ??= e.at;
            // a change while flapping (by the independent count) is never notified
            if (flappingSince !== undefined) expect(e.notify).toBe(false);
            if (e.kind === 'raise' && flappingSince === undefined && !shelved) expect(e.notify).toBe(true);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('changes nothing on a tick before its due time, and something on a tick at it', () => {
    fc.assert(
      fc.property(
        scenarios,
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        ([policy, steps], f) => {
          const r = ruleWith(policy);
          for (const { input, state } of run(r, steps).states) {
            const due = dueAt(state, r);
            if (due === undefined) {
              expect(apply(state, { kind: 'tick', at: input.at + 365 * 24 * 60 * MIN }, r).state).toEqual(
                state,
              );
              continue;
            }
            if (due > input.at) {
              const before = input.at + Math.floor(f * (due - input.at));
              if (before < due)
                expect(apply(state, { kind: 'tick', at: before }, r)).toEqual({ state, events: [] });
            }
            expect(apply(state, { kind: 'tick', at: Math.max(due, input.at) }, r).state).not.toEqual(state);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('gives the same events when the same inputs are replayed', () => {
    fc.assert(
      fc.property(scenarios, ([policy, steps]) => {
        expect(run(ruleWith(policy), steps).events).toEqual(run(ruleWith(policy), steps).events);
      }),
      { numRuns: 1_000 },
    );
  });

  it('uses every severity name in order', () => {
    expect(SEVERITIES.map(severityRank)).toEqual([0, 1, 2, 3, 4]);
  });
});
