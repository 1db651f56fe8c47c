import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ColumnBuffer } from '../../../../bench/columnBuffer.ts';
import type { ColdField, ColumnarRows, ColumnValues } from '../../../../sinks/cold/parquet/types.ts';
import { writeParquet } from '../../../../sinks/cold/parquet/writer.ts';
import { decodeBound } from '../../../support/icebergReads.ts';

const FIELDS: readonly ColdField[] = [
  { id: 1, name: 'device_id', type: 'string', required: true },
  { id: 2, name: 'device_timestamp', type: 'timestamptz', required: true },
  { id: 3, name: 'productId', type: 'string', required: true },
  { id: 4, name: 'site_id', type: 'string', required: false },
  { id: 5, name: 'temperature', type: 'double', required: false },
  { id: 6, name: 'seq', type: 'long', required: false },
  { id: 7, name: 'count', type: 'int', required: false },
  { id: 8, name: 'alarm', type: 'boolean', required: false },
  { id: 9, name: 'day', type: 'date', required: false },
  {
    id: 10,
    name: 'metrics',
    type: { kind: 'map', keyId: 11, valueId: 12, value: 'double' },
    required: false,
  },
];

const T = Date.UTC(2026, 10, 22, 9, 30);
const ROWS: ColumnarRows = {
  length: 5,
  columns: new Map<number, ArrayLike<unknown>>([
    [1, ['dev-1', 'dev-2', 'gerät-ä', 'dev-1', 'dev-3']],
    [2, [T, T + 1000.5, T - 60_000, T + 2, T + 3]],
    [3, ['p1', 'p1', 'p2', 'p2', 'p2']],
    [4, ['s1', null, 's2', undefined, 's1']],
    [5, [21.5, Number.NaN, null, -3.25, 40]],
    [6, [1, 2n ** 60n, -7, null, 0]],
    [7, [3, -2, null, 2_000_000_000, 0]],
    [8, [false, true, null, false, false]],
    [9, [20_414, 0, -1, null, 20_415]],
    [10, [{ hum: 40, co2: 410 }, null, {}, new Map([['hum', null]]), { pm25: 7.5 }]],
  ]) as ColumnarRows['columns'],
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cold-parquet-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function duckdbRows(bytes: Uint8Array, sql: (file: string) => string) {
  const file = join(dir, `f-${Math.random().toString(36).slice(2)}.parquet`);
  writeFileSync(file, bytes);
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql(`'${file}'`))).getRowObjectsJson();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('writeParquet', () => {
  it('puts the Iceberg field id on every schema element and the Iceberg types on the columns', () => {
    const { bytes } = writeParquet(FIELDS, ROWS, { compression: 'snappy', rowGroupRows: 2 });
    const schema = parquetMetadata(bytes).schema;
    const byName = new Map(schema.map((e) => [e.name, e]));
    const expected: Record<string, number> = {
      device_id: 1,
      device_timestamp: 2,
      productId: 3,
      site_id: 4,
      temperature: 5,
      seq: 6,
      count: 7,
      alarm: 8,
      day: 9,
      metrics: 10,
      key: 11,
      value: 12,
    };
    for (const [name, id] of Object.entries(expected)) expect(byName.get(name)?.field_id, name).toBe(id);
    // Only the root and the map's repeated key/value group carry no id, as in Iceberg's own files.
    const withoutId = schema.filter((e) => e.field_id === undefined);
    expect(withoutId).toHaveLength(2);
    expect(withoutId[1]?.repetition_type).toBe('REPEATED');
    expect(byName.get('device_timestamp')).toMatchObject({
      type: 'INT64',
      logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
    });
    expect(byName.get('device_id')).toMatchObject({ type: 'BYTE_ARRAY', logical_type: { type: 'STRING' } });
    expect(byName.get('key')).toMatchObject({
      repetition_type: 'REQUIRED',
      logical_type: { type: 'STRING' },
    });
    expect(byName.get('day')).toMatchObject({ type: 'INT32', logical_type: { type: 'DATE' } });
    expect(byName.get('seq')?.type).toBe('INT64');
    expect(byName.get('count')?.type).toBe('INT32');
    expect(byName.get('metrics')?.logical_type?.type).toBe('MAP');
    expect(byName.get('device_id')?.repetition_type).toBe('REQUIRED');
    expect(byName.get('site_id')?.repetition_type).toBe('OPTIONAL');
  });

  it('writes values that hyparquet reads back, in row groups of the configured size', async () => {
    const { bytes } = writeParquet(FIELDS, ROWS, { compression: 'snappy', rowGroupRows: 2 });
    const meta = parquetMetadata(bytes);
    expect(meta.row_groups.map((g) => Number(g.num_rows))).toEqual([2, 2, 1]);
    expect(meta.row_groups[0]?.columns[0]?.meta_data?.codec).toBe('SNAPPY');
    const rows = await parquetReadObjects({ file: bytes.slice().buffer });
    expect(rows.map((r) => r.device_id)).toEqual(['dev-1', 'dev-2', 'gerät-ä', 'dev-1', 'dev-3']);
    expect(rows.map((r) => (r.device_timestamp as Date).getTime())).toEqual([
      T,
      T + 1000,
      T - 60_000,
      T + 2,
      T + 3,
    ]);
    expect(rows.map((r) => r.site_id)).toEqual(['s1', null, 's2', null, 's1']);
    expect(rows.map((r) => r.temperature)).toEqual([21.5, Number.NaN, null, -3.25, 40]);
    expect(rows.map((r) => r.seq)).toEqual([1n, 2n ** 60n, -7n, null, 0n]);
    expect(rows.map((r) => r.count)).toEqual([3, -2, null, 2_000_000_000, 0]);
    expect(rows.map((r) => r.alarm)).toEqual([false, true, null, false, false]);
    expect(rows[0]?.metrics).toEqual({ hum: 40, co2: 410 });
    expect(rows[3]?.metrics).toEqual({ hum: null });
    expect(rows[4]?.metrics).toEqual({ pm25: 7.5 });
  });

  it('writes zstd files that DuckDB reads with microsecond UTC timestamps and the field ids', async () => {
    const { bytes } = writeParquet(FIELDS, ROWS, { compression: 'zstd', rowGroupRows: 3 });
    const values = await duckdbRows(
      bytes,
      (f) =>
        `SELECT device_id, epoch_us(device_timestamp)::VARCHAR AS us, site_id, temperature::VARCHAR AS t, seq::VARCHAR AS seq,
          "count", alarm, day::VARCHAR AS day, metrics['hum'] AS hum FROM read_parquet(${f})`,
    );
    expect(values.map((r) => r.us)).toEqual(
      [T * 1000, T * 1000 + 1_000_500, (T - 60_000) * 1000, (T + 2) * 1000, (T + 3) * 1000].map(String),
    );
    expect(values.map((r) => r.device_id)).toEqual(['dev-1', 'dev-2', 'gerät-ä', 'dev-1', 'dev-3']);
    expect(values.map((r) => r.t)).toEqual(['21.5', 'nan', null, '-3.25', '40.0']);
    expect(values.map((r) => r.seq)).toEqual(['1', String(2n ** 60n), '-7', null, '0']);
    expect(values.map((r) => r.day)).toEqual(['2025-11-22', '1970-01-01', '1969-12-31', null, '2025-11-23']);
    expect(values.map((r) => r.hum)).toEqual([40, null, null, null, null]);
    const schema = await duckdbRows(
      bytes,
      (f) =>
        `SELECT name, field_id::INTEGER AS field_id, logical_type::VARCHAR AS logical_type FROM parquet_schema(${f})`,
    );
    const ts = schema.find((r) => r.name === 'device_timestamp');
    expect(ts?.field_id).toBe(2);
    expect(String(ts?.logical_type)).toMatch(/isAdjustedToUTC=1.*MICROS|MICROS.*isAdjustedToUTC=1/i);
    expect(schema.find((r) => r.name === 'value')?.field_id).toBe(12);
    const types = await duckdbRows(bytes, (f) => `DESCRIBE SELECT device_timestamp FROM read_parquet(${f})`);
    expect(types[0]?.column_type).toBe('TIMESTAMP WITH TIME ZONE');
    const chunks = await duckdbRows(bytes, (f) => `SELECT DISTINCT compression FROM parquet_metadata(${f})`);
    expect(chunks.map((r) => r.compression)).toEqual(['ZSTD']);
  });

  it('returns the Iceberg metrics of the file', () => {
    const { bytes, stats } = writeParquet(FIELDS, ROWS, { compression: 'zstd', rowGroupRows: 2 });
    expect(stats.recordCount).toBe(5);
    expect(stats.fileSizeInBytes).toBe(bytes.byteLength);
    expect(Object.fromEntries(stats.nullValueCounts)).toEqual({
      1: 0,
      2: 0,
      3: 0,
      4: 2,
      5: 1,
      6: 1,
      7: 1,
      8: 1,
      9: 1,
      // a null and an empty map each leave one null slot in both leaves; one value is null
      11: 2,
      12: 3,
    });
    expect(Object.fromEntries(stats.nanValueCounts)).toEqual({ 5: 1, 12: 0 });
    const bound = (id: number, type: Parameters<typeof decodeBound>[0]) => [
      decodeBound(type, stats.lowerBounds.get(id)!),
      decodeBound(type, stats.upperBounds.get(id)!),
    ];
    expect(bound(1, 'string')).toEqual(['dev-1', 'gerät-ä']);
    expect(bound(2, 'timestamptz')).toEqual([BigInt(T - 60_000) * 1000n, BigInt(T) * 1000n + 1_000_500n]);
    expect(bound(4, 'string')).toEqual(['s1', 's2']);
    expect(bound(5, 'double')).toEqual([-3.25, 40]);
    expect(bound(6, 'long')).toEqual([-7n, 2n ** 60n]);
    expect(bound(7, 'int')).toEqual([-2, 2_000_000_000]);
    expect(bound(8, 'boolean')).toEqual([false, true]);
    expect(bound(9, 'date')).toEqual([-1, 20_415]);
    expect(stats.lowerBounds.get(2)).toHaveLength(8);
    expect(stats.lowerBounds.get(7)).toHaveLength(4);
    expect(stats.lowerBounds.has(11) || stats.lowerBounds.has(12) || stats.lowerBounds.has(10)).toBe(false);

    // Counts and sizes agree with the footer's column chunks, summed over the row groups.
    const footer = parquetMetadata(bytes);
    const leafId = (path: string[]) =>
      path[0] === 'metrics' ? (path.at(-1) === 'key' ? 11 : 12) : FIELDS.find((f) => f.name === path[0])!.id;
    const sizes = new Map<number, number>();
    const values = new Map<number, number>();
    const nulls = new Map<number, number>();
    for (const group of footer.row_groups) {
      for (const chunk of group.columns) {
        const m = chunk.meta_data!;
        const id = leafId(m.path_in_schema);
        sizes.set(id, (sizes.get(id) ?? 0) + Number(m.total_compressed_size));
        values.set(id, (values.get(id) ?? 0) + Number(m.num_values));
        nulls.set(id, (nulls.get(id) ?? 0) + Number(m.statistics?.null_count ?? 0));
      }
    }
    expect(stats.columnSizes).toEqual(sizes);
    expect(stats.valueCounts).toEqual(values);
    expect(stats.nullValueCounts).toEqual(nulls);
    expect(stats.valueCounts.get(1)).toBe(5);
    expect(stats.splitOffsets).toHaveLength(3);
    expect(stats.splitOffsets[0]).toBe(4);
    expect([...stats.splitOffsets].sort((a, b) => a - b)).toEqual(stats.splitOffsets);
    expect(stats.splitOffsets.at(-1)).toBeLessThan(bytes.byteLength);
  });

  it('treats a missing optional column as all null and writes footer metadata', async () => {
    const columns = new Map(ROWS.columns);
    columns.delete(4);
    const { bytes, stats } = writeParquet(
      FIELDS,
      { length: 5, columns },
      {
        compression: 'snappy',
        rowGroupRows: 10,
        keyValueMetadata: { 'iceberg.schema': '{"type":"struct"}' },
      },
    );
    expect(stats.nullValueCounts.get(4)).toBe(5);
    expect(stats.lowerBounds.has(4)).toBe(false);
    const meta = parquetMetadata(bytes);
    expect(meta.key_value_metadata?.find((kv) => kv.key === 'iceberg.schema')?.value).toBe(
      '{"type":"struct"}',
    );
    const rows = await parquetReadObjects({ file: bytes.slice().buffer, columns: ['site_id'] });
    expect(rows.map((r) => r.site_id)).toEqual([null, null, null, null, null]);
  });

  it('writes an empty file with no bounds', () => {
    const { stats } = writeParquet(FIELDS, { length: 0, columns: new Map() }, { compression: 'zstd' });
    expect(stats.recordCount).toBe(0);
    expect(stats.lowerBounds.size).toBe(0);
    expect(stats.valueCounts.get(1)).toBe(0);
  });

  it('writes repetitive and all-distinct string columns alike (dictionary and plain Arrow input)', async () => {
    const n = 400;
    const repeated = Array.from({ length: n }, (_, i) => (i % 5 === 4 ? null : `site-${(i * 7) % 3}`));
    const distinct = Array.from({ length: n }, (_, i) => `dev-${String((i * 37) % n).padStart(4, '0')}é`);
    const columns = new Map<number, ArrayLike<unknown>>([
      [1, distinct],
      [2, Array.from({ length: n }, (_, i) => T + i)],
      [3, Array.from({ length: n }, () => 'p1')],
      [4, repeated],
    ]) as ColumnarRows['columns'];
    const { bytes, stats } = writeParquet(FIELDS, { length: n, columns }, { compression: 'snappy' });
    const meta = parquetMetadata(bytes);
    for (const name of ['device_id', 'productId', 'site_id']) {
      const element = meta.schema.find((e) => e.name === name)!;
      expect([element.type, element.logical_type?.type]).toEqual(['BYTE_ARRAY', 'STRING']);
    }
    const rows = await parquetReadObjects({
      file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    });
    expect(rows.map((r) => r.device_id)).toEqual(distinct);
    expect(rows.map((r) => r.site_id)).toEqual(repeated);
    expect(rows.every((r) => r.productId === 'p1')).toBe(true);
    expect(decodeBound('string', stats.lowerBounds.get(1)!)).toBe('dev-0000é');
    expect(decodeBound('string', stats.upperBounds.get(1)!)).toBe(`dev-0${n - 1}é`);
    expect(decodeBound('string', stats.lowerBounds.get(4)!)).toBe('site-0');
    expect(decodeBound('string', stats.upperBounds.get(4)!)).toBe('site-2');
    expect(stats.nullValueCounts.get(4)).toBe(n / 5);
    expect(stats.valueCounts.get(4)).toBe(n);
  });

  it('names the column and the row of a bad value', () => {
    const bad = (id: number, values: unknown[]) =>
      writeParquet(
        FIELDS,
        { length: 5, columns: new Map([...ROWS.columns, [id, values as never]]) },
        { compression: 'zstd' },
      );
    expect(() => bad(1, ['a', 'b', null, 'd', 'e'])).toThrow(
      'column "device_id", row 2: null in a required column',
    );
    expect(() => bad(7, [1, 2, 3, 4.5, 5])).toThrow('column "count", row 3: 4.5 is not a 32-bit integer');
    expect(() => bad(5, [1, 2, 3, 4, 'x'])).toThrow(
      'column "temperature", row 4: expected a number, got string',
    );
    expect(() => bad(2, [T, T, T, 2 ** 60, T])).toThrow('column "device_timestamp", row 3');
    expect(() => bad(3, ['a'])).toThrow('column "productId": 1 values for 5 rows');
    expect(() =>
      writeParquet(FIELDS, { length: 0, columns: new Map([[99, []]]) }, { compression: 'zstd' }),
    ).toThrow('unknown field id 99');
    expect(() =>
      writeParquet(
        [...FIELDS, { id: 11, name: 'other', type: 'int', required: false }],
        { length: 0, columns: new Map() },
        { compression: 'zstd' },
      ),
    ).toThrow('field "other": field id 11 is used twice');
    expect(() => writeParquet(FIELDS, ROWS, { compression: 'lz4' as 'zstd' })).toThrow(/compression/);
  });
});

describe('compact column forms (dictionary codes, numbers as text, map entries)', () => {
  const fields: readonly ColdField[] = [
    { id: 1, name: 'device_id', type: 'string', required: true },
    { id: 2, name: 'site_id', type: 'string', required: false },
    { id: 3, name: 'metrics', type: { kind: 'map', keyId: 4, valueId: 5, value: 'string' }, required: false },
  ];
  const plain: ColumnarRows = {
    length: 4,
    columns: new Map<number, ArrayLike<unknown>>([
      [1, ['dev-b', 'dev-c', 'dev-b', 'dev-d']],
      [2, ['s1', null, 's2', 's1']],
      [3, [{ hum: '40', ok: 'true' }, null, { hum: '-0.5' }, {}]],
    ]) as ColumnarRows['columns'],
  };
  const compact: ColumnarRows = {
    length: 4,
    columns: new Map<number, ColumnValues>([
      // 'dev-a' and 'dev-z' are in the dictionary but in no row: they must not widen the bounds
      [
        1,
        {
          kind: 'dictionary',
          codes: Int32Array.of(1, 2, 1, 3),
          dictionary: ['dev-a', 'dev-b', 'dev-c', 'dev-d', 'dev-z'],
        },
      ],
      [2, { kind: 'dictionary', codes: Int32Array.of(0, -1, 1, 0), dictionary: ['s1', 's2'] }],
      [
        3,
        {
          kind: 'map-entries',
          offsets: Int32Array.of(0, 2, 2, 3, 3),
          present: Uint8Array.of(1, 0, 1, 1),
          keys: { kind: 'dictionary', codes: Int32Array.of(0, 1, 0), dictionary: ['hum', 'ok'] },
          values: {
            kind: 'number-text',
            numbers: Float64Array.of(40, 0, -0.5),
            text: new Map([[1, 'true']]),
          },
        },
      ],
    ]),
  };

  it('writes the same file contents and metrics as the plain arrays', async () => {
    const a = writeParquet(fields, compact, { compression: 'snappy' });
    const b = writeParquet(fields, plain, { compression: 'snappy' });
    expect(a.stats.lowerBounds).toEqual(b.stats.lowerBounds);
    expect(a.stats.upperBounds).toEqual(b.stats.upperBounds);
    expect(a.stats.nullValueCounts).toEqual(b.stats.nullValueCounts);
    expect(a.stats.valueCounts).toEqual(b.stats.valueCounts);
    expect(decodeBound('string', a.stats.upperBounds.get(1)!)).toBe('dev-d');
    const rows = await parquetReadObjects({ file: a.bytes.slice().buffer });
    expect(rows).toEqual(await parquetReadObjects({ file: b.bytes.slice().buffer }));
    // hyparquet reads a null map as undefined
    expect(rows.map((r) => r.metrics)).toEqual([{ hum: '40', ok: 'true' }, undefined, { hum: '-0.5' }, {}]);
  });

  it('writes a dictionary column too varied for a dictionary as plain strings', async () => {
    const n = 200;
    const dictionary = Array.from({ length: n }, (_, i) => `seq-${String(i).padStart(4, '0')}`);
    const rows: ColumnarRows = {
      length: n,
      columns: new Map<number, ColumnValues>([
        [1, { kind: 'dictionary', codes: Int32Array.from({ length: n }, (_, i) => n - 1 - i), dictionary }],
      ]),
    };
    const { bytes, stats } = writeParquet(fields, rows, { compression: 'snappy' });
    const chunk = parquetMetadata(bytes).row_groups[0]!.columns[0]!.meta_data!;
    expect(chunk.dictionary_page_offset).toBeUndefined();
    expect(decodeBound('string', stats.lowerBounds.get(1)!)).toBe('seq-0000');
    const back = await parquetReadObjects({ file: bytes.slice().buffer, columns: ['device_id'] });
    expect(back.map((r) => r.device_id)).toEqual([...dictionary].reverse());
  });

  it('names the column and the row of a bad code or a null in a required column', () => {
    const one = (column: ColumnValues) => ({ length: 2, columns: new Map([[1, column]]) });
    expect(() =>
      writeParquet(fields, one({ kind: 'dictionary', codes: Int32Array.of(0, 5), dictionary: ['a'] }), {}),
    ).toThrow('column "device_id", row 1: code 5 is outside the dictionary');
    expect(() =>
      writeParquet(fields, one({ kind: 'dictionary', codes: Int32Array.of(0, -1), dictionary: ['a'] }), {}),
    ).toThrow('column "device_id", row 1: null in a required column');
    expect(() =>
      writeParquet(fields, one({ kind: 'number-text', numbers: Float64Array.of(1, 2) }), {}),
    ).not.toThrow();
    expect(() =>
      writeParquet(
        fields,
        {
          length: 1,
          columns: new Map<number, ColumnValues>([
            [1, ['a']],
            [
              3,
              {
                kind: 'map-entries',
                offsets: Int32Array.of(0, 1),
                present: Uint8Array.of(0),
                keys: { kind: 'dictionary', codes: Int32Array.of(0), dictionary: ['k'] },
                values: ['v'],
              },
            ],
          ]),
        },
        {},
      ),
    ).toThrow('column "metrics", row 0: a null map has entries');
  });
});

describe('typed columns and ColumnBuffer', () => {
  const fields: readonly ColdField[] = [
    { id: 1, name: 'device_id', type: 'string', required: true },
    { id: 2, name: 'device_timestamp', type: 'timestamptz', required: true },
    { id: 3, name: 'temperature', type: 'double', required: false },
    { id: 4, name: 'count', type: 'int', required: false },
    { id: 5, name: 'seq', type: 'long', required: false },
    { id: 6, name: 'metrics', type: { kind: 'map', keyId: 7, valueId: 8, value: 'double' }, required: false },
  ];

  it('writes typed arrays with presence flags like the same values in plain arrays', async () => {
    const typed: ColumnarRows = {
      length: 4,
      columns: new Map([
        [1, ['a', 'b', 'c', 'd']],
        [2, { values: Float64Array.of(T, T + 0.25, T - 1, T + 9, 12345) }],
        [3, { values: Float64Array.of(1.5, 99, Number.NaN, -0, 7), present: Uint8Array.of(1, 0, 1, 1, 1) }],
        [4, { values: Int32Array.of(3, 4, 5, 6), present: Uint8Array.of(0, 1, 1, 0) }],
        [5, { values: Float64Array.of(2 ** 40, -1, 0, 5) }],
      ]),
    };
    const plain: ColumnarRows = {
      length: 4,
      columns: new Map<number, ArrayLike<unknown>>([
        [1, ['a', 'b', 'c', 'd']],
        [2, [T, T + 0.25, T - 1, T + 9]],
        [3, [1.5, null, Number.NaN, -0]],
        [4, [null, 4, 5, null]],
        [5, [2 ** 40, -1, 0, 5]],
      ]) as ColumnarRows['columns'],
    };
    const a = writeParquet(fields, typed, { compression: 'snappy' });
    const b = writeParquet(fields, plain, { compression: 'snappy' });
    expect(a.stats.lowerBounds).toEqual(b.stats.lowerBounds);
    expect(a.stats.upperBounds).toEqual(b.stats.upperBounds);
    expect(a.stats.nullValueCounts).toEqual(b.stats.nullValueCounts);
    expect(a.stats.nanValueCounts.get(3)).toBe(1);
    expect(decodeBound('double', a.stats.lowerBounds.get(3)!)).toBe(-0);
    const rows = await parquetReadObjects({ file: a.bytes.slice().buffer });
    expect(rows).toEqual(await parquetReadObjects({ file: b.bytes.slice().buffer }));
    expect(rows.map((r) => r.count)).toEqual([null, 4, 5, null]);
    expect(() =>
      writeParquet(
        fields,
        {
          length: 1,
          columns: new Map([
            [1, ['a']],
            [2, { values: Float64Array.of(T) }],
            [4, { values: Float64Array.of(1) }],
          ]),
        },
        {},
      ),
    ).toThrow('column "count": a Float64Array cannot hold int values');
    expect(() =>
      writeParquet(
        fields,
        {
          length: 1,
          columns: new Map([
            [1, ['a']],
            [2, { values: Float64Array.of(T), present: Uint8Array.of(0) }],
          ]),
        },
        {},
      ),
    ).toThrow('column "device_timestamp", row 0: null in a required column');
  });

  it('collects records column by column, growing past its capacity', async () => {
    const buffer = new ColumnBuffer(fields, 2);
    const [id, ts, temperature, count, , metrics] = fields.map((f) => buffer.column(f.id));
    for (let i = 0; i < 5; i++) {
      id!.set(`dev-${i}`);
      ts!.set(T + i);
      if (i !== 2) temperature!.set(i / 2);
      count!.set(i === 4 ? null : i);
      if (i === 1) metrics!.set({ hum: 50 });
      buffer.endRow();
    }
    expect(buffer.length).toBe(5);
    const { bytes, stats } = writeParquet(fields, buffer.rows(), { compression: 'zstd' });
    expect(stats.recordCount).toBe(5);
    expect(stats.nullValueCounts.get(3)).toBe(1);
    expect(stats.nullValueCounts.get(5)).toBe(5);
    const values = await duckdbRows(
      bytes,
      (f) => `SELECT device_id, epoch_ms(device_timestamp) AS ms, temperature, "count", metrics['hum'] AS hum
        FROM read_parquet(${f})`,
    );
    expect(values).toEqual([
      { device_id: 'dev-0', ms: String(T), temperature: 0, count: 0, hum: null },
      { device_id: 'dev-1', ms: String(T + 1), temperature: 0.5, count: 1, hum: 50 },
      { device_id: 'dev-2', ms: String(T + 2), temperature: null, count: 2, hum: null },
      { device_id: 'dev-3', ms: String(T + 3), temperature: 1.5, count: 3, hum: null },
      { device_id: 'dev-4', ms: String(T + 4), temperature: 2, count: null, hum: null },
    ]);
    buffer.clear();
    id!.set('again');
    ts!.set(T);
    buffer.endRow();
    const again = writeParquet(fields, buffer.rows(), { compression: 'zstd' });
    expect(again.stats.recordCount).toBe(1);
    expect(again.stats.nullValueCounts.get(3)).toBe(1);
    expect(() => temperature!.set('warm')).toThrow(
      'column "temperature", row 1: expected a number, got string',
    );
    expect(() => buffer.column(99)).toThrow('no column with field id 99');
  });
});
