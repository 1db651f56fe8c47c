/**
 * One conformance suite for every catalog (PostgreSQL on embedded PGlite, and Glue through a fake
 * client, because Glue cannot run here), and the Glue catalog's conflict and unknown-outcome handling
 * under injected faults.
 */
import type { Table } from '@aws-sdk/client-glue';
import { describe, expect, it } from 'vitest';
import type { Catalog } from '../../../../sinks/cold/catalog/catalog.ts';
import { type GlueCalls, glueCatalog } from '../../../../sinks/cold/catalog/glueCatalog.ts';
import { jdbcCatalog } from '../../../../sinks/cold/catalog/jdbcCatalog.ts';
import {
  appendFiles,
  loadOrCreateTable,
  loadTable,
  type TableRef,
} from '../../../../sinks/cold/iceberg/commit.ts';
import { currentSnapshot } from '../../../../sinks/cold/iceberg/metadata.ts';
import { TELEMETRY_SPEC, telemetrySchema } from '../../../../sinks/cold/iceberg/telemetryTable.ts';
import type { DataFile } from '../../../../sinks/cold/iceberg/types.ts';
import { systemClock } from '../../../../topology/index.ts';
import { ancestry } from '../../../support/icebergReads.ts';
import { icebergScratch } from '../../../support/icebergScratch.ts';

const scratch = icebergScratch('iceberg-catalog');
const filesAt = scratch.filesAt;

/** An in-memory Glue table store that injects faults: a fake, because Glue cannot run here. */
function faultyGlue() {
  const tables = new Map<string, Table>();
  let version = 0;
  const faults: ('conflict' | 'lost-after-apply' | 'lost-before-apply')[] = [];
  const calls: GlueCalls = {
    getTable: async (db, name) => structuredClone(tables.get(`${db}.${name}`)),
    async createTable(input) {
      const key = `${input.DatabaseName}.${input.TableInput!.Name}`;
      if (tables.has(key)) throw Object.assign(new Error('exists'), { name: 'AlreadyExistsException' });
      tables.set(key, { ...input.TableInput!, Name: input.TableInput!.Name!, VersionId: String(++version) });
    },
    async updateTable(input) {
      const key = `${input.DatabaseName}.${input.TableInput!.Name}`;
      const fault = faults.shift();
      if (fault === 'lost-before-apply')
        throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
      if (fault === 'conflict' || tables.get(key)?.VersionId !== input.VersionId) {
        throw Object.assign(new Error('version changed'), { name: 'ConcurrentModificationException' });
      }
      tables.set(key, { ...input.TableInput!, Name: input.TableInput!.Name!, VersionId: String(++version) });
      if (fault === 'lost-after-apply')
        throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    },
  };
  return { calls, tables, faults };
}

describe('Glue catalog (fault-injecting fake client)', () => {
  const dataFile = (n: number): DataFile => ({
    filePath: `${filesAt('glue').location}/data/f${n}.parquet`,
    partition: { device_timestamp_day: 20412, product_id: 'meter' },
    stats: {
      recordCount: 10,
      fileSizeInBytes: 100,
      columnSizes: new Map([[1, 50]]),
      valueCounts: new Map([[1, 10]]),
      nullValueCounts: new Map([[1, 0]]),
      nanValueCounts: new Map(),
      lowerBounds: new Map(),
      upperBounds: new Map(),
      splitOffsets: [4],
    },
  });

  it('retries a ConcurrentModificationException, and resolves lost answers from the metadata log', async () => {
    const glue = faultyGlue();
    const catalog: Catalog = glueCatalog(glue.calls);
    const ref: TableRef = {
      id: { namespace: 'iot', name: 'glue' },
      catalog,
      files: filesAt('glue'),
      clock: systemClock,
      backoffMs: 1,
    };
    await loadOrCreateTable(ref, telemetrySchema([]), TELEMETRY_SPEC);
    const params = () => glue.tables.get('iot.glue')!.Parameters!;
    expect(params().table_type).toBe('ICEBERG');

    glue.faults.push('conflict');
    const first = await appendFiles(ref, [dataFile(1)]);
    expect(first.attempts).toBe(2);

    glue.faults.push('lost-after-apply');
    const second = await appendFiles(ref, [dataFile(2)]);
    expect(second.attempts).toBe(1);
    expect(params().metadata_location).toBe(second.metadataLocation);
    expect(params().previous_metadata_location).toBe(first.metadataLocation);

    glue.faults.push('lost-before-apply');
    const third = await appendFiles(ref, [dataFile(3)]);
    expect(third.attempts).toBe(2);

    const meta = (await loadTable(ref))!.metadata;
    expect(ancestry(meta).map((s) => s['snapshot-id'])).toEqual([
      third.snapshotId,
      second.snapshotId,
      first.snapshotId,
    ]);
    expect(currentSnapshot(meta)!.summary['total-records']).toBe('30');
  });
});

const implementations: [string, () => Catalog][] = [
  ['jdbc (PGlite)', () => jdbcCatalog(scratch.sql, { catalogName: 'conformance' })],
  ['glue (fake client)', () => glueCatalog(faultyGlue().calls)],
];

describe.each(implementations)('Catalog conformance: %s', (_, make) => {
  it('creates once, swaps only from the current location, and loads what it swapped in', async () => {
    const catalog = make();
    const t = { namespace: 'iot', name: 'conf' };
    expect(await catalog.load(t)).toBeUndefined();
    expect(await catalog.create(t, 'file:///m/0.json')).toBe('committed');
    expect(await catalog.create(t, 'file:///m/other.json')).toBe('conflict');
    expect(await catalog.load(t)).toBe('file:///m/0.json');
    expect(await catalog.compareAndSwap(t, 'file:///m/stale.json', 'file:///m/1.json')).toBe('conflict');
    expect(await catalog.load(t)).toBe('file:///m/0.json');
    expect(await catalog.compareAndSwap(t, 'file:///m/0.json', 'file:///m/1.json')).toBe('committed');
    expect(await catalog.compareAndSwap(t, 'file:///m/0.json', 'file:///m/2.json')).toBe('conflict');
    expect(await catalog.load(t)).toBe('file:///m/1.json');
    expect(await catalog.load({ namespace: 'iot', name: 'other' })).toBeUndefined();
  });
});
