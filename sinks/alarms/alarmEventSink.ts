/**
 * Writes the rules stage's alarm events: the history and the episodes in the Warm store (one
 * transaction per batch, see `warmAlarms.ts`) and, at the same time, the open alarms in the Hot store.
 * Idempotent on replay: events are keyed by their deterministic id, episodes and open alarms move only
 * forward by event number, so a batch written again, in whole or in parts, leaves the same rows. A
 * failure of either store is retried whole, which rewrites nothing the other already holds.
 */
import type { AlarmEvent, Sink } from '../../topology/index.ts';
import type { HotStore } from '../hot/hotStore.ts';
import type { SqlClient } from '../postgres/sql.ts';
import { writeAlarmEvents } from './warmAlarms.ts';

/**
 * Writes more that must commit with the events, on their transaction: the outbox of actions that
 * follow alarms (`actions/outbox/outboxWriter.ts`, passed in by the worker).
 */
export type AlsoWithEvents = (tx: SqlClient, events: readonly AlarmEvent[]) => Promise<void>;

/** The alarm event sink over the Warm store's write endpoint and the Hot store. */
export function alarmEventSink(warm: SqlClient, hot: HotStore, also?: AlsoWithEvents): Sink<AlarmEvent> {
  return {
    type: 'alarm-events',
    stores: [
      { name: 'warm.alarm_events', kind: 'postgresql' },
      { name: 'warm.alarm_episodes', kind: 'postgresql' },
      ...(also === undefined ? [] : [{ name: 'warm.action_outbox', kind: 'postgresql' as const }]),
      { name: 'hot.open_alarms', kind: hot.kind },
    ],
    durability: 'on-write',
    // keyed by event id and forward-only by event number: any part of a batch stands alone
    rejects: 'isolate',
    async write(batch) {
      if (batch.length === 0) return;
      // Both stores move an episode only forward by its event number, so neither write depends on
      // the other: they go out together, and a batch retried after either failed is written again
      // whole (the Hot store may show an alarm a moment before the Warm history holds it).
      await Promise.all([
        warm.transaction(async (tx) => {
          await writeAlarmEvents(tx, batch);
          await also?.(tx, batch);
        }),
        hot.writeOpenAlarms(batch.map((e) => e.episode)),
      ]);
    },
  };
}
