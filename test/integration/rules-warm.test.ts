/**
 * Rulesets in the Warm store against a real PostgreSQL: `shardflow rules import|export` as a user
 * runs them, versions written once (the same file again changes nothing, other text under a stored
 * version is refused), overrides replaced by the latest import, a NOTIFY per change, and an export
 * that loads back as the ruleset it was.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import {
  exportRuleset,
  importRuleset,
  RULESET_CHANNEL,
  RulesetVersionConflictError,
} from '../../sinks/warm/rulesets.ts';
import { loadSpecDirectory } from '../../specs/loader.ts';
import { parseRuleset } from '../../specs/rules/loader.ts';
import type { Ruleset } from '../../specs/rules/schema.ts';
import { runCli, warmOnlyConfig } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';

const THERMO = 'specs/examples/rules/thermo-t1.rules.yaml';
const SPECS = loadSpecDirectory('specs/examples').specs.map((s) => s.spec);

function parsed(text: string): Ruleset {
  const { ruleset, problems } = parseRuleset('r.yaml', text, (p) => SPECS.filter((s) => s.productId === p));
  expect(problems).toEqual([]);
  return ruleset!;
}

describe('rulesets in the Warm store', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let sql: SqlClient;
  let dir: string;
  let config: string;

  beforeAll(async () => {
    db = await createTestDatabase('rules');
    pool = testPool(db.url, 2);
    sql = pgSqlClient(pool);
    await migrateWarm(sql);
    dir = mkdtempSync(join(tmpdir(), 'shardflow-rules-warm-'));
    config = join(dir, 'shardflow.yaml');
    writeFileSync(config, warmOnlyConfig(db.url));
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('import stores every example ruleset once; export gives back the version with its overrides', async () => {
    const first = await runCli([
      'rules',
      'import',
      'specs/examples/rules',
      '--specs',
      'specs/examples',
      '-c',
      config,
    ]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`stored ${THERMO}  thermo-t1-rules v1, 2 overrides`);
    const count = async () =>
      (
        await pool.query<{ versions: number; overrides: number }>(
          'SELECT (SELECT count(*) FROM rulesets)::int AS versions, (SELECT count(*) FROM ruleset_overrides)::int AS overrides',
        )
      ).rows[0];
    expect(await count()).toEqual({ versions: 3, overrides: 4 });

    const again = await runCli(['rules', 'import', THERMO, '--specs', 'specs/examples', '-c', config]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`same   ${THERMO}  thermo-t1-rules v1`);
    expect(await count()).toEqual({ versions: 3, overrides: 4 });

    const exported = await runCli(['rules', 'export', '--id', 'thermo-t1-rules', '-c', config]);
    expect(exported.code).toBe(0);
    expect(parsed(exported.stdout)).toEqual(parsed(readFileSync(THERMO, 'utf8')));
    // the author's comments travel with the version
    expect(exported.stdout).toContain('# clears below 29.5 °C');
  }, 180_000);

  it('refuses a bad file with its line and stores nothing; an unknown id exports nothing', async () => {
    const bad = join(dir, 'bad.yaml');
    const text = readFileSync(THERMO, 'utf8')
      .replace('version: 1', 'version: 2')
      .replace('after: 15m', 'after: soon');
    writeFileSync(bad, text);
    const line = text.split('\n').findIndex((l) => l.includes('after: soon')) + 1;
    const refused = await runCli(['rules', 'import', bad, '--specs', 'specs/examples', '-c', config]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain(`error ${bad}:${line}  rules.3.after: "soon" is not a duration`);
    const { rows } = await pool.query("SELECT version FROM rulesets WHERE ruleset_id = 'thermo-t1-rules'");
    expect(rows).toEqual([{ version: 1 }]);

    const missing = await runCli(['rules', 'export', '--id', 'nothing-here', '-c', config]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no ruleset nothing-here is stored');
  }, 180_000);

  it('never rewrites a version; a new version replaces the overrides, old versions export with them', async () => {
    const v1 = readFileSync(THERMO, 'utf8');
    const changed = v1.replace('value: 30, param: high', 'value: 31, param: high');
    await expect(importRuleset(sql, parsed(changed), changed)).rejects.toBeInstanceOf(
      RulesetVersionConflictError,
    );
    expect((await exportRuleset(sql, 'thermo-t1-rules'))!.yaml).toContain('value: 30, param: high');

    const v2 = changed
      .replace('version: 1', 'version: 2')
      .replace(
        /overrides:[\s\S]*$/,
        'overrides:\n  - site: site-9\n    rules:\n      frost: { severity: fatal }\n',
      );
    expect(await importRuleset(sql, parsed(v2), v2)).toEqual({ created: true, overrides: 1 });

    const newest = await exportRuleset(sql, 'thermo-t1-rules');
    expect(newest).toMatchObject({ version: 2, productId: 'thermo-t1' });
    expect(parsed(newest!.yaml)).toEqual(parsed(v2));
    const old = await exportRuleset(sql, 'thermo-t1-rules', 1);
    expect(parsed(old!.yaml).overrides).toEqual([
      { site: 'site-9', rules: { frost: { severity: 'fatal' } } },
    ]);
    expect(parsed(old!.yaml).rules).toEqual(parsed(v1).rules);
  });

  it('announces each import on the rulesets channel at commit', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    try {
      const heard: string[] = [];
      listener.on('notification', (n) => {
        if (n.channel === RULESET_CHANNEL && n.payload !== undefined) heard.push(n.payload);
      });
      await listener.query(`LISTEN ${RULESET_CHANNEL}`);
      const text = readFileSync('specs/examples/rules/meter-m2.rules.yaml', 'utf8');
      await importRuleset(sql, parsed(text), text);
      for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(heard).toEqual(['meter-m2-rules']);
    } finally {
      await listener.end();
    }
  });
});
