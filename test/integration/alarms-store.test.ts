/**
 * The alarm stores on a real PostgreSQL server: the sink writes the state machine's events to the
 * Warm history and episodes and to the Hot open alarms, idempotently; a replayed clear does not undo a
 * newer state; the history rebuilds the episodes; and `shardflow alarms … --direct` (for episodes no
 * rule operator keeps) acts through the same path.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AlarmRule,
  apply,
  type EpisodeInput,
  type EpisodeState,
} from '../../operators/rules/episodes/index.ts';
import { alarmEventSink } from '../../sinks/alarms/alarmEventSink.ts';
import { listEpisodes, readAlarmEvents, readEpisode } from '../../sinks/alarms/warmAlarms.ts';
import type { HotStore } from '../../sinks/hot/hotStore.ts';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import {
  type AlarmEvent,
  type BatchContext,
  type Episode,
  ManualClock,
  rebuildEpisodes,
} from '../../topology/index.ts';
import { CLI_TEST_TIMEOUT_MS, runCli, warmOnlyConfig } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 8);
const ctx: BatchContext = {
  node: 'alarms',
  shardId: 'shardId-000000000000',
  position: { sequenceNumber: '1', subSequenceNumber: 0 },
  clock: new ManualClock(T0),
};

function rule(device: string, over: Partial<AlarmRule['policy']> = {}): AlarmRule {
  return {
    ruleId: 'overheat',
    rulesetVersion: 1,
    target: { kind: 'device', id: device },
    productId: 'env-h1',
    customerId: 'cust-1',
    siteId: 'site-1',
    deviceId: device,
    policy: { severity: 'warning', ...over },
  };
}

/** The events the state machine makes of `inputs` (times in minutes after T0). */
function eventsOf(r: AlarmRule, inputs: readonly [number, 'holds' | 'ends' | 'tick'][]): AlarmEvent[] {
  let state: EpisodeState | undefined;
  const events: AlarmEvent[] = [];
  for (const [min, what] of inputs) {
    const at = T0 + min * MIN;
    const input: EpisodeInput =
      what === 'tick'
        ? { kind: 'tick', at }
        : { kind: 'condition', at, holds: what === 'holds', value: 50 + min };
    const step = apply(state, input, r);
    state = step.state;
    events.push(...step.events);
  }
  return events;
}

describe('alarm stores', () => {
  let db: TestDatabase;
  let write: SqlClient;
  let read: SqlClient;
  let pool: pg.Pool;
  let hot: HotStore;
  let dir: string;
  let config: string;

  const count = async (table: string) =>
    Number((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);
  const episodes = async () => new Map((await listEpisodes(read, { status: 'all' })).map((e) => [e.id, e]));
  const openIds = async (customerId = 'cust-1') =>
    (await hot.readOpenAlarms({ customerId })).map((a) => a.episodeId).sort();

  beforeAll(async () => {
    db = await createTestDatabase('alarms');
    write = pgSqlClient(testPool(db.url, 2));
    read = pgSqlClient(testPool(db.url, 2));
    pool = testPool(db.url, 1);
    await migrateWarm(write);
    hot = postgresHotStore({ write, read }, { retentionDays: 10, ownsEndpoints: false });
    dir = mkdtempSync(join(tmpdir(), 'shardflow-alarms-'));
    config = join(dir, 'shardflow.yaml');
    writeFileSync(config, warmOnlyConfig(db.url));
  }, 60_000);

  afterAll(async () => {
    await write?.close();
    await read?.close();
    await pool?.end();
    await db?.drop();
  });

  it('writes a batch once: the same batch again, or its parts in any order, add no rows', async () => {
    const events = [
      ...eventsOf(rule('dev-idem', { latched: true }), [
        [0, 'holds'],
        [1, 'holds'],
        [2, 'ends'],
      ]),
      ...eventsOf(rule('dev-idem-2'), [
        [0, 'holds'],
        [3, 'ends'],
        [4, 'holds'],
      ]),
    ];
    const sink = alarmEventSink(write, hot);
    await sink.write(events, ctx);
    const rows = await count('alarm_events');
    const before = await episodes();
    const hotBefore = await hot.readOpenAlarms({ customerId: 'cust-1' });
    await sink.write(events, ctx);
    await sink.write([...events].reverse().slice(0, 3), ctx);
    await sink.write(events.slice(2), ctx);
    expect(await count('alarm_events')).toBe(rows);
    expect(rows).toBe(events.length);
    expect(await episodes()).toEqual(before);
    expect(await hot.readOpenAlarms({ customerId: 'cust-1' })).toEqual(hotBefore);
    // the latched one (cleared, waiting) and the second device's new episode are open
    expect(hotBefore.map((a) => [a.target.id, a.status])).toEqual(
      expect.arrayContaining([
        ['dev-idem', 'cleared'],
        ['dev-idem-2', 'active'],
      ]),
    );
    expect(hotBefore).toHaveLength(2);
  });

  it('does not let a replayed clear remove a newer open alarm', async () => {
    // latched: raise, clear + latch, active again; then a new episode after an acknowledgement-free close
    const latched = eventsOf(rule('dev-replay', { latched: true }), [
      [0, 'holds'],
      [1, 'ends'],
      [2, 'holds'],
    ]);
    const plain = eventsOf(rule('dev-replay-2'), [
      [0, 'holds'],
      [1, 'ends'],
      [2, 'holds'],
    ]);
    const sink = alarmEventSink(write, hot);
    await sink.write([...latched, ...plain], ctx);
    const clears = [...latched, ...plain].filter(
      (e) => e.kind === 'clear' || e.kind === 'latch' || e.kind === 'close',
    );
    expect(clears.length).toBeGreaterThanOrEqual(4);
    await sink.write(clears, ctx);
    const latchedNow = await readEpisode(read, latched[0]!.episodeId);
    expect([latchedNow?.status, latchedNow?.closedAt, latchedNow?.lastEventSeq]).toEqual(['active', null, 4]);
    const [first, second] = [plain[0]!.episodeId, plain.at(-1)!.episodeId];
    expect(first).not.toBe(second);
    expect((await readEpisode(read, first))?.closedAt).not.toBeNull();
    const open = await openIds();
    expect(open).toContain(latched[0]!.episodeId);
    expect(open).toContain(second);
    expect(open).not.toContain(first);
  });

  it('rebuilds every stored episode from the stored history', async () => {
    const rebuilt = rebuildEpisodes(await readAlarmEvents(read));
    expect(rebuilt.gaps).toEqual([]);
    const stored = await episodes();
    expect(rebuilt.episodes.size).toBe(stored.size);
    for (const [id, episode] of rebuilt.episodes) expect(stored.get(id)).toEqual(episode);
  });

  it('ends with the state machine’s episodes after random histories written in chunks and replayed out of order', async () => {
    let seed = 20_261_207;
    const random = () => {
      // mulberry32: a seeded generator, so a failure can be run again
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
    const all: AlarmEvent[] = [];
    for (let d = 0; d < 100; d++) {
      const r = rule(`dev-rand-${d}`, {
        latched: random() < 0.3,
        escalate: { to: 'critical', afterMs: 10 * MIN },
        deescalateAfterMs: 5 * MIN,
        flapping: { maxChanges: 4, windowMs: 20 * MIN },
      });
      let state: EpisodeState | undefined;
      let at = T0;
      for (let i = 0; i < 40; i++) {
        at += Math.floor(random() * 8 * MIN);
        const p = random();
        const input: EpisodeInput =
          p < 0.75
            ? { kind: 'condition', at, holds: random() < 0.5, value: Math.floor(random() * 3) }
            : p < 0.9
              ? { kind: 'acknowledge', at, by: 'ana' }
              : { kind: 'tick', at };
        const step = apply(state, input, r);
        state = step.state;
        all.push(...step.events);
      }
    }
    const expected = rebuildEpisodes(all).episodes;
    const chunks: AlarmEvent[][] = [];
    for (let i = 0; i < all.length; ) {
      const n = 1 + Math.floor(random() * 200);
      chunks.push(all.slice(i, i + n));
      i += n;
    }
    const sink = alarmEventSink(write, hot);
    for (const chunk of chunks) await sink.write(chunk, ctx);
    // a replay of every chunk in a shuffled order
    const shuffled = chunks.map((c) => [random(), c] as const).sort((a, b) => a[0] - b[0]);
    for (const [, chunk] of shuffled) await sink.write(chunk, ctx);

    const stored = await episodes();
    for (const [id, episode] of expected) expect(stored.get(id)).toEqual(episode);
    const open = [...expected.values()].filter(
      (e) => e.closedAt === null && e.deviceId!.startsWith('dev-rand-'),
    );
    const hotOpen = (await hot.readOpenAlarms({ customerId: 'cust-1', limit: 100_000 })).filter((a) =>
      a.deviceId!.startsWith('dev-rand-'),
    );
    expect(hotOpen.map((a) => a.episodeId).sort()).toEqual(open.map((e) => e.id).sort());
    expect(all.length).toBeGreaterThan(1000);
    expect(open.length).toBeGreaterThan(0);
    expect(open.length).toBeLessThan(expected.size);
  }, 120_000);

  it(
    'acknowledges, shelves and lists through `shardflow alarms`, in Warm and Hot',
    async () => {
      const events = eventsOf(rule('dev-cli', { latched: true }), [
        [0, 'holds'],
        [5, 'ends'],
      ]);
      await alarmEventSink(write, hot).write(events, ctx);
      const id = events[0]!.episodeId;
      const alarms = (...args: string[]) => runCli(['alarms', ...args, '-c', config]);
      // no worker runs here: the episodes are no operator's, so the actions are recorded directly
      const act = (...args: string[]) => alarms(...args, '--direct');

      const shelved = await act('shelve', id, '--for', '2h', '--by', 'ana');
      expect(shelved.stderr).toBe('');
      expect(shelved.code).toBe(0);
      const listed = await alarms('list', '--customer', 'cust-1', '--json');
      expect(listed.code).toBe(0);
      const mine = listed.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Episode)
        .find((e) => e.id === id);
      expect(mine?.shelvedUntil).toBeGreaterThan(Date.now());
      expect(
        (await hot.readOpenAlarms({ customerId: 'cust-1' })).find((a) => a.episodeId === id)?.shelvedUntil,
      ).toBe(mine?.shelvedUntil);

      const acked = await act('ack', id, '--by', 'ana');
      expect(acked.code).toBe(0);
      expect(acked.stdout).toMatch(/acknowledge.*close/);
      const history = await readAlarmEvents(read, id);
      expect(history.map((e) => [e.kind, e.by])).toEqual([
        ['raise', null],
        ['clear', null],
        ['latch', null],
        ['shelve', 'ana'],
        ['acknowledge', 'ana'],
        ['close', 'ana'],
      ]);
      expect((await readEpisode(read, id))?.closedAt).not.toBeNull();
      expect(await openIds()).not.toContain(id);

      const again = await act('ack', id, '--by', 'ana');
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/closed/);
      // through the stream too, an action the stored episode refuses is refused before anything is put
      const onStream = await alarms('ack', id, '--by', 'ana');
      expect(onStream.code).toBe(2);
      expect(onStream.stderr).toMatch(/closed/);
      const table = await alarms('list', '--status', 'all', '--severity', 'warning');
      expect(table.stdout).toContain(id);
      const shown = await alarms('show', id);
      expect(shown.stdout).toMatch(/acknowledge\s+\S+\s+ana/);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'assigns, comments and clears through `shardflow alarms`; a latched alarm cleared by hand waits for its acknowledgement',
    async () => {
      const events = eventsOf(rule('dev-cli-2', { latched: true }), [[0, 'holds']]);
      await alarmEventSink(write, hot).write(events, ctx);
      const id = events[0]!.episodeId;
      const alarms = (...args: string[]) => runCli(['alarms', ...args, '-c', config]);
      // no worker runs here: the episodes are no operator's, so the actions are recorded directly
      const act = (...args: string[]) => alarms(...args, '--direct');
      expect((await act('assign', id, '--to', 'bo', '--by', 'ana')).code).toBe(0);
      expect((await act('comment', id, '--text', 'fan replaced', '--by', 'bo')).code).toBe(0);
      const cleared = await act('clear', id, '--by', 'bo');
      expect(cleared.code).toBe(0);
      expect(cleared.stdout).toMatch(/clear.*latch/);
      const history = await readAlarmEvents(read, id);
      expect(history.map((e) => [e.kind, e.by, e.note])).toEqual([
        ['raise', null, null],
        ['assign', 'ana', 'bo'],
        ['comment', 'bo', 'fan replaced'],
        ['clear', 'bo', null],
        ['latch', 'bo', 'awaiting acknowledgement'],
      ]);
      const shown = (await hot.readOpenAlarms({ customerId: 'cust-1' })).find((a) => a.episodeId === id);
      expect([shown?.assignee, shown?.status, shown?.acknowledged]).toEqual(['bo', 'cleared', false]);
      const refused = await act('shelve', id, '--by', 'bo');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/exactly one of --until and --for/);
      // through the stream, with a configuration that runs no rules stage: refused, --direct named
      const unowned = await alarms('comment', id, '--text', 'hm', '--by', 'bo');
      expect(unowned.code).toBe(2);
      expect(unowned.stderr).toMatch(/no rules stage.*--direct/);
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
