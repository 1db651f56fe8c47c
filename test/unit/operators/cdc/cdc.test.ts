import { describe, expect, it } from 'vitest';
import { cdcDecode } from '../../../../operators/cdc/cdcDecode.ts';
import type { MasterDataChange, MasterDataRowChange } from '../../../../operators/cdc/change.ts';
import { dmsMicros } from '../../../../operators/cdc/dms.ts';
import { cdcDecodeConfigSchema } from '../../../../operators/cdc/mapping.ts';
import {
  type DeadLetter,
  ManualClock,
  type OperatorContext,
  type RawRecord,
} from '../../../../topology/index.ts';
import { CDC_MAPPINGS } from '../../../support/cdcMappings.ts';
import { asRawRecords, dmsControl, dmsData, mongoChange } from '../../../support/dms.ts';

const T0 = Date.UTC(2026, 10, 1, 8, 0, 0);

function run(records: RawRecord[]): { out: MasterDataChange[]; dead: DeadLetter[] } {
  const dead: DeadLetter[] = [];
  const ctx: OperatorContext<{ dlq: DeadLetter }> = {
    node: 'cdc-decode',
    shardId: 's',
    position: { sequenceNumber: '1', subSequenceNumber: 0 },
    clock: new ManualClock(T0),
    side: (_port, letter) => void dead.push(letter),
  };
  const out = cdcDecode(CDC_MAPPINGS).process(records, ctx) as MasterDataChange[];
  return { out, dead };
}

const rows = (out: MasterDataChange[]) => out.filter((c): c is MasterDataRowChange => c.kind === 'change');

describe('cdc-decode: AWS DMS', () => {
  it('maps a load, an update and a delete of one table to every entity it feeds', () => {
    const { out, dead } = run(
      asRawRecords([
        dmsData('iot', 'devices', 'load', { device_id: 'd1', product: 'p1', site: 's1' }, T0),
        dmsData(
          'iot',
          'devices',
          'update',
          { device_id: 'd1', product: 'p1', hub: 'h1', site: 's2' },
          T0 + 1000,
        ),
        dmsData('iot', 'devices', 'delete', { device_id: 'd1', product: 'p1', site: 's2' }, T0 + 2000),
      ]),
    );
    expect(dead).toEqual([]);
    const changes = rows(out);
    expect(changes.map((c) => `${c.entity}:${c.op}:${c.key}`)).toEqual([
      'device:upsert:d1',
      'device-assignment:upsert:d1',
      'device:upsert:d1',
      'device-assignment:upsert:d1',
      'device:delete:d1',
      'device-assignment:delete:d1',
    ]);
    // an absent column (DMS omits nulls) is null in the full image
    expect(changes[0]!.fields).toEqual({ product_id: 'p1', hub_id: null });
    expect(changes[3]!.fields).toEqual({ site_id: 's2' });
    expect(changes[3]!.effectiveAt).toBe(T0 + 1000);
    const versions = changes.map((c) => c.version);
    expect([...versions].sort()).toEqual(versions);
  });

  it('orders by the microseconds of metadata.timestamp, not by arrival', () => {
    const late = dmsData('crm', 'customers', 'update', { id: 'c1', name: 'new' }, T0);
    (late.metadata as Record<string, unknown>).timestamp = '2026-11-01T08:00:00.000002Z';
    const early = dmsData('crm', 'customers', 'update', { id: 'c1', name: 'old' }, T0);
    (early.metadata as Record<string, unknown>).timestamp = '2026-11-01T08:00:00.000001Z';
    const [a, b] = rows(run(asRawRecords([late, early])).out);
    expect(a!.version > b!.version).toBe(true);
    expect(dmsMicros('2026-11-01T08:00:00.000002Z') - dmsMicros('2026-11-01T08:00:00Z')).toBe(2n);
  });

  it('takes an assignment start from the mapped validFrom column', () => {
    const moved = '2026-11-01T06:30:00Z';
    const [, assignment] = rows(
      run(
        asRawRecords([
          dmsData('iot', 'devices', 'update', { device_id: 'd1', site: 's3', moved_at: moved }, T0),
        ]),
      ).out,
    );
    expect(assignment!.effectiveAt).toBe(Date.parse(moved));
  });

  it('turns a primary-key update (before-image) into a delete of the old key', () => {
    const record = dmsData('crm', 'customers', 'update', { id: 'c2', name: 'x' }, T0, {
      beforeImage: { id: 'c1', name: 'x' },
    });
    expect(rows(run(asRawRecords([record])).out).map((c) => `${c.op}:${c.key}`)).toEqual([
      'delete:c1',
      'upsert:c2',
    ]);
  });

  it('passes control records through and ignores tables no mapping names', () => {
    const { out, dead } = run(
      asRawRecords([
        dmsControl('', 'awsdms_apply_exceptions', 'create-table', T0),
        dmsData('crm', 'orders', 'insert', { id: 1 }, T0),
      ]),
    );
    expect(dead).toEqual([]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      kind: 'control',
      operation: 'create-table',
      origin: 'dms:.awsdms_apply_exceptions',
    });
  });

  it('dead-letters what is not CDC or has no key', () => {
    const bad = asRawRecords([{ hello: 1 }, dmsData('crm', 'customers', 'insert', { name: 'no id' }, T0)]);
    bad.push({ ...bad[0]!, sequenceNumber: '9', data: new TextEncoder().encode('{not json') });
    const { out, dead } = run(bad);
    expect(out).toEqual([]);
    expect(dead.map((d) => d.code)).toEqual(['cdc-invalid', 'cdc-invalid', 'cdc-invalid']);
    expect(dead[1]!.reason).toContain('key "id"');
  });
});

describe('cdc-decode: MongoDB change streams', () => {
  const t = Math.floor(T0 / 1000);

  it('maps inserts, partial updates, removed fields and deletes', () => {
    const { out } = run(
      asRawRecords([
        mongoChange(
          'fm',
          'sites',
          'insert',
          's1',
          { t, i: 1 },
          { fullDocument: { name: 'Plant', geo: { tz: 'Europe/Berlin' }, owner: 'c1' } },
        ),
        mongoChange('fm', 'sites', 'update', 's1', { t: t + 5, i: 1 }, { updatedFields: { owner: 'c2' } }),
        mongoChange(
          'fm',
          'sites',
          'update',
          's1',
          { t: t + 6, i: 1 },
          { updatedFields: { geo: { tz: 'UTC' } }, removedFields: ['name'] },
        ),
        mongoChange('fm', 'sites', 'delete', 's1', { t: t + 7, i: 1 }),
      ]),
    );
    expect(rows(out).map((c) => [c.entity, c.op, c.fields])).toEqual([
      ['site', 'upsert', { name: 'Plant', timezone: 'Europe/Berlin' }],
      ['site-assignment', 'upsert', { customer_id: 'c1' }],
      ['site-assignment', 'patch', { customer_id: 'c2' }],
      ['site', 'patch', { name: null, timezone: 'UTC' }],
      ['site', 'delete', {}],
      ['site-assignment', 'delete', {}],
    ]);
    expect(rows(out)[2]!.effectiveAt).toBe((t + 5) * 1000);
  });

  it('orders by clusterTime seconds, then increment', () => {
    const [a, b] = rows(
      run(
        asRawRecords([
          mongoChange('fm', 'sites', 'update', 's1', { t, i: 9 }, { updatedFields: { name: 'b' } }),
          mongoChange('fm', 'sites', 'update', 's1', { t, i: 2 }, { updatedFields: { name: 'a' } }),
        ]),
      ).out,
    );
    expect(a!.version > b!.version).toBe(true);
  });

  it('records a drop as a control record', () => {
    const { out } = run(asRawRecords([mongoChange('fm', 'sites', 'drop', '', { t, i: 1 })]));
    expect(out).toEqual([
      expect.objectContaining({ kind: 'control', operation: 'drop', origin: 'mongo:fm.sites' }),
    ]);
  });
});

describe('mapping CDC_MAPPINGS', () => {
  it('names the key of a wrong field and of a missing DMS key', () => {
    const result = cdcDecodeConfigSchema.safeParse({
      mappings: [
        { source: { kind: 'dms', schema: 'a', table: 'b' }, entity: 'device', fields: { colour: 'c' } },
      ],
    });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['mappings.0.fields.colour', 'mappings.0.key']));
  });
});
