/**
 * One input to the episode machine (`episodes/`) of a rule on a device, as every rule kind feeds it:
 * the machine's events go to `events`, and the rule state keeps the episode state it leaves.
 */
import type { AlarmEvent } from '../../topology/index.ts';
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
