/**
 * `shardflow dispatch` against a real PostgreSQL, run as a user runs it: the engineers file imported
 * (and a bad one refused with its line), a dispatch opened as the outbox would, then listed, shown,
 * moved on and refused an invalid transition (exit 2 naming both states).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchIdOf, openDispatch } from '../../actions/dispatch/dispatches.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { CLI_TEST_TIMEOUT_MS, runCli, warmOnlyConfig } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';

let db: TestDatabase;
let sql: SqlClient;
let dir: string;
let config: string;

const dispatchCli = (...args: string[]) => runCli(['dispatch', ...args, '-c', config]);

beforeAll(async () => {
  db = await createTestDatabase('dispatch_cli');
  sql = pgSqlClient(testPool(db.url, 2));
  await migrateWarm(sql);
  dir = mkdtempSync(join(tmpdir(), 'dispatch-cli-'));
  config = join(dir, 'worker.yaml');
  writeFileSync(config, warmOnlyConfig(db.url));
});

afterAll(async () => {
  await sql.close();
  await db.drop();
});

describe('shardflow dispatch', () => {
  it(
    'imports engineers, lists, shows and updates a dispatch; refuses bad usage and transitions with exit 2',
    async () => {
      const bad = join(dir, 'bad.yaml');
      writeFileSync(
        bad,
        'engineers:\n  - id: eng-a\n    name: A\n    email: a@example.com\n    regions: [north]\n    zone: Mars/Olympus\n',
      );
      const refused = await dispatchCli('engineers', 'import', bad);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toContain(`error ${bad}:6: engineers.0.zone: not an IANA time zone`);

      const good = join(dir, 'engineers.yaml');
      writeFileSync(
        good,
        'engineers:\n  - { id: eng-a, name: A, email: a@example.com, skills: [hvac], regions: [north], zone: UTC }\nregions:\n  north: [site-1]\n',
      );
      const imported = await dispatchCli('engineers', 'import', good);
      expect(imported.stderr).toBe('');
      expect(imported.code).toBe(0);
      expect(imported.stdout).toContain('1 engineers, 1 sites in 1 regions imported');

      const id = dispatchIdOf('ep-cli-1');
      await sql.transaction((tx) =>
        openDispatch(tx, {
          dispatchId: id,
          episodeId: 'ep-cli-1',
          productId: 'env-h1',
          customerId: 'cust-1',
          siteId: 'site-1',
          deviceId: 'dev-1',
          skills: ['hvac'],
          priority: 'high',
          reason: 'not remote-fixable',
          at: Date.UTC(2026, 0, 15, 12),
        }),
      );

      const listed = await dispatchCli('list', '--json', '--engineer', 'eng-a');
      expect(listed.code).toBe(0);
      expect(
        listed.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ).toMatchObject([{ dispatchId: id, status: 'assigned', engineerId: 'eng-a', customerId: 'cust-1' }]);
      expect((await dispatchCli('list', '--customer', 'cust-other')).stdout).toContain('no dispatches');

      const accepted = await dispatchCli(
        'update',
        id,
        '--status',
        'accepted',
        '--by',
        'eng-a',
        '--note',
        'on it',
      );
      expect(accepted.code).toBe(0);
      expect(accepted.stdout).toContain(`${id}: now accepted, engineer eng-a`);

      const skipped = await dispatchCli('update', id, '--status', 'resolved', '--by', 'eng-a');
      expect(skipped.code).toBe(2);
      expect(skipped.stderr).toContain(`dispatch ${id}: cannot go from accepted to resolved`);

      const nothing = await dispatchCli('update', id, '--by', 'eng-a');
      expect(nothing.code).toBe(2);
      expect(nothing.stderr).toContain('give --status, --engineer or both');

      const badStatus = await dispatchCli('update', id, '--status', 'done', '--by', 'eng-a');
      expect(badStatus.code).toBe(2);
      expect(badStatus.stderr).toContain('expected one of assigned, accepted');

      expect((await dispatchCli('show', 'd-none')).code).toBe(2);

      const shown = await dispatchCli('show', id, '--json');
      expect(shown.code).toBe(0);
      const { dispatch, history } = JSON.parse(shown.stdout);
      expect(dispatch).toMatchObject({ dispatchId: id, status: 'accepted' });
      expect(
        history.map((h: { seq: number; status: string; by: string; note: string | null }) => [
          h.seq,
          h.status,
          h.by,
          h.note,
        ]),
      ).toEqual([
        [1, 'assigned', 'shardflow', null],
        [2, 'accepted', 'eng-a', 'on it'],
      ]);
      const table = await dispatchCli('show', id);
      expect(table.stdout).toMatch(/2\s+accepted\s+eng-a/);
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
