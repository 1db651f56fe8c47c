/**
 * One input to the episode machine (`episodes/`) of a rule on a device, as every rule kind feeds it:
 * the machine's events go to `events`, and the rule state keeps the episode state it leaves.
 */
import type { AlarmEvent, MapState, TimerService } from '../../topology/index.ts';
import { alarmRuleOf, type DeviceSubject, type PolicySource } from './alarmRule.ts';
import { apply, type EpisodeInput } from './episodes/index.ts';
import type { RuleState } from './ruleState.ts';

/** The rule and device an alarm is about, besides what the rule state holds. */
export type EpisodeSubject = Pick<DeviceSubject, 'rulesetVersion' | 'deviceId'>;

/** Applies `input` to the rule state's episode; the same state when nothing changed. */
export function feedEpisode(
  s: RuleState,
  rule: PolicySource & { readonly id: string },
  subject: EpisodeSubject,
  input: EpisodeInput,
  events: AlarmEvent[],
): RuleState {
  const step = apply(s.episode, input, alarmRuleOf(rule, { ...subject, ...s }, s.episode.episode?.severity));
  if (step.events.length === 0 && step.state === s.episode) return s;
  events.push(...step.events);
  return { ...s, episode: step.state };
}

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
export function keepCellStep(
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
