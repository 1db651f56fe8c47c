/**
 * The Cold sink's commit policy and schema evolution (on an embedded PGlite catalog and a local
 * directory), and its manifests decoded by plain avsc with every field id in place.
 */
import avro from 'avsc';
import { parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { jdbcCatalog } from '../../../../sinks/cold/catalog/jdbcCatalog.ts';
import { coldSink, coldSinkConfigSchema } from '../../../../sinks/cold/coldSink.ts';
import { loadTable, type TableRef } from '../../../../sinks/cold/iceberg/commit.ts';
import { readManifest, readManifestList } from '../../../../sinks/cold/iceberg/manifest.ts';
import { currentSchema, currentSnapshot } from '../../../../sinks/cold/iceberg/metadata.ts';
import { readLocation } from '../../../../sinks/cold/iceberg/tableFiles.ts';
import { writeParquet } from '../../../../sinks/cold/parquet/writer.ts';
import { type Enriched, ManualClock, type Position, systemClock } from '../../../../topology/index.ts';
import { ancestry } from '../../../support/icebergReads.ts';
import { icebergScratch } from '../../../support/icebergScratch.ts';
import { waitFor } from '../../../support/wait.ts';

const T0 = Date.UTC(2026, 10, 20, 8);
const scratch = icebergScratch('iceberg-unit');
const filesAt = scratch.filesAt;

function rec(seq: number, metrics: Enriched['metrics']): Enriched {
  return {
    device_id: 'dev-1',
    device_timestamp: T0 + seq,
    productId: 'meter',
    metrics,
    ingest_timestamp: T0 + seq,
    site_id: null,
    customer_id: null,
    rawRef: { protocol: 'tcp', format: 'hex', stream: 's', shardId: 'shard-0', sequenceNumber: String(seq) },
  };
}

async function opened(name: string, clock: ManualClock, extra: object = {}) {
  const durable: Position[] = [];
  const abort = new AbortController();
  const config = coldSinkConfigSchema.parse({ table: name, writerId: 'w', targetRows: 1000, ...extra });
  const files = filesAt(name);
  const catalog = jdbcCatalog(scratch.sql, { catalogName: 'unit' });
  const sink = coldSink(config, { catalog, files, writeDataFile: writeParquet });
  await sink.open!({ node: 'cold', clock, signal: abort.signal, markDurable: (_, p) => durable.push(p) });
  const write = (batch: Enriched[]) =>
    sink.write(batch, {
      node: 'cold',
      shardId: 'shard-0',
      position: { sequenceNumber: batch.at(-1)!.rawRef.sequenceNumber, subSequenceNumber: 0 },
      clock,
    });
  const ref: TableRef = { id: { namespace: 'iot', name }, catalog, files, clock: systemClock };
  return { sink, durable, write, ref, close: () => abort.abort() };
}

describe('Cold sink commit policy', () => {
  it('commits on the interval, never an empty commit, and on the row target', async () => {
    const clock = new ManualClock(T0);
    const s = await opened('policy', clock);
    await s.write([rec(1, { temperature: 1 }), rec(2, { temperature: 2 })]);
    expect(s.durable).toEqual([]);
    await waitFor('the sink to park on the interval', () => clock.pending > 0);
    await clock.advance(300_000);
    await waitFor('the interval commit', () => s.durable.length === 1);
    expect(s.durable[0]!.sequenceNumber).toBe('2');

    await clock.advance(300_000);
    await clock.advance(300_000);
    expect(ancestry((await loadTable(s.ref))!.metadata)).toHaveLength(1);

    const big = Array.from({ length: 1000 }, (_, i) => rec(10 + i, { temperature: i }));
    await s.write(big);
    expect(s.durable.at(-1)!.sequenceNumber).toBe('1009');
    const meta = (await loadTable(s.ref))!.metadata;
    expect(ancestry(meta)).toHaveLength(2);
    expect(currentSnapshot(meta)!.summary['shardflow.checkpoints']).toBe('{"shard-0":"1009:0"}');
    s.close();
  });

  it('splits a partition into files of at most maxFileRows rows, every row once', async () => {
    const clock = new ManualClock(T0);
    const s = await opened('split', clock, { maxFileRows: 400, compression: 'snappy' });
    const rows = Array.from({ length: 1000 }, (_, i) => rec(1 + i, { temperature: i }));
    await s.write(rows);
    s.close();
    const meta = (await loadTable(s.ref))!.metadata;
    const files = filesAt('split');
    const list = await readManifestList(await readLocation(files, currentSnapshot(meta)!['manifest-list']));
    const { entries } = await readManifest(list[0]!, await readLocation(files, list[0]!.manifestPath));
    expect(entries.map((e) => e.dataFile.stats.recordCount).sort((a, b) => a - b)).toEqual([200, 400, 400]);
    const seen: bigint[] = [];
    for (const e of entries) {
      const bytes = await readLocation(files, e.dataFile.filePath);
      const read = await parquetReadObjects({
        file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      });
      for (const r of read) seen.push(BigInt(r.sequence_number as string));
    }
    expect(seen.sort((a, b) => (a < b ? -1 : 1))).toEqual(rows.map((r) => BigInt(r.rawRef.sequenceNumber)));
  });

  it('adds a configured metric column to the schema, after last-column-id', async () => {
    const clock = new ManualClock(T0);
    const first = await opened('evolve', clock);
    await first.write([rec(1, { temperature: 20.5, battery: 80 })]);
    await first.sink.flush!();
    first.close();
    // snappy: hyparquet reads it without a codec plug-in.
    const second = await opened('evolve', clock, {
      compression: 'snappy',
      metricColumns: [
        { name: 'battery', type: 'long' },
        { name: 'temperature', type: 'double' },
      ],
    });
    const meta = (await loadTable(second.ref))!.metadata;
    expect(meta['current-schema-id']).toBe(1);
    expect(meta.schemas).toHaveLength(2);
    expect(currentSchema(meta).fields.slice(-2)).toEqual([
      { id: 18, name: 'battery', required: false, type: 'long' },
      { id: 19, name: 'temperature', required: false, type: 'double' },
    ]);
    expect(meta['last-column-id']).toBe(19);
    await second.write([rec(2, { temperature: 21.5, battery: 79, mode: 'eco' })]);
    await second.sink.flush!();
    second.close();
    const after = (await loadTable(second.ref))!.metadata;
    expect(currentSnapshot(after)!['schema-id']).toBe(1);

    // The new file holds the typed columns; the metric without one stays in the map.
    const files = filesAt('evolve');
    const list = await readManifestList(await readLocation(files, currentSnapshot(after)!['manifest-list']));
    const { entries } = await readManifest(list[0]!, await readLocation(files, list[0]!.manifestPath));
    const bytes = await readLocation(files, entries[0]!.dataFile.filePath);
    const rows = await parquetReadObjects({
      file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.battery).toBe(79n);
    expect(rows[0]!.temperature).toBe(21.5);
    expect(rows[0]!.metrics).toEqual({ mode: 'eco' });
    expect(Buffer.from(entries[0]!.dataFile.stats.lowerBounds.get(19)!).readDoubleLE()).toBe(21.5);
  });
});

describe('manifests decoded by plain avsc', () => {
  it('every field, list element and map key/value carries its Iceberg id', async () => {
    const clock = new ManualClock(T0);
    const s = await opened('avsc', clock);
    await s.write([rec(1, { temperature: 1 }), rec(2, { temperature: 2 })]);
    await s.sink.flush!();
    s.close();
    const meta = (await loadTable(s.ref))!.metadata;
    const snap = currentSnapshot(meta)!;
    const files = filesAt('avsc');
    const listBytes = Buffer.from(await readLocation(files, snap['manifest-list']));
    const manifestPath = (await readManifestList(listBytes))[0]!.manifestPath;
    const manifestBytes = Buffer.from(await readLocation(files, manifestPath));

    // avsc's own decoder, with its documented bigint long: no shardflow code involved.
    const long = avro.types.LongType.__with({
      fromBuffer: (b: Buffer) => b.readBigInt64LE(),
      toBuffer: (n: bigint) => {
        const b = Buffer.alloc(8);
        b.writeBigInt64LE(n);
        return b;
      },
      fromJSON: BigInt,
      toJSON: Number,
      isValid: (n: unknown) => typeof n === 'bigint',
      compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
    });
    const decode = (bytes: Buffer) =>
      new Promise<{ schema: unknown; meta: Record<string, string>; rows: Record<string, unknown>[] }>(
        (resolve, reject) => {
          const rows: Record<string, unknown>[] = [];
          let schema: unknown;
          let meta: Record<string, string> = {};
          const d = new avro.streams.BlockDecoder({
            parseHook: (s: avro.Schema) => {
              schema = s;
              return avro.Type.forSchema(s, { registry: { long } });
            },
          });
          d.on('metadata', (_t: unknown, _c: unknown, h: { meta: Record<string, Buffer> }) => {
            meta = Object.fromEntries(Object.entries(h.meta).map(([k, v]) => [k, v.toString()]));
          });
          d.on('data', (r: Record<string, unknown>) => rows.push(r));
          d.on('error', reject);
          d.on('end', () => resolve({ schema, meta, rows }));
          d.end(bytes);
        },
      );

    const list = await decode(listBytes);
    expect(list.meta['snapshot-id']).toBe(String(snap['snapshot-id']));
    expect(list.meta['parent-snapshot-id']).toBe('null');
    expect(list.meta['format-version']).toBe('2');
    expect(list.rows[0]!.added_snapshot_id).toBe(snap['snapshot-id']);

    const manifest = await decode(manifestBytes);
    expect(Object.keys(manifest.meta).sort()).toEqual(
      [
        'avro.codec',
        'avro.schema',
        'content',
        'format-version',
        'partition-spec',
        'partition-spec-id',
        'schema',
        'schema-id',
      ].sort(),
    );
    const missing: string[] = [];
    const walk = (t: unknown, where: string): void => {
      if (Array.isArray(t)) {
        for (const u of t) walk(u, where);
        return;
      }
      if (typeof t !== 'object' || t === null) return;
      const node = t as Record<string, unknown>;
      if (node.type === 'record') {
        for (const f of node.fields as Record<string, unknown>[]) {
          if (typeof f['field-id'] !== 'number') missing.push(`${where}.${String(f.name)}`);
          walk(f.type, `${where}.${String(f.name)}`);
        }
      } else if (node.type === 'array') {
        const items = node.items as Record<string, unknown>;
        if (node.logicalType !== 'map' && typeof node['element-id'] !== 'number') missing.push(`${where}[]`);
        walk(items, `${where}[]`);
      }
    };
    walk(manifest.schema, 'manifest_entry');
    walk(list.schema, 'manifest_file');
    expect(missing).toEqual([]);
    const entry = manifest.rows[0] as {
      status: number;
      sequence_number: unknown;
      data_file: Record<string, unknown>;
    };
    expect(entry.status).toBe(1);
    expect(entry.sequence_number).toBeNull();
    expect({ ...(entry.data_file.partition as object) }).toEqual({
      device_timestamp_day: Math.floor(T0 / 86_400_000),
      product_id: 'meter',
    });
    expect(entry.data_file.record_count).toBe(2n);
    const lower = new Map(
      (entry.data_file.lower_bounds as { key: number; value: Buffer }[]).map((e) => [e.key, e.value]),
    );
    expect(lower.get(2)!.readBigInt64LE()).toBe(BigInt(T0 + 1) * 1000n);
    expect(lower.get(1)!.toString()).toBe('dev-1');
  });
});
