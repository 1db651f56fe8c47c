/**
 * `shardflow outbox` against a real PostgreSQL, run as a user runs it: rows planned from raise events
 * (as the alarm sink plans them), one given up, listed by status and episode, and put back to pending
 * by `retry`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertActions } from '../../actions/outbox/outboxTable.ts';
import { planActions } from '../../actions/outbox/plan.ts';
import { policiesOfSets } from '../../actions/policies/catalog.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { episodeOf, eventOf, policySetOf } from '../support/actions.ts';
import { CLI_TEST_TIMEOUT_MS, runCli, warmOnlyConfig } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';

let db: TestDatabase;
let sql: SqlClient;
let config: string;

const outboxCli = (...args: string[]) => runCli(['outbox', ...args, '-c', config]);

beforeAll(async () => {
  db = await createTestDatabase('outbox_cli');
  sql = pgSqlClient(testPool(db.url, 2));
  await migrateWarm(sql);
  config = join(mkdtempSync(join(tmpdir(), 'outbox-cli-')), 'worker.yaml');
  writeFileSync(config, warmOnlyConfig(db.url));
});

afterAll(async () => {
  await sql.close();
  await db.drop();
});

describe('shardflow outbox', () => {
  it(
    'lists rows by status and episode, and puts failed rows back to pending',
    async () => {
      const set = policySetOf(`
id: cli
productId: thermo-t1
version: 1
policies:
  - alarm: overheat
    notify:
      - { after: 0s, to: [{ email: ops@example.com }] }
      - { after: 1h, to: [{ email: boss@example.com }] }
`);
      const now = Date.now();
      const a = episodeOf('dev-1', now);
      const b = episodeOf('dev-2', now);
      const { rows } = planActions([eventOf('raise', 1, a, now), eventOf('raise', 1, b, now)], {
        policyFor: policiesOfSets([set]),
        now,
        maxEventAgeMs: 3_600_000,
      });
      await sql.transaction((tx) => insertActions(tx, rows, now));
      const failedKey = `${a.id}/notify.1/email:ops@example.com`;
      await sql.query(
        "UPDATE action_outbox SET status = 'failed', attempts = 20, last_error = '550 mailbox unavailable' WHERE action_key = $1",
        [failedKey],
      );

      const all = await outboxCli('list', '--json');
      expect(all.code).toBe(0);
      expect(all.stdout.trim().split('\n').length).toBe(4);
      const failed = await outboxCli('list', '--status', 'failed');
      expect(failed.stdout).toContain(failedKey);
      expect(failed.stdout).toContain('550 mailbox unavailable');
      const ofB = await outboxCli('list', '--episode', b.id, '--json');
      expect(
        ofB.stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line).key)
          .sort(),
      ).toEqual([`${b.id}/notify.1/email:ops@example.com`, `${b.id}/notify.2/email:boss@example.com`].sort());
      expect((await outboxCli('list', '--status', 'lost')).code).toBe(2);

      const retried = await outboxCli('retry');
      expect(retried.code).toBe(0);
      expect(retried.stdout.trim()).toBe(failedKey);
      const { rows: after } = await sql.query<{ status: string; attempts: number }>(
        'SELECT status, attempts FROM action_outbox WHERE action_key = $1',
        [failedKey],
      );
      expect(after[0]).toEqual({ status: 'pending', attempts: 0 });
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
