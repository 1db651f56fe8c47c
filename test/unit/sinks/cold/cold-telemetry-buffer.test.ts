import { parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { PartitionedTelemetry, TelemetryBuffer } from '../../../../sinks/cold/iceberg/telemetryBuffer.ts';
import { coldFields, telemetrySchema } from '../../../../sinks/cold/iceberg/telemetryTable.ts';
import { writeParquet } from '../../../../sinks/cold/parquet/writer.ts';
import type { Enriched } from '../../../../topology/index.ts';

const T = Date.UTC(2026, 10, 22, 9);
const schema = telemetrySchema([
  { name: 'temperature', type: 'double' },
  { name: 'count', type: 'int' },
  { name: 'seq', type: 'long' },
  { name: 'alarm', type: 'boolean' },
  { name: 'mode', type: 'string' },
]);

/** Records touching every column form: nulls, repeats, metrics that do and do not fit their column. */
function record(i: number): Enriched {
  const metrics: Record<string, number | string | boolean | null> = {};
  if (i % 7 !== 0) metrics.temperature = i % 11 === 0 ? 'n/a' : i / 4;
  if (i % 3 === 0) metrics.count = i;
  if (i % 5 === 0) metrics.seq = 2 ** 40 + i;
  if (i % 4 === 0) metrics.alarm = i % 8 === 0;
  if (i % 6 === 0) metrics.mode = `m${i % 3}`;
  if (i % 2 === 0) metrics.hum = i % 10 === 0 ? -0.5 : i;
  if (i % 9 === 0) metrics.label = `l${i}`;
  if (i % 13 === 0) metrics.door = true;
  if (i % 17 === 0) metrics.gone = null;
  return {
    device_id: `dev-${i % 97}`,
    device_timestamp: T + i * 1000.5,
    productId: 'thermo',
    metrics,
    ...(i % 10 === 0 ? { hub_id: `hub-${i % 3}`, childDeviceId: `c${i % 4}` } : {}),
    ingest_timestamp: T + i * 1000 + 7,
    site_id: i % 5 === 0 ? null : `site-${i % 7}`,
    customer_id: i % 5 === 0 ? null : 'cust-1',
    rawRef: {
      protocol: 'mqtt',
      format: 'json',
      stream: 'telemetry',
      shardId: `shardId-00${i % 2}`,
      // KPL aggregates: ten user records share a sequence number
      sequenceNumber: String(49_000_000_000_000_000_000n + BigInt(Math.floor(i / 10))),
      subSequenceNumber: i % 10,
      ...(i % 8 === 0 ? {} : { specId: 'thermo-t1', specVersion: 1 + (i % 2) }),
    },
  };
}

/** What a record reads back as from the data file (hyparquet's forms). */
function expected(r: Enriched) {
  const columnValue = (name: string, ok: (v: unknown) => boolean) =>
    name in r.metrics && ok(r.metrics[name]) ? r.metrics[name] : null;
  const typed: Record<string, unknown> = {
    temperature: columnValue('temperature', (v) => typeof v === 'number'),
    count: columnValue('count', (v) => Number.isInteger(v)),
    seq: columnValue('seq', (v) => Number.isInteger(v)),
    alarm: columnValue('alarm', (v) => typeof v === 'boolean'),
    mode: columnValue('mode', (v) => typeof v === 'string'),
  };
  if (typed.seq !== null) typed.seq = BigInt(typed.seq as number);
  const rest: Record<string, string> = {};
  for (const [name, v] of Object.entries(r.metrics)) {
    if (v === null) continue;
    if (name in typed && typed[name] !== null) continue;
    rest[name] = String(v);
  }
  return {
    device_id: r.device_id,
    device_timestamp: new Date(Math.floor(r.device_timestamp)),
    product_id: r.productId,
    hub_id: r.hub_id ?? null,
    child_device_id: r.childDeviceId ?? null,
    site_id: r.site_id,
    customer_id: r.customer_id,
    ingest_timestamp: new Date(r.ingest_timestamp),
    stream: r.rawRef.stream,
    shard_id: r.rawRef.shardId,
    sequence_number: r.rawRef.sequenceNumber,
    sub_sequence_number: r.rawRef.subSequenceNumber ?? 0,
    spec_id: r.rawRef.specId ?? null,
    spec_version: r.rawRef.specVersion ?? null,
    // hyparquet reads a null map as undefined
    metrics: Object.keys(rest).length === 0 ? undefined : rest,
    ...typed,
  };
}

async function readBack(buffer: TelemetryBuffer, from?: number, to?: number) {
  const { bytes, stats } = writeParquet(coldFields(schema), buffer.columns(from, to), {
    compression: 'snappy',
  });
  const rows = await parquetReadObjects({ file: bytes.slice().buffer });
  return { rows, stats };
}

describe('TelemetryBuffer', () => {
  const records = Array.from({ length: 2_300 }, (_, i) => record(i));

  it('writes every column of every record, past its first capacity', async () => {
    const buffer = new TelemetryBuffer(schema, 16);
    for (const r of records) buffer.append(r);
    expect(buffer.length).toBe(records.length);
    const { rows, stats } = await readBack(buffer);
    expect(rows).toEqual(records.map(expected));
    expect(stats.recordCount).toBe(records.length);
  });

  it('gives any range of rows, the map entries and their text rebased to the range', async () => {
    const buffer = new TelemetryBuffer(schema);
    for (const r of records) buffer.append(r);
    const { rows } = await readBack(buffer, 1_001, 2_002);
    expect(rows).toEqual(records.slice(1_001, 2_002).map(expected));
    expect(buffer.positionAt(1_234)).toEqual({
      sequenceNumber: records[1_234]!.rawRef.sequenceNumber,
      subSequenceNumber: 4,
    });
    expect(buffer.shardAt(1_235)).toBe('shardId-001');
  });

  it('filters rows by shard and position, and appends another buffer’s rows', async () => {
    const buffer = new TelemetryBuffer(schema);
    for (const r of records) buffer.append(r);
    const cut = records[1_500]!.rawRef.sequenceNumber;
    const keep = (shard: string, p: { sequenceNumber: string }) =>
      shard === 'shardId-001' || p.sequenceNumber > cut;
    const kept = buffer.filter(keep);
    const wanted = records.filter((r) => keep(r.rawRef.shardId, r.rawRef));
    expect(kept.length).toBe(wanted.length);
    expect(buffer.filter(() => true)).toBe(buffer);

    const later = new TelemetryBuffer(schema);
    for (const r of records.slice(0, 50)) later.append(r);
    kept.appendAll(later);
    const { rows } = await readBack(kept);
    expect(rows).toEqual([...wanted, ...records.slice(0, 50)].map(expected));
  });
});

describe('PartitionedTelemetry', () => {
  it('keeps a buffer per day and product, filters, appends and finds each shard’s first row', () => {
    const at = (i: number, day: number, productId: string) => ({
      ...record(i),
      productId,
      device_timestamp: T + day * 86_400_000,
    });
    const older = new PartitionedTelemetry(schema);
    for (let i = 0; i < 40; i++) older.append(at(i, i % 2, i % 3 === 0 ? 'meter' : 'thermo'));
    const parts = [...older.partitions()].map(
      (p) => `${p.day - Math.floor(T / 86_400_000)} ${p.productId} ${p.rows.length}`,
    );
    expect(parts.sort()).toEqual(['0 meter 7', '0 thermo 13', '1 meter 7', '1 thermo 13']);
    expect(older.length).toBe(40);
    expect(older.firstPositions()).toEqual(
      new Map([
        ['shardId-000', { sequenceNumber: records0(0), subSequenceNumber: 0 }],
        ['shardId-001', { sequenceNumber: records0(1), subSequenceNumber: 1 }],
      ]),
    );

    // rows of shard 0 up to record 19 committed elsewhere
    older.filter((shard, p) => shard !== 'shardId-000' || p.sequenceNumber > records0(19));
    expect(older.length).toBe(30);
    expect(older.firstPositions().get('shardId-000')).toEqual({
      sequenceNumber: records0(20),
      subSequenceNumber: 0,
    });

    const newer = new PartitionedTelemetry(schema);
    for (let i = 40; i < 45; i++) newer.append(at(i, 2, 'thermo'));
    older.appendAll(newer);
    expect(older.length).toBe(35);
    expect([...older.partitions()].find((p) => p.rows.length === 5)?.productId).toBe('thermo');
  });
});

function records0(i: number): string {
  return record(i).rawRef.sequenceNumber;
}
