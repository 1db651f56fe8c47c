/**
 * Dispatches on a real PostgreSQL: assignment by skills, region, quiet hours and load; opening is
 * idempotent (twice in a row, and at once from two connections: one dispatch, one history row); the
 * transitions and their history; the engineers import replacing a region's sites.
 */
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  dispatchIdOf,
  listDispatches,
  openDispatch,
  readDispatch,
  updateDispatch,
} from '../../actions/dispatch/dispatches.ts';
import { importEngineers, parseEngineerFile } from '../../actions/dispatch/engineers.ts';
import { DispatchTransitionError } from '../../actions/dispatch/transitions.ts';
import type { DispatchRequest } from '../../actions/dispatch/types.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';

// 2026-01-15 (Lisbon on UTC, Chicago at -6)
const NOON_UTC = Date.UTC(2026, 0, 15, 12);
const NIGHT_UTC = Date.UTC(2026, 0, 15, 23);

const ENGINEERS = `engineers:
  - { id: eng-a, name: A, email: a@example.com, skills: [hvac, electrical], regions: [north], zone: Europe/Lisbon,
      quietHours: { from: "22:00", to: "07:00" } }
  - { id: eng-b, name: B, email: b@example.com, skills: [hvac], regions: [north], zone: America/Chicago }
  - { id: eng-c, name: C, email: c@example.com, skills: [hvac, electrical], regions: [south], zone: UTC }
  - { id: eng-d, name: D, email: d@example.com, skills: [hvac, electrical, gas], regions: ["*"], zone: UTC,
      quietHours: { from: "00:00", to: "23:59" } }
  - { id: eng-x, name: X, email: x@example.com, skills: [hvac, electrical, gas], regions: ["*"], zone: UTC, active: false }
regions:
  north: [site-n1, site-n2]
  south: [site-s1]
`;

let db: TestDatabase;
let pool: pg.Pool;
let sql: SqlClient;
let episodes = 0;

function request(over: Partial<DispatchRequest> = {}): DispatchRequest {
  const episodeId = over.episodeId ?? `ep-${++episodes}`;
  return {
    dispatchId: dispatchIdOf(episodeId),
    episodeId,
    productId: 'env-h1',
    customerId: 'cust-1',
    siteId: 'site-n1',
    deviceId: 'dev-1',
    skills: ['hvac'],
    priority: 'normal',
    reason: 'not remote-fixable',
    at: NOON_UTC,
    ...over,
  };
}

const open = (req: DispatchRequest) => sql.transaction((tx) => openDispatch(tx, req));

async function count(table: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

beforeAll(async () => {
  db = await createTestDatabase('dispatch');
  pool = testPool(db.url, 4);
  sql = pgSqlClient(pool);
  await migrateWarm(sql);
});

afterAll(async () => {
  await sql.close();
  await db.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE dispatch_history, dispatches, site_regions, engineers');
  const parsed = parseEngineerFile('engineers.yaml', ENGINEERS);
  expect(parsed.problems).toBeUndefined();
  await sql.transaction((tx) => importEngineers(tx, parsed.value!));
});

describe('dispatch assignment', () => {
  it('gives the dispatch id of an episode, deterministically', () => {
    expect(dispatchIdOf('ep-1')).toMatch(/^d-[0-9a-f]{24}$/);
    expect(dispatchIdOf('ep-1')).toBe(dispatchIdOf('ep-1'));
    expect(dispatchIdOf('ep-1')).not.toBe(dispatchIdOf('ep-2'));
  });

  it('chooses among active engineers with every skill who cover the region, the least loaded, ties by id', async () => {
    // north + hvac: eng-a, eng-b (region), eng-d ('*', but quiet all day but 23:59); eng-x inactive
    const first = await open(request());
    expect(first).toMatchObject({
      created: true,
      engineer: { id: 'eng-a' },
      dispatch: { status: 'assigned' },
    });
    const second = await open(request());
    expect(second.engineer?.id).toBe('eng-b');
    const third = await open(request());
    expect(third.engineer?.id).toBe('eng-a');
    // electrical: only eng-a of north (eng-b lacks it)
    expect((await open(request({ skills: ['hvac', 'electrical'] }))).engineer?.id).toBe('eng-a');
    // the south site: eng-c only
    expect((await open(request({ siteId: 'site-s1', skills: ['electrical'] }))).engineer?.id).toBe('eng-c');
  });

  it('skips an engineer in quiet hours in their zone', async () => {
    // 23:00 UTC: 23:00 in Lisbon (eng-a quiet), 17:00 in Chicago
    expect((await open(request({ at: NIGHT_UTC }))).engineer?.id).toBe('eng-b');
    // electrical at night in the north: eng-a quiet, eng-b lacks the skill, eng-d quiet → no engineer
    const waiting = await open(request({ at: NIGHT_UTC, skills: ['electrical'] }));
    expect(waiting).toMatchObject({
      created: true,
      engineer: undefined,
      dispatch: { engineerId: null, status: 'assigned' },
    });
    // at 23:59 UTC eng-d's quiet hours (00:00–23:59, `to` exclusive) are over
    const late = await open(request({ at: Date.UTC(2026, 0, 15, 23, 59), skills: ['gas'] }));
    expect(late.engineer?.id).toBe('eng-d');
  });

  it("covers a site with no region only by '*' engineers", async () => {
    expect(
      (await open(request({ siteId: 'site-unknown', at: Date.UTC(2026, 0, 15, 23, 59) }))).engineer?.id,
    ).toBe('eng-d');
    expect((await open(request({ siteId: null }))).engineer).toBeUndefined(); // eng-d is quiet at noon
  });

  it('is idempotent: a second open returns the first dispatch and writes nothing', async () => {
    const req = request();
    const first = await open(req);
    const again = await open({ ...req, reason: 'something else', at: NIGHT_UTC });
    expect(again).toEqual({ ...first, created: false });
    expect(await count('dispatches')).toBe(1);
    expect(await count('dispatch_history')).toBe(1);
  });

  it('opened at once from two connections: one dispatch, one history row', async () => {
    const req = request();
    const results = await Promise.all([open(req), open(req), open(req)]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.dispatch.dispatchId))).toEqual(new Set([req.dispatchId]));
    expect(new Set(results.map((r) => r.engineer?.id))).toEqual(new Set(['eng-a']));
    expect(await count('dispatches')).toBe(1);
    expect(await count('dispatch_history')).toBe(1);
  });

  it('concurrent openings of different episodes spread the load', async () => {
    const results = await Promise.all([open(request()), open(request())]);
    expect(results.map((r) => r.engineer?.id).sort()).toEqual(['eng-a', 'eng-b']);
  });
});

describe('dispatch updates', () => {
  it('walks the statuses, recording each change with who and when', async () => {
    const { dispatch } = await open(request());
    const id = dispatch.dispatchId;
    const t = NOON_UTC + 60_000;
    await updateDispatch(sql, id, { status: 'accepted', by: 'eng-a', at: t });
    await updateDispatch(sql, id, { status: 'en_route', by: 'eng-a', at: t + 1 });
    await updateDispatch(sql, id, { status: 'on_site', by: 'eng-a', at: t + 2, note: 'arrived' });
    const done = await updateDispatch(sql, id, {
      status: 'resolved',
      by: 'eng-a',
      at: t + 3,
      note: 'fan replaced',
    });
    expect(done).toMatchObject({ status: 'resolved', engineerId: 'eng-a', updatedAt: t + 3 });
    const read = await readDispatch(sql, id);
    expect(read!.history.map((h) => [h.seq, h.status, h.by, h.note])).toEqual([
      [1, 'assigned', 'shardflow', null],
      [2, 'accepted', 'eng-a', null],
      [3, 'en_route', 'eng-a', null],
      [4, 'on_site', 'eng-a', 'arrived'],
      [5, 'resolved', 'eng-a', 'fan replaced'],
    ]);
    expect(read!.history[4]!.at).toBe(t + 3);
  });

  it('refuses an invalid transition naming the dispatch and both states, and writes nothing', async () => {
    const { dispatch } = await open(request());
    const id = dispatch.dispatchId;
    await expect(updateDispatch(sql, id, { status: 'on_site', by: 'x', at: NOON_UTC })).rejects.toThrow(
      new DispatchTransitionError(
        `dispatch ${id}: cannot go from assigned to on_site: the next status is accepted`,
      ),
    );
    await updateDispatch(sql, id, { status: 'cancelled', by: 'ops', at: NOON_UTC });
    await expect(updateDispatch(sql, id, { status: 'accepted', by: 'x', at: NOON_UTC })).rejects.toThrow(
      'cannot go from cancelled to accepted',
    );
    expect((await readDispatch(sql, id))!.history.map((h) => h.status)).toEqual(['assigned', 'cancelled']);
  });

  it('reassigns a waiting dispatch to an engineer, refuses an unknown one and one once on site', async () => {
    const { dispatch } = await open(request({ at: NIGHT_UTC, skills: ['electrical'] }));
    const id = dispatch.dispatchId;
    await expect(updateDispatch(sql, id, { engineerId: 'eng-zz', by: 'ops', at: NOON_UTC })).rejects.toThrow(
      'no engineer eng-zz',
    );
    const assigned = await updateDispatch(sql, id, { engineerId: 'eng-c', by: 'ops', at: NOON_UTC });
    expect(assigned).toMatchObject({ status: 'assigned', engineerId: 'eng-c' });
    await updateDispatch(sql, id, { status: 'accepted', by: 'eng-c', at: NOON_UTC });
    await updateDispatch(sql, id, { status: 'en_route', by: 'eng-c', at: NOON_UTC });
    await updateDispatch(sql, id, { status: 'on_site', by: 'eng-c', at: NOON_UTC });
    await expect(updateDispatch(sql, id, { engineerId: 'eng-a', by: 'ops', at: NOON_UTC })).rejects.toThrow(
      'cannot go from on_site to assigned',
    );
    expect(await readDispatch(sql, 'd-missing')).toBeUndefined();
  });

  it('lists open dispatches by engineer, customer and status; resolved ones no longer count as load', async () => {
    const a = await open(request({ customerId: 'cust-1', priority: 'low' }));
    const b = await open(request({ customerId: 'cust-2', priority: 'high' }));
    expect((await listDispatches(sql)).map((d) => d.dispatchId)).toEqual([
      b.dispatch.dispatchId,
      a.dispatch.dispatchId,
    ]);
    expect((await listDispatches(sql, { engineerId: 'eng-b' })).map((d) => d.dispatchId)).toEqual([
      b.dispatch.dispatchId,
    ]);
    expect((await listDispatches(sql, { customerId: 'cust-1' })).map((d) => d.dispatchId)).toEqual([
      a.dispatch.dispatchId,
    ]);
    await updateDispatch(sql, a.dispatch.dispatchId, { status: 'cancelled', by: 'ops', at: NOON_UTC });
    expect(await listDispatches(sql)).toHaveLength(1);
    expect(await listDispatches(sql, { status: 'all' })).toHaveLength(2);
    expect((await listDispatches(sql, { status: 'cancelled' })).map((d) => d.dispatchId)).toEqual([
      a.dispatch.dispatchId,
    ]);
    // eng-a's cancelled dispatch no longer counts: eng-a (0) before eng-b (1)
    expect((await open(request())).engineer?.id).toBe('eng-a');
  });
});

describe('engineers import', () => {
  it('upserts engineers and replaces the sites of the regions it lists only', async () => {
    const next = parseEngineerFile(
      'next.yaml',
      `engineers:
  - { id: eng-c, name: C2, email: c2@example.com, regions: [south], zone: UTC, active: false }
regions:
  south: [site-s2]
`,
    );
    await sql.transaction((tx) => importEngineers(tx, next.value!));
    const { rows } = await pool.query('SELECT site_id, region FROM site_regions ORDER BY site_id');
    expect(rows).toEqual([
      { site_id: 'site-n1', region: 'north' },
      { site_id: 'site-n2', region: 'north' },
      { site_id: 'site-s2', region: 'south' },
    ]);
    const eng = await pool.query('SELECT name, active, skills FROM engineers WHERE engineer_id = $1', [
      'eng-c',
    ]);
    expect(eng.rows).toEqual([{ name: 'C2', active: false, skills: [] }]);
    expect(await count('engineers')).toBe(5);
  });
});
