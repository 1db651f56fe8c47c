/**
 * Response policies in the Warm store against a real PostgreSQL: a version is stored once and
 * exported as imported; other text under a stored version is refused; the policies in force
 * (`PolicyCatalog`) take a new version over the NOTIFY channel; a stored version that no longer
 * passes its checks is refused with its line and reason while the version before stays in force; of
 * two sets naming one product, the id sorting first is used.
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  exportPolicySet,
  importPolicySet,
  listPolicySets,
  POLICY_CHANNEL,
  PolicyCatalog,
  PolicySetVersionConflictError,
  policyFeed,
} from '../../actions/policies/catalog.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { openWarmStore, warmStoreConfigSchema } from '../../sinks/postgres/store.ts';
import { parsePolicySet } from '../../specs/responses/loader.ts';
import { type Logger, systemClock } from '../../topology/index.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { waitFor } from '../support/wait.ts';

const THERMO = readFileSync('specs/examples/responses/thermo-t1.yaml', 'utf8');

/** A logger that keeps what it is given. */
function keptLog(): Logger & { readonly lines: { level: string; fields: object; message: string }[] } {
  const lines: { level: string; fields: object; message: string }[] = [];
  const at =
    (level: string) =>
    (fields: object, message: string): void => {
      lines.push({ level, fields, message });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Stores `text` as a policy-set version the way `responses import` does. */
async function store(sql: SqlClient, text: string, by?: string): Promise<{ created: boolean }> {
  const { set, problems } = parsePolicySet('p.yaml', text);
  expect(problems).toEqual([]);
  return importPolicySet(sql, set!, text, by);
}

describe('response policies in the Warm store', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let sql: SqlClient;

  beforeAll(async () => {
    db = await createTestDatabase('responses_catalog');
    pool = testPool(db.url, 2);
    sql = pgSqlClient(pool);
    await migrateWarm(sql);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('stores a version once, exports it as imported, and refuses other text under its number', async () => {
    expect(await store(sql, THERMO, 'alice')).toEqual({ created: true });
    expect(await store(sql, THERMO, 'bob')).toEqual({ created: false });
    const changed = THERMO.replace('max: 6', 'max: 8');
    await expect(store(sql, changed)).rejects.toThrow(PolicySetVersionConflictError);
    await expect(store(sql, changed)).rejects.toThrow(
      'policy set thermo-t1-responses version 1 is stored already with other content; give the change a new version',
    );

    const exported = await exportPolicySet(sql, 'thermo-t1-responses');
    expect(exported).toMatchObject({
      id: 'thermo-t1-responses',
      version: 1,
      productId: 'thermo-t1',
      importedBy: 'alice',
    });
    expect(exported!.yaml).toBe(THERMO);
    expect(parsePolicySet('exported.yaml', exported!.yaml).set).toEqual(parsePolicySet('p.yaml', THERMO).set);
    expect(await exportPolicySet(sql, 'thermo-t1-responses', 2)).toBeUndefined();
    expect(await exportPolicySet(sql, 'nothing')).toBeUndefined();

    await store(sql, changed.replace('version: 1', 'version: 2'));
    expect((await exportPolicySet(sql, 'thermo-t1-responses'))!.version).toBe(2);
    expect((await exportPolicySet(sql, 'thermo-t1-responses', 1))!.yaml).toBe(THERMO);
    expect((await listPolicySets(sql)).map((s) => [s.id, s.version, s.importedBy])).toEqual([
      ['thermo-t1-responses', 2, null],
      ['thermo-t1-responses', 1, 'alice'],
    ]);
  });

  it('keeps the policies in force current over NOTIFY, and keeps a version in force when the next is refused', async () => {
    const log = keptLog();
    const catalog = new PolicyCatalog(sql, log);
    await catalog.loadAll();
    expect(catalog.setFor('thermo-t1')?.version).toBe(2);
    const frost = catalog.policyFor('thermo-t1', 'frost', 'major');
    expect(frost).toMatchObject({ index: 0, policy: { alarm: 'frost', remind: { max: 8 } } });
    expect(catalog.policyFor('thermo-t1', 'overheat', 'major')?.index).toBe(1);
    expect(catalog.policyFor('thermo-t1', 'overheat', 'minor')?.index).toBe(2);
    expect(catalog.policyFor('thermo-t1', 'hot-day', 'info')?.index).toBe(4);
    expect(catalog.policyFor('meter-m2', 'silent', 'minor')).toBeUndefined();

    const endpoint = openWarmStore(warmStoreConfigSchema.parse({ writeUrl: db.url })).writeEndpoint!;
    const feed = policyFeed(endpoint, { clock: systemClock, log });
    const stop = catalog.follow(feed);
    try {
      await feed.ready();
      // a new version: in force once its NOTIFY is read
      await store(sql, THERMO.replace('version: 1', 'version: 3').replace('max: 6', 'max: 3'));
      await waitFor('version 3 in force', () => catalog.setFor('thermo-t1')?.version === 3, 10_000);
      expect(catalog.policyFor('thermo-t1', 'frost', 'critical')?.policy.remind?.max).toBe(3);

      // a stored version that no longer passes (written past `responses import`'s checks): refused
      // with its line, and version 3 stays
      const bad = THERMO.replace('version: 1', 'version: 4').replace(
        'desired: { fanSpeed: high }',
        'desired: { defrost: true }',
      );
      await pool.query(
        'INSERT INTO response_policy_sets (policy_set_id, version, product_id, source) VALUES ($1, 4, $2, $3)',
        ['thermo-t1-responses', 'thermo-t1', bad],
      );
      await pool.query('SELECT pg_notify($1, $2)', [POLICY_CHANNEL, 'thermo-t1-responses']);
      await waitFor('the refusal', () => log.lines.some((l) => l.level === 'error'), 10_000);
      const refusal = log.lines.find((l) => l.level === 'error')!;
      expect(refusal.message).toBe(
        'response policies: a stored version is refused; the version in force before stays',
      );
      expect(refusal.fields).toMatchObject({ policySet: 'thermo-t1-responses', version: 4, inForce: 3 });
      const line = bad.split('\n').findIndex((l) => l.includes('defrost: true')) + 1;
      expect(JSON.stringify(refusal.fields)).toContain(
        `line ${line}: policies.2.remoteFix.shadow.desired.defrost`,
      );
      expect(catalog.setFor('thermo-t1')?.version).toBe(3);

      // a second set for the same product: the id sorting first wins, the other is refused
      const other = THERMO.replace('id: thermo-t1-responses', 'id: a-thermo-policies').replace(
        'max: 6',
        'max: 1',
      );
      await store(sql, other);
      await waitFor(
        'the other set in force',
        () => catalog.setFor('thermo-t1')?.id === 'a-thermo-policies',
        10_000,
      );
      expect(
        log.lines.some(
          (l) => l.message === 'response policies: a product has one policy set; this one is refused',
        ),
      ).toBe(true);
      expect(catalog.policyFor('thermo-t1', 'frost', 'major')?.policy.remind?.max).toBe(1);
    } finally {
      stop();
      await feed.close();
    }
  });
});
