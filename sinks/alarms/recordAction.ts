/**
 * A person's action on an alarm, recorded as the rule operator's events are: the episode is read and
 * locked in Warm, `decide` (the state machine's `applyAction`) turns it into events, and the events and
 * the new episode state are written in the same transaction; the Hot store's open alarm follows once
 * it is committed.
 */
import type { AlarmEvent, Episode } from '../../topology/index.ts';
import type { HotStore } from '../hot/hotStore.ts';
import type { SqlClient } from '../postgres/sql.ts';
import { readEpisode, writeAlarmEvents } from './warmAlarms.ts';

/** What an action did: its events, or why it was refused (nothing written). */
export type RecordedAction =
  | { readonly episode: Episode; readonly events: readonly AlarmEvent[]; readonly refused?: undefined }
  | { readonly episode?: Episode; readonly events: readonly []; readonly refused: string };

/** Applies `decide` to the stored episode `episodeId` and records what it makes. */
export async function recordAction(
  warm: SqlClient,
  hot: HotStore,
  episodeId: string,
  decide: (episode: Episode) => { readonly events: readonly AlarmEvent[]; readonly refused?: string },
): Promise<RecordedAction> {
  const recorded = await warm.transaction(async (tx): Promise<RecordedAction> => {
    const episode = await readEpisode(tx, episodeId, { forUpdate: true });
    if (episode === undefined) return { events: [], refused: `no alarm ${episodeId}` };
    const decided = decide(episode);
    if (decided.refused !== undefined) return { episode, events: [], refused: decided.refused };
    await writeAlarmEvents(tx, decided.events);
    return { episode: decided.events.at(-1)?.episode ?? episode, events: decided.events };
  });
  if (recorded.refused === undefined && recorded.events.length > 0)
    await hot.writeOpenAlarms([recorded.episode]);
  return recorded;
}
