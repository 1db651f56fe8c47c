/**
 * The Iceberg table format against tables written by Athena, Spark and Iceberg Java
 * (`test/fixtures/iceberg-golden/`): shardflow's reader reads them, and shardflow's Avro schemas
 * match theirs field for field, field id for field id.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readAvroFile } from '../../../../sinks/cold/iceberg/avro.ts';
import { parseJson, parseJsonByHand, stringifyJson } from '../../../../sinks/cold/iceberg/json.ts';
import {
  MANIFEST_LIST_SCHEMA,
  manifestAvroSchema,
  readManifest,
  readManifestList,
} from '../../../../sinks/cold/iceberg/manifest.ts';
import {
  currentSnapshot,
  parseMetadata,
  serializeMetadata,
} from '../../../../sinks/cold/iceberg/metadata.ts';
import { dayOf, partitionPath } from '../../../../sinks/cold/iceberg/partition.ts';
import { keyOf, readLocation, type TableFiles } from '../../../../sinks/cold/iceberg/tableFiles.ts';
import {
  evolvedTelemetrySchema,
  TELEMETRY_SPEC,
  telemetrySchema,
} from '../../../../sinks/cold/iceberg/telemetryTable.ts';
import { localObjectStore } from '../../../../sinks/cold/storage/localObjectStore.ts';

const GOLDEN = fileURLToPath(new URL('../../../fixtures/iceberg-golden', import.meta.url));
const golden = localObjectStore({ kind: 'local', directory: GOLDEN });
const table = (location: string, prefix: string): TableFiles => ({ store: golden, location, prefix });
const text = (path: string) => readFileSync(`${GOLDEN}/${path}`, 'utf8');
const withoutDoc = (schema: unknown) =>
  JSON.parse(JSON.stringify(schema, (k, v) => (k === 'doc' ? undefined : v)));

describe('BigInt-safe JSON', () => {
  it('keeps 63-bit ids exact both ways', () => {
    const parsed = parseJson('{"id": 9158179788527662767, "small": 42, "f": 1.5e3, "s": "a\\"b"}') as Record<
      string,
      unknown
    >;
    expect(parsed.id).toBe(9158179788527662767n);
    expect(parsed.small).toBe(42);
    expect(parsed.f).toBe(1500);
    expect(parsed.s).toBe('a"b');
    expect(stringifyJson(parsed, '')).toContain('9158179788527662767');
    expect(() => parseJson('{"a": 1,}')).toThrow(/invalid JSON/);
  });

  it('reads what the character-by-character parser reads, big integers and strings alike', () => {
    const big = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    const leaf = fc.oneof(
      big,
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ unit: 'binary' }),
      fc.constantFrom('12345678901234567890', '-9007199254740993', '1e400', '"\\u0000"', '\u0000x'),
      fc.boolean(),
      fc.constant(null),
    );
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      object: fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
    })).value;
    fc.assert(
      fc.property(json, fc.boolean(), (value, indented) => {
        const text = stringifyJson(value, indented ? '  ' : '');
        expect(parseJson(text)).toEqual(parseJsonByHand(text));
      }),
      { numRuns: 150 },
    );
    expect(parseJson('[9007199254740993, 9007199254740991, -9223372036854775808, 1.0e2]')).toEqual([
      9007199254740993n,
      9007199254740991,
      -9223372036854775808n,
      100,
    ]);
    const proto = parseJsonByHand('{"__proto__": [1], "a": 2}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.keys(proto)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value).toEqual([1]);
    expect(parseJson('{"s": "\\u0000bigint:12345678901234567890"}')).toEqual({
      s: '\u0000bigint:12345678901234567890',
    });
  });

  it('round-trips Athena metadata without changing a snapshot id', () => {
    const raw = text('athena/example/metadata/00001-aaf0d033-d06b-43c7-be60-67f83abd4aca.metadata.json');
    const meta = parseMetadata(raw);
    expect(meta['current-snapshot-id']).toBe(6838723292707092922n);
    const again = parseMetadata(serializeMetadata(meta));
    expect(again['current-snapshot-id']).toBe(6838723292707092922n);
    expect(again.refs.main?.['snapshot-id']).toBe(6838723292707092922n);
    expect(serializeMetadata(meta)).toContain('"current-snapshot-id": 6838723292707092922');
  });
});

describe('reading tables of other engines', () => {
  it('reads the Athena table: manifest list, manifest, data file', async () => {
    const files = table('s3://hyperparam-iceberg/athena/example', 'athena/example');
    const meta = parseMetadata(
      text('athena/example/metadata/00001-aaf0d033-d06b-43c7-be60-67f83abd4aca.metadata.json'),
    );
    const snap = currentSnapshot(meta)!;
    const list = await readManifestList(await readLocation(files, snap['manifest-list']));
    expect(list).toHaveLength(1);
    expect(list[0]!.addedSnapshotId).toBe(6838723292707092922n);
    expect(list[0]!.addedFilesCount).toBe(1);
    const { entries } = await readManifest(list[0]!, await readLocation(files, list[0]!.manifestPath));
    expect(entries).toHaveLength(1);
    expect(entries[0]!.sequenceNumber).toBe(1);
    expect(entries[0]!.dataFile.stats.recordCount).toBe(2);
    expect(keyOf(files, entries[0]!.dataFile.filePath)).toMatch(
      /^athena\/example\/data\/sNoYhg\/.*\.parquet$/,
    );
  });

  it('reads the partitioned Spark table with its older manifest-list names', async () => {
    const files = table('s3a://hyperparam-iceberg/spark/bunnies', 'spark/bunnies');
    const meta = parseMetadata(text('spark/bunnies/metadata/v5.metadata.json'));
    const list = await readManifestList(await readLocation(files, currentSnapshot(meta)!['manifest-list']));
    expect(list.length).toBeGreaterThan(0);
    const data = list.filter((m) => m.content === 0);
    const total = data.reduce((a, m) => a + m.addedRowsCount + m.existingRowsCount, 0);
    expect(total).toBeGreaterThan(0);
    for (const m of data) {
      const { entries } = await readManifest(m, await readLocation(files, m.manifestPath));
      for (const e of entries) expect(e.sequenceNumber).toBeGreaterThan(0);
    }
  });
});

describe('Avro schemas match Iceberg Java', () => {
  it('manifest list: identical to the Java writer’s, field ids and all', async () => {
    const java = await readAvroFile(
      readFileSync(
        `${GOLDEN}/java/bunnies/metadata/snap-4951213507629824583-1-583a45a0-7389-4d71-9305-ac3a8725c38b.avro`,
      ),
    );
    expect(MANIFEST_LIST_SCHEMA).toEqual(withoutDoc(java.schema));
  });

  it('manifest: identical to Athena’s except the partition tuple, which follows the spec', async () => {
    const athena = await readAvroFile(
      readFileSync(`${GOLDEN}/athena/example/metadata/3d82674b-df1e-49b5-a7a9-05b61567065a-m0.avro`),
    );
    const ours = manifestAvroSchema(TELEMETRY_SPEC, telemetrySchema([])) as {
      fields: { type: { fields: { name: string; type: unknown }[] } }[];
    };
    const partition = ours.fields[4]!.type.fields[3]!;
    expect(partition.type).toEqual({
      type: 'record',
      name: 'r102',
      fields: [
        {
          name: 'device_timestamp_day',
          type: ['null', { type: 'int', logicalType: 'date' }],
          default: null,
          'field-id': 1000,
        },
        { name: 'product_id', type: ['null', 'string'], default: null, 'field-id': 1001 },
      ],
    });
    const strip = (s: unknown) =>
      JSON.parse(JSON.stringify(s).replace(/"r102","fields":\[.*?\]\}/, '"r102","fields":[]}'));
    expect(strip(ours)).toEqual(strip(withoutDoc(athena.schema)));
  });
});

describe('telemetry table', () => {
  it('partitions by day and product, with name=value paths', () => {
    const day = dayOf(Date.UTC(2024, 0, 1, 23, 59));
    expect(day).toBe(19723);
    expect(dayOf(-1)).toBe(-1);
    expect(partitionPath(TELEMETRY_SPEC, { device_timestamp_day: day, product_id: 'meter/v2' })).toBe(
      'device_timestamp_day=2024-01-01/product_id=meter%2Fv2',
    );
  });

  it('adds a metric column after last-column-id and keeps the others', () => {
    const v0 = telemetrySchema([{ name: 'temperature', type: 'double' }]);
    expect(evolvedTelemetrySchema(v0, 18, [{ name: 'temperature', type: 'double' }])).toBeUndefined();
    const v1 = evolvedTelemetrySchema(v0, 18, [
      { name: 'temperature', type: 'double' },
      { name: 'battery', type: 'int' },
    ])!;
    expect(v1['schema-id']).toBe(1);
    expect(v1.fields.slice(0, v0.fields.length)).toEqual(v0.fields);
    expect(v1.fields.at(-1)).toEqual({ id: 19, name: 'battery', required: false, type: 'int' });
    expect(() => evolvedTelemetrySchema(v0, 18, [{ name: 'temperature', type: 'string' }])).toThrow(
      /temperature/,
    );
  });
});
