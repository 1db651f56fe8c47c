/**
 * Aggregate rules in the rule operator: a condition on a statistic (`mean`, `min`, `max`, `sum`,
 * `count`, `first`, `last`, `stddev`) of a device's window of the rule's metric, the window (`1h`,
 * `6h`, `1d`) cut in the windows' zone as the window operator cuts it. Per (rule, device) an
 * aggregate cell (map state `aggregates`, the same field as the rule state) holds the open window's
 * statistics in the layout of `topology/metricStats.ts`; the episode lives in the rule state
 * (`ruleState.ts`) as for every kind.
 *
 * - **Final windows** (`final: true`, the default): a window is judged once complete, at its end in
 *   event time: by the device's first reading at or after the end, or by the key's event-time timer
 *   at it (the shard's watermark passing it), whichever comes first, so the events do not depend on
 *   how records were cut into batches. The statistic holding raises (the alarm's value is the
 *   statistic, its time the window's end), not holding clears. A window without readings is not
 *   judged: an active alarm stays until a window with readings says otherwise.
 * - **Running values** (`final: false`): the running statistic is also judged at each reading, so
 *   the alarm is raised as soon as it holds; the window's end then judges the whole window as above.
 *   A new window starts empty: a day's running sum that raised clears at the first reading of the
 *   next day unless that one holds again.
 * - A reading of a window already judged (out of order across its end) is not added: the rule judged
 *   that window, and a reading behind the operator's watermark is not judged at all. The window
 *   operator's stored aggregate can still change after the rule judged it (late readings within its
 *   `allowedLatenessMs` revise it); the rule does not revise its verdict.
 *
 * Schedules and maintenance gate raising at the time judged; severity, escalation, de-escalation and
 * latching come from the rule as for threshold rules.
 */
import {
  type AlarmEvent,
  addToStats,
  clearStats,
  type Enriched,
  STAT,
  STATS_STRIDE,
  type StateCodec,
} from '../../topology/index.ts';
import { windowAssigner } from '../windows/index.ts';
import { alarmRuleOf } from './alarmRule.ts';
import { type CellStores, cellRules } from './cellRule.ts';
import type { CompiledAggregate, CompiledRuleset } from './compile/compileRuleset.ts';
import { fingerprint } from './detectorCell.ts';
import { float64Bytes, float64Slots } from './detectors/index.ts';
import { type EpisodeSubject, feedEpisode } from './episodeStep.ts';
import { dueAt } from './episodes/index.ts';
import { ruleIndex } from './ruleIndex.ts';
import type { RuleState } from './ruleState.ts';

// The cell: a fingerprint of the rule's metric and window (another ruleset version that changes them
// starts the cell afresh), the open window's bounds, its statistics. After a window is judged its
// count is 0 and END stays: the earliest time a next window may start.
const FINGERPRINT = 0;
const START = 1;
const END = 2;
const STATS = 3;
const CELL_SLOTS = STATS + STATS_STRIDE;

/** The cells as their slots, little-endian doubles (−∞ and +∞ included, which JSON cannot carry). */
export const aggregateCellCodec: StateCodec<Float64Array> = {
  encode: float64Bytes,
  decode(bytes) {
    if (bytes.length !== CELL_SLOTS * 8)
      throw new Error(`aggregate cell: ${bytes.length} bytes where a cell has ${CELL_SLOTS * 8}`);
    return float64Slots(bytes);
  },
};

/** The rule's statistic of the cell's window (which has at least one reading). */
export function statisticOf(cell: Float64Array, statistic: CompiledAggregate['statistic']): number {
  const at = (stat: keyof typeof STAT) => cell[STATS + STAT[stat]]!;
  // the population variance, as the window aggregates' m2 / count
  if (statistic === 'stddev') return Math.sqrt(at('m2') / at('count'));
  return at(statistic);
}

/** The maps an aggregate rule reads and writes, and the timers. */
export type AggregateStores = CellStores;

/** What the operator counts of aggregate rules. */
export interface AggregateCounts {
  stateWrites: number;
  /** Aggregate cell writes (a reading added, a window judged). */
  aggregateWrites: number;
  events: number;
}

type Subject = EpisodeSubject;

/**
 * The aggregate rules of rulesets, with windows cut in `windowZone` (the windows' zone) and
 * schedules read in each site's zone.
 */
export function aggregateRules(
  windowZone: string,
  siteZone: (siteId: string | null) => string | undefined,
  counts: AggregateCounts,
) {
  const assign = windowAssigner(windowZone);
  const index = ruleIndex((rules) =>
    rules.filter((r): r is CompiledAggregate => r.kind === 'aggregate' && r.enabled),
  );
  const fingerprints = new WeakMap<CompiledAggregate, number>();
  const fingerprintOf = (rule: CompiledAggregate): number => {
    let f = fingerprints.get(rule);
    if (f === undefined) {
      f = fingerprint(JSON.stringify([rule.metric, rule.window, windowZone]));
      fingerprints.set(rule, f);
    }
    return f;
  };
  const cellOf = (stores: AggregateStores, key: string, field: string, rule: CompiledAggregate) => {
    const f = fingerprintOf(rule);
    const cell = stores.cells.get(key, field);
    if (cell !== undefined && cell[FINGERPRINT] === f) return cell;
    const fresh = new Float64Array(CELL_SLOTS);
    fresh[FINGERPRINT] = f;
    fresh[START] = Number.NEGATIVE_INFINITY;
    fresh[END] = Number.NEGATIVE_INFINITY;
    clearStats(fresh, STATS);
    return fresh;
  };

  const cells = cellRules<CompiledAggregate>(
    {
      idOf: (rule) => rule.id,
      metricOf: (rule) => rule.metric,
      cellOf,
      nextDue,
      catchUp,
      learn(s, cell, rule, subject, t, value, zone, events) {
        const window = assign(t, rule.window);
        const open = cell[STATS + STAT.count]! > 0;
        // after the catch-up an open window has not ended: the reading is of it, or of one judged
        if (!(open ? window.start === cell[START] : t >= cell[END]!)) return s;
        if (!open) {
          cell[START] = window.start;
          cell[END] = window.end;
        }
        addToStats(cell, STATS, value, t);
        if (rule.final) return s;
        const v = statisticOf(cell, rule.statistic);
        return onWindow(s, rule, subject, rule.test(v), t, v, zone, events);
      },
    },
    siteZone,
    counts,
    () => counts.aggregateWrites++,
  );

  return {
    /** The enabled aggregate rules of a ruleset for a target, by id (for timers). */
    byId: index.byId,

    /** Adds one reading (not behind the watermark) to its windows; events into `out`. */
    judge(r: Enriched, ruleset: CompiledRuleset, key: string, stores: AggregateStores, out: AlarmEvent[]) {
      const target = { deviceId: r.device_id, siteId: r.site_id, customerId: r.customer_id };
      cells.judge(r, index.of(ruleset, target), ruleset.version, key, stores, out);
    },

    /** What is due up to `at` for one aggregate rule on one device (a timer fired); events into `out`. */
    due: cells.due,
  };
}

/** The earliest event time at which time alone changes the rule's state or cell, or undefined. */
function nextDue(
  s: RuleState,
  cell: Float64Array,
  rule: CompiledAggregate,
  subject: Subject,
): number | undefined {
  let due: number | undefined;
  const e = s.episode;
  if (e.episode !== null || e.shelvedUntil !== null || e.flapping)
    due = dueAt(e, alarmRuleOf(rule, { ...subject, ...s }, e.episode?.severity));
  if (cell[STATS + STAT.count]! > 0 && (due === undefined || cell[END]! < due)) due = cell[END]!;
  return due;
}

/** Everything due up to and including `upTo`, each at its own due time, in time order. */
function catchUp(
  state: RuleState,
  cell: Float64Array,
  rule: CompiledAggregate,
  subject: Subject,
  upTo: number,
  zone: string | undefined,
  events: AlarmEvent[],
): RuleState {
  let s = state;
  let last = Number.NEGATIVE_INFINITY;
  for (;;) {
    const due = nextDue(s, cell, rule, subject);
    // a due time that does not move forward would loop: the machine promises a tick at dueAt acts
    if (due === undefined || due > upTo || due <= last) break;
    last = due;
    s = feedEpisode(s, rule, subject, { kind: 'tick', at: due }, events);
    if (cell[STATS + STAT.count]! > 0 && cell[END]! <= due) {
      const v = statisticOf(cell, rule.statistic);
      clearStats(cell, STATS);
      s = onWindow(s, rule, subject, rule.test(v), cell[END]!, v, zone, events);
    }
  }
  return s;
}

/** A window's statistic judged at `at`: holding raises (in schedule, out of maintenance), not holding clears. */
function onWindow(
  s: RuleState,
  rule: CompiledAggregate,
  subject: Subject,
  holds: boolean,
  at: number,
  value: number,
  zone: string | undefined,
  events: AlarmEvent[],
): RuleState {
  const active = s.episode.episode?.status === 'active';
  if (holds) {
    if (active || !rule.inSchedule(at, zone) || rule.inMaintenance(at)) return s;
    return feedEpisode(
      s,
      rule,
      subject,
      { kind: 'condition', at, holds: true, value, message: rule.message },
      events,
    );
  }
  return active ? feedEpisode(s, rule, subject, { kind: 'condition', at, holds: false }, events) : s;
}
