/**
 * The rule operator writing through the alarm event sink to a real PostgreSQL (Warm history and
 * episodes, the Hot store's open alarms in its PostgreSQL form): the episodes the history rebuilds are
 * the operator's, the open alarms are the episodes still open, and a replay of the same readings from
 * the start (the state reset, as `shardflow replay` does) gives the same ids and adds no row.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ruleOperator } from '../../operators/rules/ruleOperator.ts';
import { alarmEventSink } from '../../sinks/alarms/alarmEventSink.ts';
import { listEpisodes, readAlarmEvents } from '../../sinks/alarms/warmAlarms.ts';
import type { HotStore } from '../../sinks/hot/hotStore.ts';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { embeddedStateStore } from '../../state/keyed/embeddedStateStore.ts';
import {
  type AlarmEvent,
  type DeadLetter,
  type Enriched,
  ManualClock,
  MemorySource,
  rebuildEpisodes,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../topology/index.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { noisySignal, reading, thermoRules } from '../support/ruleFixtures.ts';
import { keepingSink } from '../support/scriptedSource.ts';

const SEC = 1_000;
const T0 = Date.UTC(2026, 0, 5, 9);

const RULES = thermoRules(
  `  - id: hot
    kind: threshold
    severity: minor
    when: { metric: temperature, op: ">", value: 11 }
    clear: { hysteresis: 0.3 }
    onDelay: 20s
    offDelay: 10s
    escalate: [{ after: 1m, to: critical }]\n`,
);

/** Six devices of two customers, one reading every 4 s each for 20 minutes, a slow wave with noise. */
const READINGS: Enriched[] = (() => {
  const out: Enriched[] = [];
  const waves = [0, 1, 2, 3, 4, 5].map((d) =>
    noisySignal(d + 11, 300, 10, 0.3).map((v, i) => v + 2 * Math.sin((2 * Math.PI * (i + 13 * d)) / 75)),
  );
  for (let i = 0; i < 300; i++)
    for (let d = 0; d < 6; d++)
      out.push(
        reading(
          `thermo-${d}`,
          T0 + i * 4 * SEC + d * 10,
          { temperature: waves[d]![i]! },
          { customer: `cust-${d % 2}` },
        ),
      );
  return out;
})();

describe('rule operator into the alarm stores', () => {
  let db: TestDatabase;
  let write: SqlClient;
  let read: SqlClient;
  let pool: pg.Pool;
  let hot: HotStore;

  const count = async (table: string) =>
    Number((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);

  /** One run of the readings from the start, with fresh state, written to the stores. */
  async function runOnce(): Promise<AlarmEvent[]> {
    const clock = new ManualClock(T0);
    const b = new TopologyBuilder('rules-alarms');
    const input = b.source('telemetry', new MemorySource<Enriched>());
    const sink = input
      .via('rules', ruleOperator({ rulesets: () => RULES, config: { allowedOutOfOrdernessMs: 0 } }))
      .to('alarm-events', alarmEventSink(write, hot));
    const refused: DeadLetter[] = [];
    sink.rejected().to('alarm-events-rejected', keepingSink(refused));
    const driver = new TopologyTestDriver(b.build(), {
      clock,
      stateStore: embeddedStateStore(clock),
      sinks: 'tap',
    });
    for (let i = 0; i < READINGS.length; i += 25) driver.send(input, 'shard-0', READINGS.slice(i, i + 25));
    // the sink writes to a real server: settle again until its writes are through
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await driver.settle(200);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const events = [...driver.output(sink)];
    await driver.close();
    expect(refused).toEqual([]);
    return events;
  }

  beforeAll(async () => {
    db = await createTestDatabase('rules_alarms');
    write = pgSqlClient(testPool(db.url, 2));
    read = pgSqlClient(testPool(db.url, 2));
    pool = testPool(db.url, 1);
    await migrateWarm(write);
    hot = postgresHotStore({ write, read }, { retentionDays: 10, ownsEndpoints: false });
  }, 60_000);

  afterAll(async () => {
    await write?.close();
    await read?.close();
    await pool?.end();
    await db?.drop();
  });

  it('stores the history, the episodes and the open alarms; a replay adds nothing', async () => {
    const events = await runOnce();
    expect(events.filter((e) => e.kind === 'raise').length).toBeGreaterThan(5);
    const rows = await count('alarm_events');
    expect(rows).toBe(events.length);

    const expected = rebuildEpisodes(events).episodes;
    const stored = new Map((await listEpisodes(read, { status: 'all' })).map((e) => [e.id, e]));
    expect([...stored.keys()].sort()).toEqual([...expected.keys()].sort());
    expect(rebuildEpisodes(await readAlarmEvents(read)).episodes).toEqual(expected);
    const open = [...expected.values()].filter((e) => e.closedAt === null);
    const hotOpen = [
      ...(await hot.readOpenAlarms({ customerId: 'cust-0' })),
      ...(await hot.readOpenAlarms({ customerId: 'cust-1' })),
    ];
    expect(hotOpen.map((a) => a.episodeId).sort()).toEqual(open.map((e) => e.id).sort());

    const again = await runOnce();
    expect(again.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(await count('alarm_events')).toBe(rows);
  });
});
