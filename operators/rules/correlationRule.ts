/**
 * Correlation rules of scope `device` in the rule operator: a condition (`all` / `any` / `not`) over
 * the states of other rules of the same device, judged at each event time at which one of those rules
 * changed (a raise, a clear, an escalation: the events of a reading or of a timer, in time order, on
 * the episodes as they were at that time), so the result does not depend on batch cuts. Time alone
 * (the key's event-time timers) only moves the correlation's own episode (escalation, grace). A
 * referenced rule's state is `true` while its alarm on the device is active, `false` otherwise (no
 * episode, or cleared), and unknown for a rule not enabled for the device (an override disabled
 * it): `all` of an unknown is not true, so nothing is raised on a rule that does not run.
 *
 * - `within`: raised only when the active rules' alarms were raised within this time of one another
 *   (the newest `openedAt` minus the oldest); once raised, the alarm stays while the condition holds.
 * - Correlations may refer to correlations (the checks refuse cycles): they are judged in an order
 *   where a referenced one comes first, so one reading settles the whole chain.
 * - The correlation's episode is in the rule state (`ruleState.ts`) like every kind's, its escalation
 *   on the key's event-time timers.
 *
 * Scopes `hub`, `site` and `customer` span partition keys and shards: they need condition changes
 * re-keyed through a stream of the platform's own, which is not built. They are reported as not
 * evaluated.
 */
import type { AlarmEvent, Episode, MapState, TimerService } from '../../topology/index.ts';
import { alarmRuleOf } from './alarmRule.ts';
import type {
  CompiledCorrelation,
  CompiledRule,
  CompiledRuleset,
  RuleTarget,
} from './compile/compileRuleset.ts';
import { type EpisodeSubject, feedEpisode } from './episodeStep.ts';
import { dueAt } from './episodes/index.ts';
import { parseRuleField, type RuleState, ruleField, ruleStateFor } from './ruleState.ts';

/** Whether the operator judges a correlation rule (its scope stays within one partition key). */
export function isJudgedCorrelation(rule: CompiledRule): rule is CompiledCorrelation {
  return rule.kind === 'correlation' && rule.scope === 'device';
}

/** Where a device's correlations are judged: its rule states and the key's timers. */
export interface CorrelationStores {
  readonly states: MapState<RuleState>;
  readonly timers: TimerService;
}

/** What the operator counts of correlation rules. */
export interface CorrelationCounts {
  stateWrites: number;
  events: number;
}

/** Whom a device's correlations are about. */
export interface CorrelationTarget extends RuleTarget {
  readonly deviceId: string;
  readonly productId: string;
  readonly siteId: string | null;
  readonly customerId: string | null;
}

/** What a device's rules' episodes are, by rule id, as a correlation sees them (null: none). */
export type EpisodeView = Map<string, Episode | null>;

/** The device-scope correlation rules of rulesets. */
export function correlationRules(
  siteZone: (siteId: string | null) => string | undefined,
  counts: CorrelationCounts,
) {
  interface Plan {
    readonly order: readonly CompiledCorrelation[];
    readonly enabled: ReadonlySet<string>;
    /** Every rule a correlation refers to, and the correlations: what a view holds. */
    readonly watched: readonly string[];
  }
  const plans = new WeakMap<readonly CompiledRule[], Plan>();
  const planOf = (ruleset: CompiledRuleset, target: RuleTarget): Plan => {
    const rules = ruleset.rulesFor(target);
    let plan = plans.get(rules);
    if (plan === undefined) {
      const order = referencedFirst(rules.filter(isJudgedCorrelation).filter((r) => r.enabled));
      plan = {
        order,
        // absence rules keep their episodes apart (processing time): unknown to a correlation
        enabled: new Set(rules.filter((r) => r.enabled && r.kind !== 'absence').map((r) => r.id)),
        watched: [...new Set(order.flatMap((r) => [...r.refs, r.id]))],
      };
      plans.set(rules, plan);
    }
    return plan;
  };

  /** Keeps a correlation's new state and sets the timer for its next due time. */
  const keep = (
    stores: CorrelationStores,
    key: string,
    field: string,
    before: RuleState | undefined,
    s: RuleState,
    rule: CompiledCorrelation,
    subject: EpisodeSubject,
  ) => {
    if (s === before || (before === undefined && s.episode.episode === null)) return;
    stores.states.set(key, field, s);
    counts.stateWrites++;
    const due = nextDue(s, rule, subject);
    if (due !== undefined) stores.timers.registerEventTime(key, due);
  };

  const stateOf = (
    stores: CorrelationStores,
    key: string,
    t: CorrelationTarget,
    rule: CompiledCorrelation,
  ) => {
    const before = stores.states.get(key, ruleField(rule.id, t.deviceId));
    return { before, s: ruleStateFor(before, t.productId, t.siteId, t.customerId) };
  };

  /** Judges the device's correlations at `at` on `view`, which their own new episodes join. */
  const judgeAt = (
    key: string,
    t: CorrelationTarget,
    ruleset: CompiledRuleset,
    plan: Plan,
    stores: CorrelationStores,
    view: EpisodeView,
    at: number,
    out: AlarmEvent[],
  ) => {
    const subject: EpisodeSubject = { rulesetVersion: ruleset.version, deviceId: t.deviceId };
    const zone = siteZone(t.siteId);
    for (const rule of plan.order) {
      const field = ruleField(rule.id, t.deviceId);
      const { before, s: start } = stateOf(stores, key, t, rule);
      const events: AlarmEvent[] = [];
      let s = catchUp(start, rule, subject, at, events);
      const states: Record<string, boolean | undefined> = {};
      const opened: number[] = [];
      for (const ref of rule.refs) {
        if (!plan.enabled.has(ref)) continue; // unknown: the rule does not run for this device
        const episode = view.get(ref) ?? null;
        states[ref] = episode?.status === 'active';
        if (episode?.status === 'active') opened.push(episode.openedAt);
      }
      const holds = rule.condition(states) === true;
      const active = s.episode.episode?.status === 'active';
      if (holds && !active) {
        const together =
          rule.withinMs === undefined ||
          opened.length === 0 ||
          Math.max(...opened) - Math.min(...opened) <= rule.withinMs;
        if (together && rule.inSchedule(at, zone) && !rule.inMaintenance(at))
          s = feedEpisode(
            s,
            rule,
            subject,
            { kind: 'condition', at, holds: true, value: null, message: rule.message },
            events,
          );
      } else if (!holds && active) {
        s = feedEpisode(s, rule, subject, { kind: 'condition', at, holds: false }, events);
      }
      view.set(rule.id, s.episode.episode);
      counts.events += events.length;
      out.push(...events);
      keep(stores, key, field, before, s, rule, subject);
    }
  };

  return {
    /** Whether a ruleset judges correlations for a target (most do not: the reading path skips them). */
    any(ruleset: CompiledRuleset, target: RuleTarget): boolean {
      return planOf(ruleset, target).order.length > 0;
    },

    /** The enabled device-scope correlation rules for a target, by id (for timers). */
    byId(ruleset: CompiledRuleset, target: RuleTarget): ReadonlyMap<string, CompiledCorrelation> {
      return new Map(planOf(ruleset, target).order.map((r) => [r.id, r]));
    },

    /** The episodes a device's correlations watch, as they are now: taken before its rules are judged. */
    view(
      key: string,
      t: CorrelationTarget,
      ruleset: CompiledRuleset,
      states: MapState<RuleState>,
    ): EpisodeView {
      const view: EpisodeView = new Map();
      for (const id of planOf(ruleset, t).watched)
        view.set(id, states.get(key, ruleField(id, t.deviceId))?.episode.episode ?? null);
      return view;
    },

    /** The same view from the rule states a timer found under the key, before it moved them. */
    viewOf(
      entries: readonly (readonly [string, RuleState])[],
      t: CorrelationTarget,
      ruleset: CompiledRuleset,
    ): EpisodeView {
      const view: EpisodeView = new Map();
      for (const id of planOf(ruleset, t).watched) view.set(id, null);
      for (const [field, s] of entries) {
        const { ruleId, deviceId } = parseRuleField(field);
        if (deviceId === t.deviceId && view.has(ruleId)) view.set(ruleId, s.episode.episode);
      }
      return view;
    },

    /**
     * Judges the device's correlations at each event time at which a rule they watch changed, in
     * time order, on `view` (taken before) moved by the events `out` got since `mark`: what the
     * rules' episodes were at that time, however the records were cut into batches.
     */
    afterChanges(
      key: string,
      t: CorrelationTarget,
      ruleset: CompiledRuleset,
      stores: CorrelationStores,
      view: EpisodeView,
      out: AlarmEvent[],
      mark: number,
    ): void {
      const plan = planOf(ruleset, t);
      const changes = out
        .slice(mark)
        .filter((e) => e.episode.deviceId === t.deviceId && view.has(e.episode.ruleId))
        .sort((a, b) => a.at - b.at);
      for (let i = 0; i < changes.length; ) {
        const at = changes[i]!.at;
        for (; i < changes.length && changes[i]!.at === at; i++)
          view.set(changes[i]!.episode.ruleId, changes[i]!.episode);
        judgeAt(key, t, ruleset, plan, stores, view, at, out);
      }
    },

    /** What time alone makes due for the device's correlations up to `at` (a timer fired). */
    tick(
      key: string,
      t: CorrelationTarget,
      ruleset: CompiledRuleset,
      stores: CorrelationStores,
      at: number,
      out: AlarmEvent[],
    ): void {
      const subject: EpisodeSubject = { rulesetVersion: ruleset.version, deviceId: t.deviceId };
      for (const rule of planOf(ruleset, t).order) {
        const { before, s: start } = stateOf(stores, key, t, rule);
        const events: AlarmEvent[] = [];
        const s = catchUp(start, rule, subject, at, events);
        counts.events += events.length;
        out.push(...events);
        keep(stores, key, ruleField(rule.id, t.deviceId), before, s, rule, subject);
      }
    },
  };
}

/** The earliest event time at which time alone changes the correlation's episode, or undefined. */
function nextDue(s: RuleState, rule: CompiledCorrelation, subject: EpisodeSubject): number | undefined {
  const e = s.episode;
  if (e.episode === null && e.shelvedUntil === null && !e.flapping) return undefined;
  return dueAt(e, alarmRuleOf(rule, { ...subject, ...s }, e.episode?.severity));
}

/** Everything time alone makes due up to and including `upTo` (escalation, grace, shelving). */
function catchUp(
  state: RuleState,
  rule: CompiledCorrelation,
  subject: EpisodeSubject,
  upTo: number,
  events: AlarmEvent[],
): RuleState {
  let s = state;
  let last = Number.NEGATIVE_INFINITY;
  for (;;) {
    const due = nextDue(s, rule, subject);
    // a due time that does not move forward would loop: the machine promises a tick at dueAt acts
    if (due === undefined || due > upTo || due <= last) return s;
    last = due;
    s = feedEpisode(s, rule, subject, { kind: 'tick', at: due }, events);
  }
}

/** The correlations in an order where each comes after the correlations it refers to. */
function referencedFirst(rules: readonly CompiledCorrelation[]): CompiledCorrelation[] {
  const byId = new Map(rules.map((r) => [r.id, r]));
  const order: CompiledCorrelation[] = [];
  const placed = new Set<string>();
  const place = (r: CompiledCorrelation) => {
    if (placed.has(r.id)) return;
    placed.add(r.id); // the checks refuse cycles
    for (const ref of r.refs) {
      const referenced = byId.get(ref);
      if (referenced !== undefined) place(referenced);
    }
    order.push(r);
  };
  for (const r of rules) place(r);
  return order;
}
