/**
 * People's actions on an open episode: acknowledge, assign, comment, clear, shelve, unshelve. They
 * need nothing but the episode, so the `shardflow alarms` command and the rule operator run the same
 * code. An action that does not apply (acknowledging twice, acting on a closed episode) is refused
 * with a reason and makes no event.
 */
import type { AlarmEvent, Episode, PersonAction } from '../../../topology/index.ts';
import { after, nextEvent } from './events.ts';

/** Something a person does to an alarm (the vocabulary is `topology/alarms.ts`: actions travel on the stream). */
export type { PersonAction } from '../../../topology/index.ts';

/** The events an action makes, or why it was refused. */
export type ActionResult =
  | { readonly events: AlarmEvent[]; readonly refused?: undefined }
  | { readonly events: []; readonly refused: string };

const refuse = (reason: string): ActionResult => ({ events: [], refused: reason });

/** True when a cleared episode may close now: not latched, or acknowledged. */
export function mayClose(episode: Episode): boolean {
  return !episode.latched || episode.acknowledged;
}

/**
 * The events of a cleared episode's end: `close` when it may close at once, `latch` when it waits for
 * an acknowledgement (once: a latched episode says so when it clears), nothing while a grace period
 * (`closeNow` false) runs.
 */
export function endOfClear(
  cleared: Episode,
  at: number,
  closeNow: boolean,
  by: string | null = null,
): AlarmEvent[] {
  if (!mayClose(cleared))
    return [nextEvent(cleared, 'latch', at, {}, { by, note: 'awaiting acknowledgement' })];
  if (!closeNow) return [];
  return [nextEvent(cleared, 'close', at, { closedAt: at }, { by })];
}

/** The events `action` makes on `episode`. */
export function applyAction(episode: Episode | undefined, action: PersonAction): ActionResult {
  if (episode === undefined) return refuse('no open alarm');
  if (episode.closedAt !== null) return refuse(`alarm ${episode.id} is closed`);
  const { at, by } = action;
  switch (action.kind) {
    case 'acknowledge': {
      if (episode.acknowledged) return refuse(`alarm ${episode.id} is acknowledged already`);
      const ack = nextEvent(episode, 'acknowledge', at, { acknowledged: true }, { by });
      if (episode.status === 'active') return { events: [ack] };
      return { events: [ack, nextEvent(ack.episode, 'close', at, { closedAt: at }, { by })] };
    }
    case 'assign':
      return {
        events: [
          nextEvent(
            episode,
            'assign',
            at,
            { assignee: action.to },
            { by, note: action.to, notifiable: true },
          ),
        ],
      };
    case 'comment':
      return { events: [nextEvent(episode, 'comment', at, {}, { by, note: action.text })] };
    case 'clear': {
      if (episode.status === 'cleared') {
        if (!mayClose(episode)) return refuse(`alarm ${episode.id} is latched: acknowledge it to close it`);
        return { events: [nextEvent(episode, 'close', at, { closedAt: at }, { by })] };
      }
      const clear = nextEvent(
        episode,
        'clear',
        at,
        { status: 'cleared', clearedAt: at },
        { by, notifiable: true },
      );
      return { events: [clear, ...endOfClear(after(episode, [clear]), at, true, by)] };
    }
    case 'shelve':
      if (!(action.until > at)) return refuse('shelve until a time after now');
      return {
        events: [
          nextEvent(
            episode,
            'shelve',
            at,
            { shelvedUntil: action.until },
            { by, note: new Date(action.until).toISOString() },
          ),
        ],
      };
    case 'unshelve':
      if (episode.shelvedUntil === null) return refuse(`alarm ${episode.id} is not shelved`);
      return { events: [nextEvent(episode, 'unshelve', at, { shelvedUntil: null }, { by })] };
  }
}
