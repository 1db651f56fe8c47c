/**
 * The detector kinds in the rule operator (rate of change, out of band, anomaly, predictive): per
 * (rule, device) a detector cell (`detectorCell.ts`, map state `detectors`) learns the rule's metric,
 * and its verdicts drive the same episode lifecycle as threshold rules (`episodes/`), kept in the rule
 * state of `ruleState.ts` (map state `rules`, field `ruleField(rule, device)`).
 *
 * - **Raise** when a verdict is anomalous, in schedule and outside maintenance (the kinds have no
 *   on-delay or repeat); a verdict not judged (warm-up, out of order, a duplicate time) changes nothing.
 * - **Clear** when a verdict is normal again; for rate of change once it has stayed normal for the
 *   rule's `over` (`clearSince`, as a threshold rule's off-delay). A chart's level shift is one
 *   verdict: its alarm clears at the next reading (`latched: true` keeps it until acknowledged).
 * - **Hours**: predictive and the hour-of-day anomaly baseline take completed hours of the device's
 *   readings (count, mean, M2 in the cell). An hour is complete at its end in event time, and is fed
 *   then: by the device's first reading at or after that end, or by the key's event-time timer at it,
 *   whichever comes first, both before anything later, so the events do not depend on batch cuts.
 *   Anomaly hours are the site's local hours (UTC without a zone), predictive's UTC hours.
 *
 * Escalation, de-escalation, severity and latching come from the rule as for threshold rules.
 */
import type { AlarmEvent, Enriched } from '../../topology/index.ts';
import { zoneOffset } from '../time/zoneOffset.ts';
import { alarmRuleOf, type DeviceSubject } from './alarmRule.ts';
import { type CellStores, cellRules } from './cellRule.ts';
import type { CompiledRule, CompiledRuleset, CompiledThreshold } from './compile/compileRuleset.ts';
import {
  addToHour,
  closeHour,
  detectorOf,
  fingerprint,
  fingerprintOf,
  newCell,
  openHour,
} from './detectorCell.ts';
import { type DetectorPlan, type DetectorRuleSource, isDetectorKind, planOf } from './detectorParams.ts';
import { feedAnomalyHour, type Verdict } from './detectors/index.ts';
import { feedEpisode } from './episodeStep.ts';
import { dueAt, type EpisodeInput } from './episodes/index.ts';
import { ruleIndex } from './ruleIndex.ts';
import type { RuleState } from './ruleState.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A detector rule made ready for the operator: its compiled fields, its plan and its fingerprint. */
export interface DetectorRule {
  readonly rule: PreparedBase;
  readonly metric: string;
  readonly plan: DetectorPlan;
  readonly fingerprint: number;
}
type PreparedBase = Pick<
  CompiledThreshold,
  | 'id'
  | 'severityRank'
  | 'latched'
  | 'escalate'
  | 'deescalateAfterMs'
  | 'message'
  | 'inSchedule'
  | 'inMaintenance'
  | 'enabled'
>;

/** Whom the alarm concerns, besides what the rule state holds. */
type Subject = Pick<DeviceSubject, 'rulesetVersion' | 'deviceId'>;

/** The maps a detector rule reads and writes, and the timers. */
export type DetectorStores = CellStores;

/** What the operator counts of detector rules. */
export interface DetectorCounts {
  /** Rule state writes (transitions). */
  stateWrites: number;
  /** Detector cell writes (a reading learnt, an hour fed). */
  detectorWrites: number;
  events: number;
}

/** The detector rules of rulesets, by the rules arrays `rulesFor` gives (one list per override combination). */
export function detectorRules(
  siteZone: (siteId: string | null) => string | undefined,
  counts: DetectorCounts,
) {
  const prepared = new WeakMap<CompiledRule, DetectorRule>();
  const prepare = (rule: CompiledRule): DetectorRule => {
    let p = prepared.get(rule);
    if (p === undefined) {
      const source = rule as unknown as DetectorRuleSource;
      const plan = planOf(source);
      p = {
        rule: rule as unknown as PreparedBase,
        metric: source.metric,
        plan,
        fingerprint: fingerprint(JSON.stringify([source.kind, source.metric, plan.params])),
      };
      prepared.set(rule, p);
    }
    return p;
  };
  const index = ruleIndex(
    (rules) => rules.filter((r) => isDetectorKind(r.kind) && r.enabled).map(prepare),
    (d) => d.rule.id,
  );

  /** The cell of a rule on a device: the stored one, or a fresh one when none or for other parameters. */
  const cellOf = (stores: DetectorStores, key: string, field: string, d: DetectorRule) => {
    const cell = stores.cells.get(key, field);
    if (cell !== undefined && fingerprintOf(cell) === d.fingerprint) return cell;
    return newCell(d.fingerprint, d.plan.detector.create(d.plan.params as never));
  };

  const cells = cellRules<DetectorRule>(
    {
      idOf: (d) => d.rule.id,
      metricOf: (d) => d.metric,
      cellOf,
      nextDue,
      catchUp,
      learn(s, cell, d, subject, t, value, zone, events) {
        const offset = offsetOf(d.plan.hours === 'hour-cells' ? zone : undefined);
        if (d.plan.hours !== 'none') {
          const start =
            d.plan.hours === 'points' ? Math.floor(t / HOUR_MS) * HOUR_MS : localHourStart(t, offset);
          const open = openHour(cell);
          // a reading of an hour already fed (out of order across its end) is not added to it
          if (open.count > 0 ? start === open.start : start >= open.start) addToHour(cell, start, value);
        }
        if (!d.plan.perReading) return s;
        const hourOfDay = d.plan.hours === 'hour-cells' ? localHourOfDay(t, offset) : undefined;
        const verdict = d.plan.detector.update(detectorOf(cell), t, value, hourOfDay);
        return onVerdict(s, d, subject, verdict, t, value, zone, events);
      },
    },
    siteZone,
    counts,
    () => counts.detectorWrites++,
  );

  return {
    /** The enabled detector rules of a ruleset for a target, by id (for timers). */
    byId: index.byId,

    /** Judges one reading (not behind the watermark) by the ruleset's detector rules; events into `out`. */
    judge(r: Enriched, ruleset: CompiledRuleset, key: string, stores: DetectorStores, out: AlarmEvent[]) {
      const target = { deviceId: r.device_id, siteId: r.site_id, customerId: r.customer_id };
      cells.judge(r, index.of(ruleset, target), ruleset.version, key, stores, out);
    },

    /** What is due up to `at` for one detector rule on one device (a timer fired); events into `out`. */
    due: cells.due,
  };
}

/** The earliest event time at which time alone changes the rule's state or cell, or undefined. */
function nextDue(s: RuleState, cell: Float64Array, d: DetectorRule, subject: Subject): number | undefined {
  let due: number | undefined;
  const take = (t: number | undefined) => {
    if (t !== undefined && (due === undefined || t < due)) due = t;
  };
  const e = s.episode;
  if (e.episode !== null || e.shelvedUntil !== null || e.flapping)
    take(dueAt(e, alarmRuleOf(d.rule, { ...subject, ...s }, e.episode?.severity)));
  if (s.clearSince !== null) take(s.clearSince + d.plan.clearAfterMs);
  const hour = openHour(cell);
  if (hour.count > 0) take(hour.start + HOUR_MS);
  return due;
}

/** Everything due up to and including `upTo`, each at its own due time, in time order. */
function catchUp(
  state: RuleState,
  cell: Float64Array,
  d: DetectorRule,
  subject: Subject,
  upTo: number,
  zone: string | undefined,
  events: AlarmEvent[],
): RuleState {
  let s = state;
  let last = Number.NEGATIVE_INFINITY;
  for (;;) {
    const due = nextDue(s, cell, d, subject);
    // a due time that does not move forward would loop: the machine promises a tick at dueAt acts
    if (due === undefined || due > upTo || due <= last) break;
    last = due;
    s = feed(s, d, subject, { kind: 'tick', at: due }, events);
    if (s.clearSince !== null && s.clearSince + d.plan.clearAfterMs <= due)
      s = clear(s, d, subject, due, events);
    const hour = openHour(cell);
    if (hour.count > 0 && hour.start + HOUR_MS <= due)
      s = closeAndFeed(s, cell, d, subject, hour.start, zone, events);
  }
  return s;
}

/** Feeds the completed hour starting at `start` to the detector (its end is the event time of what follows). */
function closeAndFeed(
  s: RuleState,
  cell: Float64Array,
  d: DetectorRule,
  subject: Subject,
  start: number,
  zone: string | undefined,
  events: AlarmEvent[],
): RuleState {
  const end = start + HOUR_MS;
  const { mean, variance } = closeHour(cell, end);
  if (d.plan.hours === 'hour-cells') {
    feedAnomalyHour(detectorOf(cell), Math.floor(localHourOfDay(start, offsetOf(zone))), mean, variance);
    return s;
  }
  const verdict = d.plan.detector.update(detectorOf(cell), start, mean);
  return onVerdict(s, d, subject, verdict, end, mean, zone, events);
}

/** A verdict at `at` turned into the episode's lifecycle. */
function onVerdict(
  state: RuleState,
  d: DetectorRule,
  subject: Subject,
  v: Verdict,
  at: number,
  value: number,
  zone: string | undefined,
  events: AlarmEvent[],
): RuleState {
  if (v.ignored !== undefined || !v.ready) return state;
  let s = state;
  const active = s.episode.episode?.status === 'active';
  if (v.anomalous) {
    if (!s.holding) s = { ...s, holding: true };
    if (active) return s.clearSince === null ? s : { ...s, clearSince: null };
    if (!d.rule.inSchedule(at, zone) || d.rule.inMaintenance(at)) return s;
    const input: EpisodeInput = { kind: 'condition', at, holds: true, value, message: d.rule.message };
    return feed(s, d, subject, input, events);
  }
  if (s.holding) s = { ...s, holding: false };
  if (!active) return s;
  if (d.plan.clearAfterMs <= 0) return clear(s, d, subject, at, events);
  return s.clearSince === null ? { ...s, clearSince: at } : s;
}

function feed(
  s: RuleState,
  d: DetectorRule,
  subject: Subject,
  input: EpisodeInput,
  events: AlarmEvent[],
): RuleState {
  return feedEpisode(s, d.rule, subject, input, events);
}

function clear(s: RuleState, d: DetectorRule, subject: Subject, at: number, events: AlarmEvent[]): RuleState {
  return { ...feed(s, d, subject, { kind: 'condition', at, holds: false }, events), clearSince: null };
}

// ---------------------------------------------------------------------------------------------
// The site's clock

type Offset = (epochMs: number) => number;
const UTC: Offset = () => 0;

/** The UTC offset of a site's zone (UTC without one, or for a zone this runtime does not know). */
function offsetOf(zone: string | undefined): Offset {
  if (zone === undefined) return UTC;
  try {
    return zoneOffset(zone);
  } catch {
    return UTC;
  }
}

/** The site's time of day at `t`, in hours, fractional (13.25 is 13:15). */
function localHourOfDay(t: number, offset: Offset): number {
  const local = t + offset(t);
  return (((local % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
}

/** The start (epoch ms) of the site's local hour holding `t`. */
function localHourStart(t: number, offset: Offset): number {
  const off = offset(t);
  return Math.floor((t + off) / HOUR_MS) * HOUR_MS - off;
}
