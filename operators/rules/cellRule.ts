/**
 * The skeleton the rule kinds that keep a *cell* beside their rule state share (detector rules:
 * `detectorRule.ts`; aggregate rules: `aggregateRule.ts`): per (rule, device) a `Float64Array` in a
 * map state of its own, and the episode in the rule state. A reading of the rule's metric first
 * catches up what time alone made due before it, then is learnt by the kind; a timer catches up to its
 * time. Each step keeps the cell, the rule state when it changed, and a timer at the next due time.
 * What differs by kind (the cell, what is due, what a value does) is the kind's {@link CellKind}.
 */
import type { AlarmEvent, Enriched, MapState, TimerService } from '../../topology/index.ts';
import type { EpisodeSubject } from './episodeStep.ts';
import { type RuleState, ruleField, ruleStateFor } from './ruleState.ts';

/** Where a rule kind that keeps a cell beside the rule state (detectors, aggregates) writes a step. */
export interface CellStores {
  readonly states: MapState<RuleState>;
  readonly cells: MapState<Float64Array>;
  readonly timers: TimerService;
}

/**
 * Keeps a step of such a rule: its cell (changed in place, so set again for the snapshot), its rule
 * state when it changed, and a timer at `due` when that moved from `dueBefore`. Returns whether the
 * rule state was written.
 */
function keepCellStep(
  stores: CellStores,
  key: string,
  field: string,
  step: {
    readonly before: RuleState | undefined;
    readonly state: RuleState;
    readonly cell: Float64Array;
    readonly dueBefore: number | undefined;
    readonly due: number | undefined;
  },
): boolean {
  stores.cells.set(key, field, step.cell);
  if (step.due !== undefined && step.due !== step.dueBefore) stores.timers.registerEventTime(key, step.due);
  if (step.state === step.before) return false;
  stores.states.set(key, field, step.state);
  return true;
}

/** One kind of cell rule: its cell, its due times and what a reading's value does. */
export interface CellKind<R> {
  idOf(rule: R): string;
  /** The metric the rule reads. */
  metricOf(rule: R): string;
  /** The stored cell, or a fresh one when none or one made for other parameters. */
  cellOf(stores: CellStores, key: string, field: string, rule: R): Float64Array;
  /** The earliest event time at which time alone changes the state or the cell, or undefined. */
  nextDue(s: RuleState, cell: Float64Array, rule: R, subject: EpisodeSubject): number | undefined;
  /** Everything due up to and including `upTo`, each at its own due time; events into `events`. */
  catchUp(
    s: RuleState,
    cell: Float64Array,
    rule: R,
    subject: EpisodeSubject,
    upTo: number,
    zone: string | undefined,
    events: AlarmEvent[],
  ): RuleState;
  /** A reading's finite value at `t` learnt (the cell changed in place); events into `events`. */
  learn(
    s: RuleState,
    cell: Float64Array,
    rule: R,
    subject: EpisodeSubject,
    t: number,
    value: number,
    zone: string | undefined,
    events: AlarmEvent[],
  ): RuleState;
}

/** What the operator counts of a cell kind. */
export interface CellCounts {
  stateWrites: number;
  events: number;
}

/** The reading and timer paths of one cell kind; `wrote` counts its cell writes. */
export function cellRules<R>(
  kind: CellKind<R>,
  siteZone: (siteId: string | null) => string | undefined,
  counts: CellCounts,
  wrote: () => void,
) {
  /** Keeps a step: the cell, the state when it changed, the timer when the due time moved. */
  const keep = (
    stores: CellStores,
    key: string,
    field: string,
    before: RuleState | undefined,
    state: RuleState,
    cell: Float64Array,
    dueBefore: number | undefined,
    rule: R,
    subject: EpisodeSubject,
    events: readonly AlarmEvent[],
    out: AlarmEvent[],
  ) => {
    counts.events += events.length;
    out.push(...events);
    wrote();
    const due = kind.nextDue(state, cell, rule, subject);
    if (keepCellStep(stores, key, field, { before, state, cell, dueBefore, due })) counts.stateWrites++;
  };

  return {
    /** Judges one reading (not behind the watermark) by `rules`; events into `out`. */
    judge(
      r: Enriched,
      rules: readonly R[],
      rulesetVersion: number,
      key: string,
      stores: CellStores,
      out: AlarmEvent[],
    ): void {
      if (rules.length === 0) return;
      const t = r.device_timestamp;
      const subject = { rulesetVersion, deviceId: r.device_id };
      const zone = siteZone(r.site_id);
      for (const rule of rules) {
        const value = r.metrics[kind.metricOf(rule)];
        // a reading without the rule's metric (or not a finite number) tells the rule nothing
        if (typeof value !== 'number' || !Number.isFinite(value)) continue;
        const field = ruleField(kind.idOf(rule), r.device_id);
        const before = stores.states.get(key, field);
        const cell = kind.cellOf(stores, key, field, rule);
        const dueBefore = before === undefined ? undefined : kind.nextDue(before, cell, rule, subject);
        const events: AlarmEvent[] = [];
        let s = ruleStateFor(before, r.productId, r.site_id, r.customer_id);
        s = kind.catchUp(s, cell, rule, subject, t, zone, events);
        s = kind.learn(s, cell, rule, subject, t, value, zone, events);
        keep(stores, key, field, before, s, cell, dueBefore, rule, subject, events, out);
      }
    },

    /** What is due up to `at` for one rule on one device (a timer fired); events into `out`. */
    due(
      key: string,
      field: string,
      deviceId: string,
      before: RuleState,
      rule: R,
      rulesetVersion: number,
      at: number,
      stores: CellStores,
      out: AlarmEvent[],
    ): void {
      const subject = { rulesetVersion, deviceId };
      const cell = kind.cellOf(stores, key, field, rule);
      const dueBefore = kind.nextDue(before, cell, rule, subject);
      if (dueBefore === undefined || dueBefore > at) return;
      const events: AlarmEvent[] = [];
      const s = kind.catchUp(before, cell, rule, subject, at, siteZone(before.siteId), events);
      keep(stores, key, field, before, s, cell, dueBefore, rule, subject, events, out);
    },
  };
}
