/**
 * A threshold rule on one device, pure: a reading or the passing of event time turns a
 * {@link RuleState} into the next one and the alarm events it caused. The gates before the episode
 * machine (`episodes/`):
 *
 * - **on-delay**: a condition that begins to hold (in schedule, outside maintenance, with its repeat
 *   count met) starts `pendingSince`; the alarm is raised at exactly `pendingSince + onDelay` unless a
 *   reading of the device said otherwise before then (the last reading's verdict holds until the next
 *   one). Whichever comes first completes it, the device's next reading at or after that time or the
 *   shard's event-time timer, and both raise at that time: the result does not depend on how records
 *   are cut into batches.
 * - **off-delay**: the same on the clear side of an active alarm (`clearSince`).
 * - **repeat** (n within T): rising edges of the condition in schedule are kept for T; the n-th within T
 *   arms the on-delay (so a condition held continuously counts once).
 * - **schedule and maintenance**: outside the schedule or inside a maintenance window nothing is
 *   armed and a running on-delay is dropped; an active alarm still clears.
 *
 * Time-driven changes of the episode (escalation, de-escalation, …; `dueAt`) happen at their due time
 * too: before a reading is judged, everything due up to its event time happens first (`catchUp`).
 * While an alarm is active a reading that keeps the condition true changes nothing (no value updates:
 * one per reading would flood the history and write the state on every reading).
 */
import type { AlarmEvent } from '../../topology/index.ts';
import { alarmRuleOf, type DeviceSubject, policyOf } from './alarmRule.ts';
import type { CompiledThreshold, RuleReading } from './compile/compileRuleset.ts';
import { apply, dueAt, type EpisodeInput } from './episodes/index.ts';
import type { RuleState } from './ruleState.ts';

/** A reading as a threshold rule judges it. */
export interface JudgedReading extends RuleReading {
  /** Event time (epoch ms). */
  readonly at: number;
  /** The site's time zone, for schedules in `zone: site`. */
  readonly siteZone?: string;
}

/** What one step did: the state (the same object when nothing changed) and the events. */
export interface ThresholdStep {
  readonly state: RuleState;
  readonly events: readonly AlarmEvent[];
}

/** Whom the alarm concerns, from the rule state and the device. */
type Subject = Pick<DeviceSubject, 'rulesetVersion' | 'deviceId'>;

/** The earliest event time at which time alone changes the state, or undefined (whom the alarm concerns does not change it). */
export function nextDue(state: RuleState, rule: CompiledThreshold, _subject?: Subject): number | undefined {
  const e = state.episode;
  // the calm case, most readings of most rules: nothing can be due (no need to build the alarm rule)
  if (
    state.pendingSince === null &&
    state.clearSince === null &&
    e.episode === null &&
    e.shelvedUntil === null &&
    !e.flapping
  )
    return undefined;
  // dueAt reads only the policy: the alarm rule (whom it concerns) is not built here, per reading
  // (no closure here: run through tsx, each one made per call is also named at run time)
  let due = dueAt(e, { policy: policyOf(rule, e.episode?.severity) });
  if (state.pendingSince !== null) due = earlier(due, state.pendingSince + rule.onDelayMs);
  if (state.clearSince !== null) due = earlier(due, state.clearSince + rule.offDelayMs);
  return due;
}

/**
 * Whether a reading of the device whose condition does not hold would leave `state` as it is, so
 * that the rule need not be judged: nothing running or due, no episode, not holding, and the
 * reading's product, site and customer the state's own (else `judge` is given them).
 */
export function restsOn(
  state: RuleState,
  productId: string,
  siteId: string | null,
  customerId: string | null,
): boolean {
  const e = state.episode;
  return (
    !state.holding &&
    state.pendingSince === null &&
    state.clearSince === null &&
    e.episode === null &&
    e.shelvedUntil === null &&
    !e.flapping &&
    state.productId === productId &&
    state.siteId === siteId &&
    state.customerId === customerId
  );
}

/** Everything due up to and including `upTo`, each at its own due time. */
export function catchUp(
  state: RuleState,
  rule: CompiledThreshold,
  subject: Subject,
  upTo: number,
  siteZone?: string,
): ThresholdStep {
  const events: AlarmEvent[] = [];
  return { state: catchUpInto(state, rule, subject, upTo, siteZone, events), events };
}

/** {@link catchUp}, its events pushed onto `events`. */
function catchUpInto(
  state: RuleState,
  rule: CompiledThreshold,
  subject: Subject,
  upTo: number,
  siteZone: string | undefined,
  events: AlarmEvent[],
): RuleState {
  let s = state;
  let last = Number.NEGATIVE_INFINITY;
  for (;;) {
    const due = nextDue(s, rule);
    // a due time that does not move forward would loop: the machine promises a tick at dueAt acts
    if (due === undefined || due > upTo || due <= last) break;
    last = due;
    s = feed(s, rule, subject, { kind: 'tick', at: due }, events);
    if (s.pendingSince !== null && s.pendingSince + rule.onDelayMs <= due)
      s = gateOpen(rule, due, siteZone)
        ? raise(s, rule, subject, due, s.pendingValue, events)
        : { ...s, pendingSince: null, pendingValue: null };
    if (s.clearSince !== null && s.clearSince + rule.offDelayMs <= due)
      s = clear(s, rule, subject, due, events);
  }
  return s;
}

/** Judges one reading of the device (after what was due before it). */
export function judge(
  state: RuleState,
  rule: CompiledThreshold,
  subject: Subject,
  reading: JudgedReading,
): ThresholdStep {
  const t = reading.at;
  const events: AlarmEvent[] = [];
  let s = catchUpInto(state, rule, subject, t, reading.siteZone, events);
  const active = s.episode.episode?.status === 'active';
  const holds = rule.condition(reading);
  if (active) {
    if (holds !== undefined && holds !== s.holding) s = { ...s, holding: holds };
    const clears = rule.clear(reading);
    if (clears === true && s.clearSince === null) {
      s = rule.offDelayMs <= 0 ? clear(s, rule, subject, t, events) : { ...s, clearSince: t };
    } else if (clears === false && s.clearSince !== null) {
      s = { ...s, clearSince: null };
    }
    return { state: s, events };
  }
  if (holds === false) {
    if (s.holding || s.pendingSince !== null)
      s = { ...s, holding: false, pendingSince: null, pendingValue: null };
    return { state: s, events };
  }
  if (holds !== true) return { state: s, events };
  const rising = !s.holding;
  if (rising) s = { ...s, holding: true };
  if (!gateOpen(rule, t, reading.siteZone)) {
    if (s.pendingSince !== null) s = { ...s, pendingSince: null, pendingValue: null };
    return { state: s, events };
  }
  const repeat = rule.repeat;
  if (repeat !== undefined && rising)
    s = { ...s, hits: [...s.hits.filter((h) => h > t - repeat.withinMs), t].slice(-repeat.count) };
  if (s.pendingSince !== null) return { state: s, events };
  if (repeat !== undefined && s.hits.filter((h) => h > t - repeat.withinMs).length < repeat.count)
    return { state: s, events };
  const value = alarmValue(rule, reading);
  s =
    rule.onDelayMs <= 0
      ? raise(s, rule, subject, t, value, events)
      : { ...s, pendingSince: t, pendingValue: value };
  return { state: s, events };
}

/** The earlier of a due time (if any) and `t`. */
function earlier(due: number | undefined, t: number): number {
  return due === undefined || t < due ? t : due;
}

/** In schedule and outside maintenance: the rule may raise. */
function gateOpen(rule: CompiledThreshold, at: number, siteZone: string | undefined): boolean {
  return rule.inSchedule(at, siteZone) && !rule.inMaintenance(at);
}

/** The alarm's value: the first metric the rule reads, when it is a number. */
function alarmValue(rule: CompiledThreshold, reading: RuleReading): number | null {
  const name = rule.metrics[0];
  const value = name === undefined ? undefined : reading.metrics[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Whom the alarm concerns: named fields, not a spread of the state (a spread is slow on the state's many shapes). */
function deviceSubject(subject: Subject, s: RuleState): DeviceSubject {
  return {
    rulesetVersion: subject.rulesetVersion,
    deviceId: subject.deviceId,
    productId: s.productId,
    siteId: s.siteId,
    customerId: s.customerId,
  };
}

function feed(
  s: RuleState,
  rule: CompiledThreshold,
  subject: Subject,
  input: EpisodeInput,
  events: AlarmEvent[],
): RuleState {
  const step = apply(
    s.episode,
    input,
    alarmRuleOf(rule, deviceSubject(subject, s), s.episode.episode?.severity),
  );
  if (step.events.length === 0 && step.state === s.episode) return s;
  events.push(...step.events);
  return { ...s, episode: step.state };
}

function raise(
  s: RuleState,
  rule: CompiledThreshold,
  subject: Subject,
  at: number,
  value: number | null,
  events: AlarmEvent[],
): RuleState {
  const input: EpisodeInput = { kind: 'condition', at, holds: true, value, message: rule.message };
  return { ...feed(s, rule, subject, input, events), pendingSince: null, pendingValue: null, hits: [] };
}

function clear(
  s: RuleState,
  rule: CompiledThreshold,
  subject: Subject,
  at: number,
  events: AlarmEvent[],
): RuleState {
  const input: EpisodeInput = { kind: 'condition', at, holds: false };
  return { ...feed(s, rule, subject, input, events), clearSince: null };
}
