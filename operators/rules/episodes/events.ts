/**
 * Making alarm events: each one numbers itself after the episode's last event, carries the episode as
 * it stands after it, and says whether it should be notified. An event that would notify is
 * suppressed instead while the episode is shelved or flapping (it is still recorded).
 */
import {
  type AlarmEvent,
  type AlarmEventKind,
  alarmEventId,
  type Episode,
  isShelved,
} from '../../../topology/index.ts';

/** What an event says beyond its kind and time. */
export interface EventDetail {
  readonly by?: string | null;
  readonly note?: string | null;
  /** Whether this kind of change is worth a notification (before shelving and flapping). */
  readonly notifiable?: boolean;
}

/** The event `kind` at `at` that turns `before` into `before` with `change` applied. */
export function nextEvent(
  before: Episode,
  kind: AlarmEventKind,
  at: number,
  change: Partial<Omit<Episode, 'id' | 'lastEventSeq' | 'updatedAt'>>,
  detail: EventDetail = {},
): AlarmEvent {
  const seq = before.lastEventSeq + 1;
  return eventOf({ ...before, ...change, lastEventSeq: seq, updatedAt: at }, kind, at, detail);
}

/** The event whose resulting episode is `episode` (numbered `episode.lastEventSeq`). */
export function eventOf(
  episode: Episode,
  kind: AlarmEventKind,
  at: number,
  detail: EventDetail = {},
): AlarmEvent {
  const notifiable = detail.notifiable ?? false;
  const suppressed = notifiable && (isShelved(episode, at) || episode.flapping);
  return {
    id: alarmEventId(episode.id, episode.lastEventSeq),
    episodeId: episode.id,
    seq: episode.lastEventSeq,
    kind,
    at,
    by: detail.by ?? null,
    note: detail.note ?? null,
    notify: notifiable && !suppressed,
    suppressed,
    episode,
  };
}

/** The episode after the last of `events`, or `before` when there are none. */
export function after(before: Episode, events: readonly AlarmEvent[]): Episode {
  return events.at(-1)?.episode ?? before;
}
