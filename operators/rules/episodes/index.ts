/** The alarm episode lifecycle: the state machine, people's actions, and the keyed-state codec. */
export { type ActionResult, applyAction, mayClose, type PersonAction } from './actions.ts';
export {
  type EpisodeStateTuple,
  episodeStateCodec,
  episodeStateOf,
  episodeStateTuple,
} from './codec.ts';
export {
  APPLIED_ACTIONS,
  apply,
  applyActionOnce,
  type ConditionInput,
  dueAt,
  EMPTY_EPISODE_STATE,
  type EpisodeInput,
  type EpisodeState,
  type EpisodeStep,
  type TickInput,
} from './machine.ts';
export type { AlarmRule, EpisodePolicy } from './policy.ts';
