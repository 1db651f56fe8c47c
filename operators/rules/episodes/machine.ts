/**
 * The alarm lifecycle of one rule on one target, as a pure function: `apply(state, input, rule)`
 * returns the next state and the alarm events the input caused. Inputs come from the condition side
 * (the condition holds or not at an event time, or time passes) and from people (`actions.ts`).
 *
 * What it guarantees, and the property tests check over random sequences:
 * - at most one open episode per (rule, target): the state holds at most one, and a condition that
 *   holds while one is open updates it (or makes it active again) instead of raising another;
 * - a latched episode closes only once acknowledged;
 * - every change of the episode is an event, numbered in order, carrying the episode after it, so
 *   `rebuildEpisodes(events)` gives back the state's episode;
 * - escalation after `escalate.afterMs` active, de-escalation after `deescalateAfterMs` cleared;
 * - flapping (more than `maxChanges` changes within `windowMs`) and shelving suppress notifications.
 *
 * Time-driven changes (shelving that expires, flapping that ends, escalation, de-escalation, closing
 * after the grace period) happen at the time of whatever input comes next: a `tick` when nothing else
 * does. Inputs are expected in time order per (rule, target); an earlier time fires nothing.
 */
import { type AlarmEvent, type Episode, episodeId, severityRank } from '../../../topology/index.ts';
import { applyAction, endOfClear, mayClose, type PersonAction } from './actions.ts';
import { after, eventOf, nextEvent } from './events.ts';
import type { AlarmRule } from './policy.ts';

/** The condition side: the rule's condition holds (or not) at event time `at`. */
export interface ConditionInput {
  readonly kind: 'condition';
  readonly at: number;
  readonly holds: boolean;
  readonly value?: number | null;
  readonly message?: string;
}

/** Time has reached `at` (processing of a timer): time-driven changes fire. */
export interface TickInput {
  readonly kind: 'tick';
  readonly at: number;
}

/** Anything the state machine takes. */
export type EpisodeInput = ConditionInput | TickInput | PersonAction;

/** What the machine keeps per (rule, target); small, as it lives in keyed state. */
export interface EpisodeState {
  /** The open episode, if any (a closed one is forgotten: its history is in the events). */
  readonly episode: Episode | null;
  /** When the open episode last became active; null while cleared. */
  readonly activeSince: number | null;
  /** Times of the latest state changes (raise, clear, active again) within the flapping window. */
  readonly changes: readonly number[];
  readonly flapping: boolean;
  /** Shelving outlives an episode: the next one of the same rule and target is shelved too. */
  readonly shelvedUntil: number | null;
  /** Event time the last episode's id was made from (two raises at one time get distinct ids). */
  readonly lastRaisedAt: number | null;
  /**
   * The ids of the latest people's actions applied from the stream (at most {@link APPLIED_ACTIONS}),
   * so that one delivered twice applies once; absent when none was.
   */
  readonly appliedActions?: readonly string[];
}

/** How many applied action ids a state remembers. */
export const APPLIED_ACTIONS = 16;

/** The state of a (rule, target) that never raised. */
export const EMPTY_EPISODE_STATE: EpisodeState = {
  episode: null,
  activeSince: null,
  changes: [],
  flapping: false,
  shelvedUntil: null,
  lastRaisedAt: null,
};

/** What one input did. `refused` says why a person's action did not apply. */
export interface EpisodeStep {
  readonly state: EpisodeState;
  readonly events: AlarmEvent[];
  readonly refused?: string;
}

/** Applies `input` to the state of `rule` on its target. */
export function apply(state: EpisodeState | undefined, input: EpisodeInput, rule: AlarmRule): EpisodeStep {
  const timed = advance(state ?? EMPTY_EPISODE_STATE, input.at, rule);
  switch (input.kind) {
    case 'tick':
      return timed;
    case 'condition':
      return then(
        timed,
        input.holds ? conditionHolds(timed.state, input, rule) : conditionEnds(timed.state, input, rule),
      );
    default:
      return then(timed, personAction(timed.state, input));
  }
}

/**
 * A person's action that came with an id (an alarm action record on the stream), applied at its place
 * among the (rule, target)'s inputs: refused when the id was applied already, else as `apply` applies
 * an action, except that time is not advanced to the action's `at` (a person's clock, not the event
 * time the condition side runs on: what time makes due stays with the readings and timers).
 */
export function applyActionOnce(
  state: EpisodeState | undefined,
  action: PersonAction,
  actionId: string,
): EpisodeStep {
  const s = state ?? EMPTY_EPISODE_STATE;
  const applied = s.appliedActions ?? [];
  if (applied.includes(actionId))
    return { state: s, events: [], refused: `action ${actionId} is applied already` };
  const step = personAction(s, action);
  if (step.refused !== undefined) return step;
  return {
    state: { ...step.state, appliedActions: [...applied, actionId].slice(-APPLIED_ACTIONS) },
    events: step.events,
  };
}

/** A person's action on the open episode; shelving also applies to the (rule, target). */
function personAction(state: EpisodeState, action: PersonAction): EpisodeStep {
  const result = applyAction(state.episode ?? undefined, action);
  if (result.refused !== undefined) return { state, events: [], refused: result.refused };
  const step = settle(state, result.events);
  if (action.kind === 'shelve') return { ...step, state: { ...step.state, shelvedUntil: action.until } };
  if (action.kind === 'unshelve') return { ...step, state: { ...step.state, shelvedUntil: null } };
  return step;
}

function then(first: EpisodeStep, second: EpisodeStep): EpisodeStep {
  const events = [...first.events, ...second.events];
  return second.refused === undefined
    ? { state: second.state, events }
    : { state: second.state, events, refused: second.refused };
}

/** The state after `events` on its episode: closed episodes are forgotten, a cleared one is not active. */
function settle(state: EpisodeState, events: AlarmEvent[]): EpisodeStep {
  if (state.episode === null || events.length === 0) return { state, events };
  const episode = after(state.episode, events);
  if (episode.closedAt !== null) return { state: { ...state, episode: null, activeSince: null }, events };
  return {
    state: { ...state, episode, activeSince: episode.status === 'active' ? state.activeSince : null },
    events,
  };
}

/** Records a state change at `at`; flapping starts when the window holds more than `maxChanges`. */
function recordChange(state: EpisodeState, at: number, rule: AlarmRule): EpisodeState {
  const flap = rule.policy.flapping;
  if (flap === undefined) return state;
  const changes = [...state.changes.filter((t) => t > at - flap.windowMs), at].slice(-(flap.maxChanges + 1));
  return { ...state, changes, flapping: state.flapping || changes.length > flap.maxChanges };
}

function conditionHolds(state: EpisodeState, input: ConditionInput, rule: AlarmRule): EpisodeStep {
  const value = input.value ?? null;
  const message = input.message ?? '';
  const open = state.episode;
  if (open === null) return raise(state, input.at, value, message, rule);
  if (open.status === 'active') {
    if (open.value === value && open.message === message) return { state, events: [] };
    return settle(state, [nextEvent(open, 'update', input.at, { value, message })]);
  }
  // cleared but still open (latched, or within the grace period): the same episode is active again
  const changed = recordChange(state, input.at, rule);
  const event = nextEvent(
    open,
    'update',
    input.at,
    { status: 'active', clearedAt: null, value, message, flapping: changed.flapping },
    { note: 'active again', notifiable: true },
  );
  return settle({ ...changed, activeSince: input.at }, [event]);
}

function raise(
  state: EpisodeState,
  at: number,
  value: number | null,
  message: string,
  rule: AlarmRule,
): EpisodeStep {
  const changed = recordChange(state, at, rule);
  const idAt = changed.lastRaisedAt !== null && at <= changed.lastRaisedAt ? changed.lastRaisedAt + 1 : at;
  const shelvedUntil =
    changed.shelvedUntil !== null && changed.shelvedUntil > at ? changed.shelvedUntil : null;
  const episode: Episode = {
    id: episodeId(rule.ruleId, rule.target, idAt),
    ruleId: rule.ruleId,
    rulesetVersion: rule.rulesetVersion,
    target: rule.target,
    productId: rule.productId,
    customerId: rule.customerId,
    siteId: rule.siteId,
    deviceId: rule.deviceId,
    severity: rule.policy.severity,
    status: 'active',
    acknowledged: false,
    latched: rule.policy.latched ?? false,
    assignee: null,
    shelvedUntil,
    openedAt: at,
    clearedAt: null,
    closedAt: null,
    lastEventSeq: 1,
    updatedAt: at,
    flapping: changed.flapping,
    value,
    message,
  };
  const event = eventOf(episode, 'raise', at, { notifiable: true });
  return {
    state: { ...changed, episode, activeSince: at, lastRaisedAt: idAt, shelvedUntil },
    events: [event],
  };
}

function conditionEnds(state: EpisodeState, input: ConditionInput, rule: AlarmRule): EpisodeStep {
  const open = state.episode;
  if (open === null || open.status === 'cleared') return { state, events: [] };
  const changed = recordChange(state, input.at, rule);
  const clear = nextEvent(
    open,
    'clear',
    input.at,
    { status: 'cleared', clearedAt: input.at, flapping: changed.flapping },
    { notifiable: true },
  );
  const closeNow = (rule.policy.closeAfterMs ?? 0) <= 0;
  return settle(changed, [clear, ...endOfClear(clear.episode, input.at, closeNow)]);
}

/** The time-driven changes due at `at`. */
function advance(state: EpisodeState, at: number, rule: AlarmRule): EpisodeStep {
  let s = state;
  const events: AlarmEvent[] = [];
  if (s.shelvedUntil !== null && s.shelvedUntil <= at) s = { ...s, shelvedUntil: null };
  if (s.episode?.shelvedUntil != null && s.episode.shelvedUntil <= at)
    s = pushed(
      s,
      events,
      nextEvent(s.episode, 'unshelve', at, { shelvedUntil: null }, { note: 'shelving expired' }),
    );
  const flap = rule.policy.flapping;
  if (
    s.flapping &&
    flap !== undefined &&
    (s.changes.at(-1) ?? Number.NEGATIVE_INFINITY) <= at - flap.windowMs
  ) {
    s = { ...s, flapping: false, changes: [] };
    if (s.episode !== null)
      s = pushed(s, events, nextEvent(s.episode, 'update', at, { flapping: false }, { note: 'stable' }));
  }
  const { escalate, deescalateAfterMs, closeAfterMs } = rule.policy;
  const open = s.episode;
  if (open !== null && open.status === 'active' && escalate !== undefined && s.activeSince !== null) {
    if (severityRank(open.severity) < severityRank(escalate.to) && at - s.activeSince >= escalate.afterMs)
      s = pushed(
        s,
        events,
        nextEvent(open, 'severity', at, { severity: escalate.to }, { note: 'escalated', notifiable: true }),
      );
  }
  const cleared = s.episode;
  if (cleared !== null && cleared.status === 'cleared' && cleared.clearedAt !== null) {
    const base = rule.policy.severity;
    if (
      deescalateAfterMs !== undefined &&
      cleared.severity !== base &&
      at - cleared.clearedAt >= deescalateAfterMs
    )
      s = pushed(
        s,
        events,
        nextEvent(cleared, 'severity', at, { severity: base }, { note: 'de-escalated', notifiable: true }),
      );
    const last = s.episode;
    if (last !== null && mayClose(last) && (closeAfterMs ?? 0) > 0 && at - cleared.clearedAt >= closeAfterMs!)
      s = pushed(s, events, nextEvent(last, 'close', at, { closedAt: at }));
  }
  return { state: s, events };
}

/** `event` added to the step's events and applied to `s` (a function, not a closure per call: see `threshold.ts`). */
function pushed(s: EpisodeState, events: AlarmEvent[], event: AlarmEvent): EpisodeState {
  events.push(event);
  return settle(s, [event]).state;
}

/**
 * The earliest time at which a `tick` would change the state (escalation, de-escalation, the end of
 * the grace period, of shelving or of flapping), or undefined when only an input can: when the rule
 * operator should set its timer for this (rule, target).
 */
export function dueAt(state: EpisodeState, rule: Pick<AlarmRule, 'policy'>): number | undefined {
  const due: number[] = [];
  const e = state.episode;
  if (state.shelvedUntil !== null) due.push(state.shelvedUntil);
  if (e?.shelvedUntil != null) due.push(e.shelvedUntil);
  const { escalate, deescalateAfterMs, closeAfterMs, flapping } = rule.policy;
  if (state.flapping && flapping !== undefined && state.changes.length > 0)
    due.push(state.changes.at(-1)! + flapping.windowMs);
  if (e !== null && e.status === 'active' && escalate !== undefined && state.activeSince !== null)
    if (severityRank(e.severity) < severityRank(escalate.to)) due.push(state.activeSince + escalate.afterMs);
  if (e !== null && e.status === 'cleared' && e.clearedAt !== null) {
    if (deescalateAfterMs !== undefined && e.severity !== rule.policy.severity)
      due.push(e.clearedAt + deescalateAfterMs);
    if (mayClose(e) && (closeAfterMs ?? 0) > 0) due.push(e.clearedAt + closeAfterMs!);
  }
  return due.length === 0 ? undefined : Math.min(...due);
}
