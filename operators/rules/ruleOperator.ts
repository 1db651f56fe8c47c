/**
 * The rule operator: runs each reading's product ruleset (as overridden for its device, site and
 * customer) and emits the alarm events it causes. All rule state lives in the engine's keyed state
 * (`topology/keyedState.ts`), one map field per (rule, device) under the reading's partition key, so a
 * failover or a replay re-runs to the same events and ids; it is written only when it changes.
 *
 * Time is event time (`device_timestamp`). The shard's watermark trails its latest reading by
 * `allowedOutOfOrdernessMs`; what time alone changes (an on-delay or off-delay completing, escalation,
 * de-escalation) happens on a keyed event-time timer at its due time, or, when the device's next reading
 * comes first, before that reading is judged, at the same due time (see `threshold.ts`). A reading
 * behind the watermark is not judged (`rule_readings_late`): the timers may already have acted
 * past it, and judging it would make the result depend on how records were cut into batches.
 *
 * Threshold rules are judged here (`threshold.ts`), the detector kinds in `detectorRule.ts`, aggregate
 * rules in `aggregateRule.ts`, device-scope correlations in `correlationRule.ts`, absence rules in
 * `absence.ts` (processing time); correlations across devices are skipped with a warning per ruleset
 * version.
 */
import type {
  AlarmActionRecord,
  AlarmEvent,
  Enriched,
  FiredTimer,
  Logger,
  MapState,
  Operator,
  TimerService,
} from '../../topology/index.ts';
import { isAlarmAction, silentLogger } from '../../topology/index.ts';
import { ABSENCE, absenceRules } from './absence.ts';
import type { AbsenceState } from './absenceState.ts';
import { aggregateCellCodec, aggregateRules } from './aggregateRule.ts';
import type { CompiledRuleset, CompiledThreshold } from './compile/compileRuleset.ts';
import { type RuleOperatorConfig, ruleOperatorConfigSchema } from './config.ts';
import { correlationRules, isJudgedCorrelation } from './correlationRule.ts';
import { detectorCellCodec } from './detectorCell.ts';
import { DETECTOR_KINDS } from './detectorParams.ts';
import { detectorRules } from './detectorRule.ts';
import { EMPTY_EPISODE_STATE } from './episodes/index.ts';
import { personActions } from './personActions.ts';
import { ruleIndex } from './ruleIndex.ts';
import { parseRuleField, type RuleState, ruleField, ruleStateCodec, ruleStateFor } from './ruleState.ts';
import { catchUp, judge, nextDue, restsOn, type ThresholdStep } from './threshold.ts';

/** The map state of the rules: field `ruleField(rule, device)` under the partition key. */
const RULES = 'rules';
/** The map state of the detector rules' cells: field `ruleField(rule, device)` under the partition key. */
const DETECTORS = 'detectors';
/** The map state of the aggregate rules' open windows: the same fields. */
const AGGREGATES = 'aggregates';
/** The rule kinds the operator evaluates. */
const EVALUATED: ReadonlySet<string> = new Set([
  'threshold',
  'absence',
  'aggregate',
  'correlation',
  ...DETECTOR_KINDS,
]);

/** What the rule operator is given. */
export interface RuleOperatorOptions {
  /** A product's compiled ruleset now in force (a later version replaces it), or undefined for none. */
  readonly rulesets: (productId: string) => CompiledRuleset | undefined;
  readonly config?: Partial<RuleOperatorConfig>;
  /** A site's IANA time zone, for schedules in `zone: site` (UTC without). */
  readonly siteZone?: (siteId: string) => string | undefined;
  /** The zone the window operator cuts windows in (`windows.zone`), for aggregate rules; UTC without. */
  readonly windowZone?: string;
  readonly logger?: Logger;
}

/** Running totals of the operator (every shard), also exported as gauges. */
export interface RuleCounters {
  readings: number;
  late: number;
  /** Rule state writes (sets and deletes): transitions, not readings. */
  stateWrites: number;
  /** Detector cell writes: one per reading a detector rule learns (a map entry marked dirty). */
  detectorWrites: number;
  /** Aggregate cell writes (a reading added to a window, a window judged). */
  aggregateWrites: number;
  events: number;
  /** People's actions (alarm action records) applied, and refused (no event). */
  actionsApplied: number;
  actionsRefused: number;
}

/** What the rule operator reads: readings, and people's actions in their place among them. */
export type RuleInput = Enriched | AlarmActionRecord;

/** The rule operator, with its counters at hand for benchmarks. */
export interface RuleOperator extends Operator<RuleInput, AlarmEvent> {
  readonly counters: Readonly<RuleCounters>;
}

/** Runs products' threshold rules on enriched telemetry, on the engine's keyed state. */
export function ruleOperator(options: RuleOperatorOptions): RuleOperator {
  const config = ruleOperatorConfigSchema.parse(options.config ?? {});
  const log = options.logger ?? silentLogger;
  const counters: RuleCounters = {
    readings: 0,
    late: 0,
    stateWrites: 0,
    detectorWrites: 0,
    aggregateWrites: 0,
    events: 0,
    actionsApplied: 0,
    actionsRefused: 0,
  };
  const thresholds = thresholdIndex(log);
  const actions = personActions(log, counters);
  const zoneOf = (siteId: string | null) =>
    siteId === null || options.siteZone === undefined ? undefined : options.siteZone(siteId);
  const detectors = detectorRules(zoneOf, counters);
  const aggregates = aggregateRules(options.windowZone ?? 'UTC', zoneOf, counters);
  const correlations = correlationRules(zoneOf, counters);
  const absence = absenceRules({
    rulesets: options.rulesets,
    maxLagMs: config.absenceMaxLagMs,
    siteZone: zoneOf,
    wrote: () => counters.stateWrites++,
  });

  /** Keeps a rule's new state (or drops it when it holds nothing) and sets the timer for its next due time. */
  const store = (
    states: MapState<RuleState>,
    timers: TimerService,
    key: string,
    field: string,
    before: RuleState | undefined,
    step: ThresholdStep,
    rule: CompiledThreshold,
    subject: { rulesetVersion: number; deviceId: string },
  ) => {
    counters.events += step.events.length;
    if (step.state === before) return;
    if (isIdle(step.state)) {
      if (before === undefined) return;
      states.delete(key, field);
    } else {
      states.set(key, field, step.state);
    }
    counters.stateWrites++;
    const due = nextDue(step.state, rule, subject);
    if (due !== undefined) timers.registerEventTime(key, due);
  };

  return {
    type: 'rules',
    state: [
      { name: RULES, kind: 'map', codec: ruleStateCodec },
      { name: DETECTORS, kind: 'map', codec: detectorCellCodec },
      { name: AGGREGATES, kind: 'map', codec: aggregateCellCodec },
      ...absence.state,
    ],
    counters,
    gauges: () => [
      {
        name: 'rule_readings',
        help: 'readings seen since the worker started (judged or not)',
        value: counters.readings,
      },
      {
        name: 'rule_readings_late',
        help: 'readings behind their shard watermark, not judged, since the worker started',
        value: counters.late,
      },
      {
        name: 'rule_state_writes',
        help: 'rule state writes (transitions only) since the worker started',
        value: counters.stateWrites,
      },
      {
        name: 'rule_detector_writes',
        help: 'detector state writes (one per reading a detector rule learns) since the worker started',
        value: counters.detectorWrites,
      },
      {
        name: 'rule_aggregate_writes',
        help: 'aggregate rule window writes (one per reading an aggregate rule adds) since the worker started',
        value: counters.aggregateWrites,
      },
      {
        name: 'rule_alarm_events',
        help: 'alarm events emitted since the worker started',
        value: counters.events,
      },
      {
        name: 'rule_actions_applied',
        help: "people's actions (alarm action records) applied to episodes since the worker started",
        value: counters.actionsApplied,
      },
      {
        name: 'rule_actions_refused',
        help: "people's actions refused (no open episode, closed, applied already; logged) since the worker started",
        value: counters.actionsRefused,
      },
    ],
    process: function judgeReadings(input, ctx) {
      const states = ctx.state!.map<RuleState>(RULES);
      const timers = ctx.timers!;
      // people's actions are rare: a batch without one is the readings as they are
      let batch = input as readonly Enriched[];
      let hasActions = false;
      for (const r of input)
        if (isAlarmAction(r)) {
          hasActions = true;
          batch = input.filter((x): x is Enriched => !isAlarmAction(x));
          break;
        }
      const actionStates = hasActions
        ? { rules: states, absence: ctx.state!.map<AbsenceState>(ABSENCE), timers }
        : undefined;
      const stores = { states, cells: ctx.state!.map<Float64Array>(DETECTORS), timers };
      const windows = { states, cells: ctx.state!.map<Float64Array>(AGGREGATES), timers };
      const out: AlarmEvent[] = [];
      const heard = absence.hearing(batch, ctx);
      let watermark = timers.watermark;
      for (const r of hasActions ? input : batch) {
        if (isAlarmAction(r)) {
          actions.apply(r, actionStates!, out);
          continue;
        }
        counters.readings++;
        // every reading is the device heard, a late one too
        out.push(...heard(r));
        const t = r.device_timestamp;
        if (t < watermark) {
          counters.late++;
          continue;
        }
        watermark = Math.max(watermark, t - config.allowedOutOfOrdernessMs);
        const ruleset = options.rulesets(r.productId);
        if (ruleset === undefined) continue;
        const key = r.rawRef.partitionKey ?? r.device_id;
        const target = {
          deviceId: r.device_id,
          productId: r.productId,
          siteId: r.site_id,
          customerId: r.customer_id,
        };
        // what the device's correlations watch, before this reading moves it
        const view = correlations.any(ruleset, target)
          ? correlations.view(key, target, ruleset, states)
          : undefined;
        const mark = out.length;
        const rules = thresholds.of(ruleset, target);
        detectors.judge(r, ruleset, key, stores, out);
        aggregates.judge(r, ruleset, key, windows, out);
        if (rules.length > 0) {
          const subject = { rulesetVersion: ruleset.version, deviceId: r.device_id };
          const reading = { metrics: r.metrics, at: t, siteZone: zoneOf(r.site_id) };
          for (const rule of rules) {
            const field = ruleField(rule.id, r.device_id);
            const before = states.get(key, field);
            // no state, or one at rest, and the condition does not hold: judging it would change nothing
            if (
              (before === undefined || restsOn(before, r.productId, r.site_id, r.customer_id)) &&
              rule.condition(r) !== true
            )
              continue;
            const s = ruleStateFor(before, r.productId, r.site_id, r.customer_id);
            const step = judge(s, rule, subject, reading);
            out.push(...step.events);
            store(states, timers, key, field, before, step, rule, subject);
          }
        }
        if (view !== undefined)
          correlations.afterChanges(key, target, ruleset, { states, timers }, view, out, mark);
      }
      if (Number.isFinite(watermark)) timers.advanceWatermark(watermark);
      return out;
    },
    openShard: (ctx) => absence.openShard(ctx),
    closeShard: (ctx) => absence.closeShard(ctx.shardId),
    onTimer: function timeDue(fired: readonly FiredTimer[], ctx) {
      const states = ctx.state!.map<RuleState>(RULES);
      const stores = { states, cells: ctx.state!.map<Float64Array>(DETECTORS), timers: ctx.timers };
      const windows = { states, cells: ctx.state!.map<Float64Array>(AGGREGATES), timers: ctx.timers };
      const out: AlarmEvent[] = absence.timeDue(fired, ctx);
      for (const timer of fired) {
        if (timer.domain !== 'event-time') continue;
        // the devices whose rules time reached, and what their correlations watched before
        const devices = new Map<string, RuleState>();
        const entries = [...states.entries(timer.key)];
        const mark = out.length;
        for (const [field, before] of entries) {
          const { ruleId, deviceId } = parseRuleField(field);
          const ruleset = options.rulesets(before.productId);
          if (ruleset === undefined) continue;
          devices.set(deviceId, before);
          const target = { deviceId, siteId: before.siteId, customerId: before.customerId };
          const rule = thresholds.byId(ruleset, target).get(ruleId);
          const detector = rule === undefined ? detectors.byId(ruleset, target).get(ruleId) : undefined;
          if (detector !== undefined) {
            detectors.due(
              timer.key,
              field,
              deviceId,
              before,
              detector,
              ruleset.version,
              timer.timestamp,
              stores,
              out,
            );
            continue;
          }
          const aggregate = rule === undefined ? aggregates.byId(ruleset, target).get(ruleId) : undefined;
          if (aggregate !== undefined) {
            aggregates.due(
              timer.key,
              field,
              deviceId,
              before,
              aggregate,
              ruleset.version,
              timer.timestamp,
              windows,
              out,
            );
            continue;
          }
          // a rule the ruleset in force no longer has (or disabled): its state waits unchanged
          if (rule === undefined) continue;
          const subject = { rulesetVersion: ruleset.version, deviceId };
          const step = catchUp(before, rule, subject, timer.timestamp, zoneOf(before.siteId));
          out.push(...step.events);
          store(states, ctx.timers, timer.key, field, before, step, rule, subject);
        }
        for (const [deviceId, s] of devices) {
          const ruleset = options.rulesets(s.productId)!;
          const target = { deviceId, productId: s.productId, siteId: s.siteId, customerId: s.customerId };
          if (!correlations.any(ruleset, target)) continue;
          const corr = { states, timers: ctx.timers };
          // the rules' changes first, in time order, then what time alone makes due up to the timer
          const view = correlations.viewOf(entries, target, ruleset);
          correlations.afterChanges(timer.key, target, ruleset, corr, view, out, mark);
          correlations.tick(timer.key, target, ruleset, corr, timer.timestamp, out);
        }
      }
      return out;
    },
  };
}

/** A rule state that holds nothing worth keeping: no gate running, no episode, no history. */
function isIdle(s: RuleState): boolean {
  const e = s.episode;
  return (
    !s.holding &&
    s.pendingSince === null &&
    s.clearSince === null &&
    s.hits.length === 0 &&
    (e === EMPTY_EPISODE_STATE ||
      (e.episode === null &&
        e.changes.length === 0 &&
        !e.flapping &&
        e.shelvedUntil === null &&
        e.lastRaisedAt === null))
  );
}

/**
 * The enabled threshold rules of a ruleset for a target, kept per rules array (`rulesFor` gives the
 * same array to targets with the same overrides). Rules of other kinds are reported once per ruleset
 * version as not evaluated yet.
 */
function thresholdIndex(log: Logger) {
  const reported = new WeakSet<CompiledRuleset>();
  return ruleIndex((rules, ruleset) => {
    if (!reported.has(ruleset)) {
      reported.add(ruleset);
      const skipped = ruleset.rules
        .filter((r) => !EVALUATED.has(r.kind) || (r.kind === 'correlation' && !isJudgedCorrelation(r)))
        .map((r) =>
          r.kind === 'correlation' ? `${r.id} (correlation, scope ${r.scope})` : `${r.id} (${r.kind})`,
        );
      if (skipped.length > 0)
        log.warn(
          { ruleset: ruleset.id, version: ruleset.version, rules: skipped },
          'rules of these kinds are not evaluated yet',
        );
    }
    return rules.filter((r): r is CompiledThreshold => r.kind === 'threshold' && r.enabled);
  });
}
