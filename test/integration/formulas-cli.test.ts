/**
 * `shardflow formulas import|list|export|recompute` against a real PostgreSQL, run as a user runs
 * them: the example formulas round-trip through the Warm store; a version is never rewritten (other
 * content under a stored number is refused and nothing of the import is stored), only its status
 * changes; references and cycles are checked together with the stored versions. Recompute evaluates a
 * version over the stored daily aggregates: its rows match a hand computation, a dry run writes
 * nothing, a new version's rows leave the old version's exactly as they were, and running it again
 * changes nothing (not even `computed_at`).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { openWarmStore, type WarmStore, warmStoreConfigSchema } from '../../sinks/postgres/store.ts';
import { warmDailyAggregateSink } from '../../sinks/warm/dailyAggregateSink.ts';
import { loadFormulaFiles, parseFormulaFile } from '../../specs/formulas/loader.ts';
import {
  type BatchContext,
  ManualClock,
  type WindowAggregate,
  windowRevision,
} from '../../topology/index.ts';
import { runCli, warmOnlyConfig } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';

const DAY = 86_400_000;
const EXAMPLES = 'specs/examples/formulas';
/** Today's start (UTC): the default recompute range is the 30 days before it. */
const TODAY = Math.floor(Date.now() / DAY) * DAY;
/** Days of seeded aggregates, ending today: the default range is inside them. */
const SEED_DAYS = 40;
const CUSTOMERS = ['cust-a', 'cust-b'] as const;
const dayText = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const ctx: BatchContext = {
  node: 'daily',
  shardId: 'shardId-000000000000',
  position: { sequenceNumber: '1', subSequenceNumber: 0 },
  clock: new ManualClock(),
};

/** A final 1-day aggregate of `metric` whose readings all lie between `first` and `last`. */
function aggregate(
  over: Pick<WindowAggregate, 'scope' | 'productId' | 'metric' | 'windowStart'> & Partial<WindowAggregate>,
  mean: number,
  first = mean,
  last = mean,
): WindowAggregate {
  const count = 1440;
  return {
    window: '1d',
    windowEnd: over.windowStart + DAY,
    revision: windowRevision(count, true),
    final: true,
    stats: {
      count,
      sum: mean * count,
      min: Math.min(first, last, mean) - 1,
      max: Math.max(first, last, mean) + 1,
      mean,
      m2: count,
      first,
      firstAt: over.windowStart + 1000,
      last,
      lastAt: over.windowStart + DAY - 1000,
    },
    ...over,
  };
}

/** Day `i` of the seeded days (0 is the oldest, `SEED_DAYS - 1` today) of customer `c`. */
const meanPower = (i: number, c: number) => 1000 + 10 * i + 500 * c;
const energyUsed = (c: number) => 20 + 5 * c;
const seedDay = (dayStart: number) => SEED_DAYS - 1 - (TODAY - dayStart) / DAY;

function seededAggregates(): WindowAggregate[] {
  const out: WindowAggregate[] = [];
  for (let i = 0; i < SEED_DAYS; i++) {
    const windowStart = TODAY - (SEED_DAYS - 1 - i) * DAY;
    for (const [c, customerId] of CUSTOMERS.entries()) {
      const at = { scope: 'customer-product', productId: 'meter-m2', customerId, windowStart } as const;
      out.push(aggregate({ ...at, metric: 'power' }, meanPower(i, c)));
      out.push(aggregate({ ...at, metric: 'energy' }, 0, 100 * i, 100 * i + energyUsed(c)));
    }
  }
  return out;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function dailyEnergy(version: number, expression: string, variables: string): string {
  return `formulas:
  - id: daily-energy
    version: ${version}
    productId: meter-m2
    expression: "${expression}"
    variables: ${variables}
    unit: kWh
    decimals: 3
`;
}
const V1 = dailyEnergy(1, 'p * 24 / 1000', '{ p: { metric: power, stat: mean } }');
const V2 = dailyEnergy(
  2,
  'last_kwh - first_kwh',
  '{ first_kwh: { metric: energy, stat: first }, last_kwh: { metric: energy, stat: last } }',
);

interface ResultRow {
  version: number;
  customer_id: string | null;
  device_id: string | null;
  day_start: Date;
  value: number | null;
  reason: string | null;
  unit: string | null;
  input_revision: string;
  computed_at: Date;
}

describe('shardflow formulas against the Warm store', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let warm: WarmStore;
  let dir: string;
  let config: string;

  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const results = async (formulaId: string, version: number) =>
    (
      await pool.query<ResultRow>(
        `SELECT version, customer_id, device_id, day_start, value, reason, unit, input_revision, computed_at
         FROM formula_results WHERE formula_id = $1 AND version = $2 ORDER BY day_start, customer_key, device_key`,
        [formulaId, version],
      )
    ).rows;
  const versions = async () =>
    (
      await pool.query<{ formula_id: string; version: number; status: string; expression: string }>(
        `SELECT formula_id, version, status, definition->>'expression' AS expression FROM formulas
         ORDER BY formula_id, version`,
      )
    ).rows;

  beforeAll(async () => {
    db = await createTestDatabase('formulas');
    pool = testPool(db.url, 2);
    warm = openWarmStore(warmStoreConfigSchema.parse({ writeUrl: db.url }));
    await migrateWarm(warm.write);
    dir = mkdtempSync(join(tmpdir(), 'shardflow-formulas-cli-'));
    config = write('shardflow.yaml', warmOnlyConfig(db.url));
  });

  afterAll(async () => {
    await warm?.close();
    await pool?.end();
    await db?.drop();
  });

  it('import → list → export: the export validates and imports again as the same versions', async () => {
    const imported = await runCli([
      'formulas',
      'import',
      EXAMPLES,
      '--specs',
      'specs/examples',
      '-c',
      config,
    ]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain(`created  ${EXAMPLES}/meter-m2.formulas.yaml  energy-cost v2`);
    expect(imported.stdout.match(/^created /gm)).toHaveLength(9);
    expect(await versions()).toHaveLength(9);

    const listed = await runCli(['formulas', 'list', '--product', 'meter-m2', '-c', config]);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID +VERSION +PRODUCT +SCOPE +TARGETS +STATUS +EFFECTIVE FROM +UNIT$/);
    expect(lines).toHaveLength(6);
    expect(lines).toContainEqual(
      expect.stringMatching(/^energy-cost +2 +meter-m2 +customer +cust-002 +active +2026-01-01 +EUR$/),
    );
    const drafts = await runCli(['formulas', 'list', '--status', 'draft', '-c', config]);
    expect(drafts.stdout.trim()).toBe('no formulas');

    const out = join(dir, 'exported.formulas.yaml');
    const exported = await runCli(['formulas', 'export', '--out', out, '-c', config]);
    expect(exported.code).toBe(0);
    const sortKey = (f: { id: string; version: number }) => `${f.id}@${f.version}`;
    const authored = loadFormulaFiles([EXAMPLES]).formulas.map((l) => l.formula);
    const back = parseFormulaFile(out, readFileSync(out, 'utf8'));
    expect(back.problems).toEqual([]);
    expect(back.formulas.map((l) => l.formula).sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1))).toEqual(
      authored.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1)),
    );

    const validated = await runCli(['formulas', 'validate', out, '--specs', 'specs/examples']);
    expect(validated.code).toBe(0);
    const again = await runCli(['formulas', 'import', out, '--specs', 'specs/examples', '-c', config]);
    expect(again.code).toBe(0);
    expect(again.stdout.match(/^same {5}/gm)).toHaveLength(9);
    expect(await versions()).toHaveLength(9);

    const one = await runCli(['formulas', 'export', '--id', 'dew-point', '-c', config]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('  - id: dew-point\n    version: 1\n    productId: thermo-t1\n');
    const none = await runCli(['formulas', 'export', '--product', 'nothing-here', '-c', config]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no stored formula matches');
  }, 240_000);

  it('refuses a stored version with other content, and stores nothing of that import', async () => {
    const before = await versions();
    const text = readFileSync(`${EXAMPLES}/meter-m2.formulas.yaml`, 'utf8');
    // a new version first, then a stored one changed: the new one must not be stored either
    const file = write(
      'changed.formulas.yaml',
      text
        .replace('expression: "p / 1000"\n', 'expression: "p / 1024"\n')
        .replace(
          'formulas:\n',
          'formulas:\n  - { id: mean-power-kw, version: 2, productId: meter-m2, expression: "p / 1000", variables: { p: { metric: power, stat: max } } }\n',
        ),
    );
    const refused = await runCli(['formulas', 'import', file, '-c', config]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'formula mean-power-kw version 1 is stored already with other content; give the change a new version',
    );
    expect(await versions()).toEqual(before);
  }, 120_000);

  it('accepts a status change draft → active; references to stored formulas resolve, cycles through them are refused', async () => {
    const peak = (status: string) => `formulas:
  - id: twice-mean-kw
    version: 1
    productId: meter-m2
    expression: "kw * 2"
    variables:
      kw: { formula: mean-power-kw }
    status: ${status}
`;
    // mean-power-kw is stored only: the reference resolves against the Warm store
    const draft = await runCli([
      'formulas',
      'import',
      write('draft.formulas.yaml', peak('draft')),
      '-c',
      config,
    ]);
    expect(draft.code).toBe(0);
    expect(draft.stdout).toMatch(/^created .*twice-mean-kw v1$/m);
    const listed = await runCli(['formulas', 'list', '--id', 'twice-mean-kw', '-c', config]);
    expect(listed.stdout).toMatch(/^twice-mean-kw +1 +meter-m2 +product +- +draft /m);

    const activeFile = write('active.formulas.yaml', peak('active'));
    const active = await runCli(['formulas', 'import', activeFile, '-c', config]);
    expect(active.code).toBe(0);
    expect(active.stdout).toContain(`status   ${activeFile}  twice-mean-kw v1: draft → active`);
    expect((await versions()).find((v) => v.formula_id === 'twice-mean-kw')).toMatchObject({
      status: 'active',
    });

    // a new version of mean-power-kw reading twice-mean-kw closes a cycle through a stored formula
    const before = await versions();
    const cycleText = `formulas:
  - id: mean-power-kw
    version: 2
    productId: meter-m2
    expression: "t / 2"
    variables:
      t: { formula: twice-mean-kw }
`;
    const cycleFile = write('cycle.formulas.yaml', cycleText);
    const cycle = await runCli(['formulas', 'import', cycleFile, '-c', config]);
    expect(cycle.code).toBe(2);
    expect(cycle.stdout).toContain(
      `error ${cycleFile}:7: formula mean-power-kw: variables.t.formula: formula mean-power-kw depends on itself through twice-mean-kw`,
    );
    expect(cycle.stderr).toContain('nothing imported');
    expect(await versions()).toEqual(before);

    const missing = await runCli([
      'formulas',
      'import',
      write('missing.formulas.yaml', cycleText.replace('twice-mean-kw', 'no-such-formula')),
      '-c',
      config,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain('product meter-m2 has no formula "no-such-formula"');
    expect(await versions()).toEqual(before);
  }, 240_000);

  it('recompute: results per day from the stored aggregates; a new version leaves the old one’s rows as they were; again changes nothing', async () => {
    await warmDailyAggregateSink(warm.write).write(seededAggregates(), ctx);
    expect((await runCli(['formulas', 'import', write('v1.formulas.yaml', V1), '-c', config])).code).toBe(0);

    // version 1 over the 30 days ending yesterday, given explicitly
    const from = TODAY - 30 * DAY;
    const first = await runCli([
      'formulas',
      'recompute',
      '--formula',
      'daily-energy',
      '--from',
      dayText(from),
      '--to',
      dayText(TODAY - DAY),
      '-c',
      config,
    ]);
    expect(first.code).toBe(0);
    // not a terminal: one progress line per day on stderr
    expect(first.stderr.match(/^recompute: \d{4}-\d{2}-\d{2} \(\d+\/30\): 2 results$/gm)).toHaveLength(30);
    expect(first.stdout).toContain(`formula daily-energy v1 (meter-m2, product scope), ${dayText(from)} to`);
    expect(first.stdout).toMatch(/^total +60 +0 +60 +0 +-$/m);
    expect(first.stdout).toContain('60 results upserted');
    const v1 = await results('daily-energy', 1);
    expect(v1).toHaveLength(60);
    for (const r of v1) {
      const c = CUSTOMERS.indexOf(r.customer_id as (typeof CUSTOMERS)[number]);
      const i = seedDay(r.day_start.getTime());
      expect(r.day_start.getTime()).toBeGreaterThanOrEqual(from);
      expect(r.day_start.getTime()).toBeLessThan(TODAY);
      expect(r).toMatchObject({ device_id: null, reason: null, unit: 'kWh' });
      expect(r.value).toBe(round3((meanPower(i, c) * 24) / 1000));
    }

    expect((await runCli(['formulas', 'import', write('v2.formulas.yaml', V2), '-c', config])).code).toBe(0);

    // the highest version over the default range (the 30 days ending yesterday), written nowhere
    const dry = await runCli([
      'formulas',
      'recompute',
      '--formula',
      'daily-energy',
      '--dry-run',
      '-c',
      config,
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('formula daily-energy v2');
    expect(dry.stdout).toContain('dry run: nothing written (60 results over 30 days)');
    const yesterday = TODAY - DAY;
    const i = seedDay(yesterday);
    const delta = Math.max(
      ...CUSTOMERS.map((_, c) => Math.abs(round3((meanPower(i, c) * 24) / 1000) - energyUsed(c))),
    );
    expect(dry.stdout).toMatch(
      new RegExp(
        `^${dayText(yesterday)} +2 +0 +0 +2 +${String(Number(delta.toPrecision(6))).replace('.', '\\.')}$`,
        'm',
      ),
    );
    expect(dry.stdout).toMatch(/^total +60 +0 +0 +60 +[\d.]+$/m);
    expect(await results('daily-energy', 2)).toEqual([]);
    expect(await results('daily-energy', 1)).toEqual(v1);

    const second = await runCli([
      'formulas',
      'recompute',
      '--formula',
      'daily-energy',
      '--version',
      '2',
      '-c',
      config,
    ]);
    expect(second.code).toBe(0);
    const days = [...second.stdout.matchAll(/^(\d{4}-\d{2}-\d{2}) /gm)].map((m) => m[1]);
    expect(days).toHaveLength(30);
    expect(days.at(-1)).toBe(dayText(yesterday));
    const v2 = await results('daily-energy', 2);
    expect(v2).toHaveLength(60);
    for (const day of days)
      expect(
        v2.filter((r) => dayText(r.day_start.getTime()) === day).map((r) => [r.customer_id, r.value]),
      ).toEqual(CUSTOMERS.map((customer, c) => [customer, energyUsed(c)]));
    // version 1's rows are exactly as they were, computed_at included
    expect(await results('daily-energy', 1)).toEqual(v1);

    const third = await runCli([
      'formulas',
      'recompute',
      '--formula',
      'daily-energy',
      '--version',
      '2',
      '-c',
      config,
    ]);
    expect(third.code).toBe(0);
    expect(await results('daily-energy', 2)).toEqual(v2);
    expect(await results('daily-energy', 1)).toEqual(v1);
  }, 240_000);

  it('recompute of a device-scoped version reads the named devices’ 1-day windows from the Hot store', async () => {
    const hot = postgresHotStore(warm, { retentionDays: 3650, ownsEndpoints: false });
    const from = TODAY - 3 * DAY;
    const windows: WindowAggregate[] = [];
    for (let d = 0; d < 3; d++)
      for (const [k, deviceId] of ['dev-1', 'dev-2'].entries())
        windows.push(
          aggregate(
            {
              scope: 'device',
              productId: 'meter-m2',
              deviceId,
              metric: 'power',
              windowStart: from + d * DAY,
            },
            100 * (d + 1) + k,
          ),
        );
    await hot.writeAggregates(windows);
    const text = `formulas:
  - { id: device-peak-kw, version: 1, productId: meter-m2, scope: device, targets: [dev-1], expression: "w / 1000", variables: { w: { metric: power, stat: max } }, decimals: 3 }
`;
    expect(
      (await runCli(['formulas', 'import', write('device.formulas.yaml', text), '-c', config])).code,
    ).toBe(0);
    const run = await runCli([
      'formulas',
      'recompute',
      '--formula',
      'device-peak-kw',
      '--from',
      dayText(from),
      '--to',
      dayText(from + 2 * DAY),
      '-c',
      config,
    ]);
    expect(run.stderr).not.toContain('shardflow:');
    expect(run.code).toBe(0);
    expect((await results('device-peak-kw', 1)).map((r) => [r.device_id, r.customer_id, r.value])).toEqual([
      ['dev-1', null, 0.101],
      ['dev-1', null, 0.201],
      ['dev-1', null, 0.301],
    ]);
  }, 120_000);
});
