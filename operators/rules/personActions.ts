/**
 * People's actions in the rule operator: an alarm action record (`topology/alarms.ts`; `shardflow
 * alarms ack|…` puts it on the stream with the partition key of the target's readings) is applied to
 * the episode the operator keeps for its (rule, target), at its place among the key's readings, by the
 * episode machine's `applyActionOnce` (the same `applyAction` the command's `--direct` path runs). Its
 * events go out with the rule's own, so the alarm event sink writes them, and a replay of the stream
 * makes them again with the same ids.
 *
 * An action that does not apply (no open episode with its id under its key, the episode closed, an
 * acknowledgement twice, an action id applied already) makes no event: it is counted
 * (`rule_actions_refused`) and logged with its reason, never dead-lettered and never an error.
 */
import type { AlarmActionRecord, AlarmEvent, Logger, MapState, TimerService } from '../../topology/index.ts';
import { type AbsenceState, absenceField } from './absenceState.ts';
import { applyActionOnce, type EpisodeState } from './episodes/index.ts';
import { type RuleState, ruleField } from './ruleState.ts';

/** What the operator counts of people's actions. */
export interface ActionCounters {
  actionsApplied: number;
  actionsRefused: number;
  stateWrites: number;
  events: number;
}

/** The states an action may find its episode in: the rule state (every kind but absence), the absence state. */
export interface ActionStates {
  readonly rules: MapState<RuleState>;
  readonly absence: MapState<AbsenceState>;
  readonly timers: TimerService;
}

/** Applies alarm action records; refusals are counted and logged. */
export function personActions(log: Logger, counters: ActionCounters) {
  const refuse = (r: AlarmActionRecord, reason: string) => {
    counters.actionsRefused++;
    log.warn(
      {
        actionId: r.actionId,
        episodeId: r.episodeId,
        ruleId: r.ruleId,
        target: `${r.target.kind}:${r.target.id}`,
        action: r.action.kind,
        partitionKey: r.ref.partitionKey,
        reason,
      },
      'alarm action refused',
    );
  };

  /** The new episode state of `state`'s field, or a refusal. */
  const step = (r: AlarmActionRecord, episode: EpisodeState, out: AlarmEvent[]): EpisodeState | undefined => {
    const done = applyActionOnce(episode, r.action, r.actionId);
    if (done.refused !== undefined) {
      refuse(r, done.refused);
      return undefined;
    }
    counters.actionsApplied++;
    counters.events += done.events.length;
    counters.stateWrites++;
    out.push(...done.events);
    return done.state;
  };

  const owns = (r: AlarmActionRecord, e: EpisodeState | undefined) =>
    e !== undefined && (e.episode?.id === r.episodeId || (e.appliedActions ?? []).includes(r.actionId));

  return {
    /** Applies `r` to the episode under its partition key; its events are pushed to `out`. */
    apply(r: AlarmActionRecord, states: ActionStates, out: AlarmEvent[]): void {
      const key = r.ref.partitionKey;
      const field = ruleField(r.ruleId, r.deviceId);
      const rule = states.rules.get(key, field);
      if (owns(r, rule?.episode)) {
        const next = step(r, rule!.episode, out);
        if (next === undefined) return;
        states.rules.set(key, field, { ...rule!, episode: next });
        // shelving ends at its time: the key's event-time timer makes it due there (see `dueAt`)
        const until = next.episode?.shelvedUntil ?? next.shelvedUntil;
        if (until !== null) states.timers.registerEventTime(key, until);
        return;
      }
      const absenceKey = absenceField(r.ruleId, r.target);
      const absence = states.absence.get(key, absenceKey);
      if (owns(r, absence?.episode)) {
        // the end of shelving is seen by the state's next judgement (its processing-time timer or reading)
        const next = step(r, absence!.episode, out);
        if (next !== undefined) states.absence.set(key, absenceKey, { ...absence!, episode: next });
        return;
      }
      refuse(
        r,
        `no open alarm ${r.episodeId} of rule ${r.ruleId} on ${r.target.kind} ${r.target.id} under partition key ${key}`,
      );
    },
  };
}
