/**
 * `shardflow masterdata import` in a child process against a real PostgreSQL: CSV and JSON-lines
 * files of every kind of row, row-level errors with line numbers, progress on stderr, and a second
 * import of the same file leaving the same data.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, warmOnlyConfig } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';

/** `shardflow masterdata …args`. */
const masterdata = (args: readonly string[]) => runCli(['masterdata', ...args]);

describe('shardflow masterdata import', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let dir: string;
  let config: string;

  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const run = (entity: string, path: string) =>
    masterdata(['import', '--config', config, '--entity', entity, '--file', path]);

  beforeAll(async () => {
    db = await createTestDatabase('mdimport');
    pool = testPool(db.url, 1);
    dir = mkdtempSync(join(tmpdir(), 'shardflow-mdimport-'));
    config = file('shardflow.yaml', warmOnlyConfig(db.url));
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('imports 5,000 devices from CSV with a progress bar; a second import changes no data', async () => {
    const lines = ['device_id,product_id,hub_id,name'];
    for (let i = 0; i < 5000; i++)
      lines.push(`d${i},thermo-t1,${i % 10 === 0 ? '' : `d${i - (i % 10)}`},"Device ${i}, hall ${i % 3}"`);
    const csv = file('devices.csv', `${lines.join('\n')}\n`);
    const first = await run('devices', csv);
    expect(first.stderr).toContain('100%');
    expect(first.stdout).toContain('imported 5,000 devices rows');
    expect(first.code).toBe(0);
    const dump = async () =>
      (
        await pool.query(
          'SELECT device_id, product_id, hub_id, name, deleted FROM devices ORDER BY device_id',
        )
      ).rows;
    const before = await dump();
    expect(before).toHaveLength(5000);
    expect(before.find((r) => r.device_id === 'd13')).toEqual({
      device_id: 'd13',
      product_id: 'thermo-t1',
      hub_id: 'd10',
      name: 'Device 13, hall 1',
      deleted: false,
    });
    expect(before.find((r) => r.device_id === 'd20')!.hub_id).toBeNull();
    expect((await run('devices', csv)).code).toBe(0);
    expect(await dump()).toEqual(before);
  });

  it('reports bad rows with their line numbers and imports the rest (JSON lines)', async () => {
    const jsonl = file(
      'assignments.jsonl',
      [
        '{"device_id":"d1","site_id":"s1","valid_from":"2026-11-01T00:00:00Z"}',
        '{"site_id":"s2"}',
        '',
        '{"device_id":"d2","site_id":"s1","valid_from":"yesterday"}',
        'not json',
        '{"device_id":"d3","site_id":"s2","colour":"red"}',
        '{"device_id":"d2","site_id":"s2","valid_from":"2026-11-02T06:00:00Z"}',
      ].join('\n'),
    );
    const result = await run('device-assignments', jsonl);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('imported 2 device-assignments rows');
    expect(result.stdout).toContain('4 rejected');
    expect(result.stderr).toContain(`${jsonl}:2: "device_id" is required`);
    expect(result.stderr).toContain(`${jsonl}:4: "valid_from" is not an ISO 8601 time`);
    expect(result.stderr).toContain(`${jsonl}:5: invalid JSON`);
    expect(result.stderr).toContain(`${jsonl}:6: unknown column "colour"`);
    const periods = await pool.query(
      'SELECT device_id, site_id, valid_from, valid_to FROM device_site_assignments ORDER BY device_id',
    );
    expect(periods.rows).toEqual([
      { device_id: 'd1', site_id: 's1', valid_from: new Date('2026-11-01T00:00:00Z'), valid_to: null },
      { device_id: 'd2', site_id: 's2', valid_from: new Date('2026-11-02T06:00:00Z'), valid_to: null },
    ]);
  });

  it('refuses a CSV with an unknown column, and an unknown entity, as usage errors', async () => {
    const bad = await run('sites', file('sites.csv', 'site_id,colour\ns1,red\n'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown column colour for sites');
    const entity = await run('planets', file('planets.csv', 'id\n1\n'));
    expect(entity.code).toBe(2);
    expect(entity.stderr).toContain('expected one of customers, sites, products, devices');
  });
});
