/**
 * The rulesets in force on a worker (`cli/rulesetCatalog.ts`) against a real PostgreSQL: the newest
 * stored version of each ruleset, compiled; a new version or new overrides reach the worker over the
 * rulesets' NOTIFY channel; a stored version that fails its checks against the worker's specs is
 * refused with its line and reason, and the version in force before stays.
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RulesetCatalog } from '../../cli/rulesetCatalog.ts';
import { rulesStage } from '../../cli/rulesStage.ts';
import { rulesSectionSchema } from '../../operators/rules/config.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { openWarmStore, warmStoreConfigSchema } from '../../sinks/postgres/store.ts';
import { importRuleset, RULESET_CHANNEL, rulesetFeed } from '../../sinks/warm/rulesets.ts';
import { loadSpecDirectory } from '../../specs/loader.ts';
import { parseRuleset } from '../../specs/rules/loader.ts';
import type { Spec } from '../../specs/schema.ts';
import { embeddedStateStore } from '../../state/keyed/embeddedStateStore.ts';
import {
  type AlarmEvent,
  type Enriched,
  type Logger,
  ManualClock,
  MemorySource,
  type Operator,
  systemClock,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../topology/index.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { reading } from '../support/ruleFixtures.ts';
import { waitFor } from '../support/wait.ts';

const THERMO = readFileSync('specs/examples/rules/thermo-t1.rules.yaml', 'utf8');
const SPECS = loadSpecDirectory('specs/examples').specs.map((s) => s.spec);
const specsOf = (productId: string): Spec[] => SPECS.filter((s) => s.productId === productId);

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

/** Stores `text` as a ruleset version the way `rules import` does. */
async function store(sql: SqlClient, text: string): Promise<void> {
  const { ruleset, problems } = parseRuleset('r.yaml', text, specsOf);
  expect(problems).toEqual([]);
  await importRuleset(sql, ruleset!, text);
}

/** The raises of a rule operator given one hot thermo-t1 device for two minutes. */
async function raisesOf(
  operator: Operator<Enriched, AlarmEvent>,
): Promise<{ rule: string; version: number }[]> {
  const T0 = Date.UTC(2026, 0, 5, 9);
  const clock = new ManualClock(T0);
  const b = new TopologyBuilder('rules-catalog');
  const input = b.source('telemetry', new MemorySource<Enriched>());
  const events = input.via('rules', operator).to('events', { type: 'unused', write: async () => {} });
  const driver = new TopologyTestDriver(b.build(), { clock, stateStore: embeddedStateStore(clock) });
  driver.send(
    input,
    'shard-0',
    [0, 30, 60, 90, 120].map((s) => reading('dev-1', T0 + s * 1000, { temperature: 40, humidity: 40 })),
  );
  await driver.settle();
  const raised = driver
    .output(events)
    .filter((e) => e.kind === 'raise')
    .map((e) => ({ rule: e.episode.ruleId, version: e.episode.rulesetVersion }));
  await driver.close();
  return raised;
}

describe('the rulesets in force on a worker', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let sql: SqlClient;

  beforeAll(async () => {
    db = await createTestDatabase('rules_catalog');
    pool = testPool(db.url, 2);
    sql = pgSqlClient(pool);
    await migrateWarm(sql);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('runs the newest version, takes new versions and overrides as they are imported, and keeps a version in force when the next is refused', async () => {
    await store(sql, THERMO);
    const log = keptLog();
    const catalog = new RulesetCatalog(sql, specsOf, log);
    await catalog.loadAll();
    expect(catalog.forProduct('thermo-t1')?.version).toBe(1);
    expect(catalog.forProduct('env-h1')).toBeUndefined();
    const overheat = (deviceId: string) =>
      catalog
        .forProduct('thermo-t1')!
        .rulesFor({ deviceId, siteId: null, customerId: null })
        .find((r) => r.id === 'overheat');

    const endpoint = openWarmStore(warmStoreConfigSchema.parse({ writeUrl: db.url })).writeEndpoint!;
    const feed = rulesetFeed(endpoint, { clock: systemClock, log });
    const stop = catalog.follow(feed);
    try {
      await feed.ready();
      // a new version: in force once its NOTIFY is read
      const started = Date.now();
      await store(sql, THERMO.replace('version: 1', 'version: 2'));
      await waitFor('version 2 in force', () => catalog.forProduct('thermo-t1')?.version === 2, 10_000);
      log.info({ ms: Date.now() - started }, 'version 2 in force');

      // overrides alone (same version, new overrides): the rules of the device change
      const withOverride = `${THERMO.replace('version: 1', 'version: 2').replace(/\noverrides:[\s\S]*$/, '')}
overrides:
  - device: dev-7
    rules: { overheat: { severity: critical } }
`;
      expect(overheat('dev-7')?.severity).not.toBe('critical');
      await store(sql, withOverride);
      await waitFor('the override in force', () => overheat('dev-7')?.severity === 'critical', 10_000);

      // a stored version the worker's specs refuse (written past `rules import`'s checks): refused
      // with its line, and version 2 stays
      const bad = THERMO.replace('version: 1', 'version: 3').replace(
        'metric: temperature, op: ">", value: 30',
        'metric: temprature, op: ">", value: 30',
      );
      await pool.query(
        'INSERT INTO rulesets (ruleset_id, version, product_id, source) VALUES ($1, 3, $2, $3)',
        ['thermo-t1-rules', 'thermo-t1', bad],
      );
      await pool.query('SELECT pg_notify($1, $2)', [RULESET_CHANNEL, 'thermo-t1-rules']);
      await waitFor('the refusal', () => log.lines.some((l) => l.level === 'error'), 10_000);
      const refusal = log.lines.find((l) => l.level === 'error')!;
      expect(refusal.message).toBe(
        'rulesets: a stored version is refused; the version in force before stays',
      );
      expect(refusal.fields).toMatchObject({ ruleset: 'thermo-t1-rules', version: 3, inForce: 2 });
      expect(JSON.stringify(refusal.fields)).toMatch(/line \d+: .*temprature/);
      expect(catalog.forProduct('thermo-t1')?.version).toBe(2);
      expect(overheat('dev-7')?.severity).toBe('critical');

      // the worker's rule operator without `rules.dir` judges by the catalog's version in force
      const raised = await raisesOf(
        rulesStage(rulesSectionSchema.parse({}), 'specs/examples', { log, catalog }),
      );
      expect(raised).toEqual([{ rule: 'overheat', version: 2 }]);
    } finally {
      stop();
      await feed.close();
    }
  });
});
