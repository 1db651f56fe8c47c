/**
 * Parquet writers for the Cold layer, compared on the same telemetry-like rows: shardflow's writer
 * (`sinks/cold/parquet/writer.ts`: records collected by `columnBuffer.ts`, Arrow buffers built
 * directly, written by parquet-wasm) with zstd and with snappy, hyparquet-writer (snappy: it has no zstd compressor of its own and Node 20 has none) and
 * parquetjs-lite (snappy; the baseline), and the Cold sink's own path on the full telemetry schema
 * (`shardflow-telemetry`: Enriched records → `telemetryColumns` → `writeParquet`, zstd; the records are
 * built before the timed part). Each timed run starts from row objects (the Enriched shape
 * with a metrics object) and ends with the file's bytes on local disk, so the conversion to each
 * library's input is measured too. parquetjs-lite is slow, so it writes fewer rows and its rate is
 * reported per row like the others. Every run is a child process of its own so that its peak RSS is
 * its own; writers alternate, median of the runs. In each child the same rows are written `--files`
 * times: the first file is the headline (a fresh process: JIT and WebAssembly tiers still cold), the
 * median of the later ones is what a long-running sink sees for every file after its first. Besides
 * wall time, each file's process CPU time is taken (rows per CPU-second), which a loaded machine
 * disturbs less. After the runs each writer's file footer is read back with hyparquet: field ids on
 * every schema element, TIMESTAMP(MICROS, UTC), STRING.
 *
 *   npx tsx bench/parquetWriters.ts [--rows N] [--baseline-rows N] [--runs N] [--files N] [--row-group N]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parquetMetadata } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { coldFields, telemetrySchema } from '../sinks/cold/iceberg/telemetryTable.ts';
import type { ColdField } from '../sinks/cold/parquet/types.ts';
import { writeParquet } from '../sinks/cold/parquet/writer.ts';
import type { Enriched } from '../topology/index.ts';
import { ColumnBuffer } from './columnBuffer.ts';
import { count, writeLatestFigures } from './results.ts';
import { telemetryColumns } from './telemetryColumns.ts';

/** The part of parquetjs-lite's API used here (the package ships no types). */
interface ParquetjsLite {
  ParquetSchema: new (fields: Record<string, object>) => object;
  ParquetWriter: {
    openFile(
      schema: object,
      path: string,
      opts: object,
    ): Promise<{ appendRow(row: object): Promise<void>; close(): Promise<void> }>;
  };
}
const parquetjs = createRequire(import.meta.url)('parquetjs-lite') as ParquetjsLite;

const { values } = parseArgs({
  options: {
    results: { type: 'boolean', default: false },
    rows: { type: 'string', default: '1000000' },
    'baseline-rows': { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    files: { type: 'string', default: '3' },
    'row-group': { type: 'string', default: '1000000' },
    child: { type: 'string' },
    out: { type: 'string' },
  },
});
const ROW_GROUP = Number(values['row-group']);
const METRICS = ['temperature', 'humidity', 'pressure', 'voltage', 'current', 'power', 'energy', 'rssi'];
const T0 = Date.UTC(2026, 10, 1);

interface Row {
  readonly device_id: string;
  readonly device_timestamp: number;
  readonly productId: string;
  readonly site_id: string | null;
  readonly customer_id: string | null;
  readonly metrics: Readonly<Record<string, number | null>>;
}

/** Deterministic telemetry: 10,000 devices of 20 products, a reading every few seconds, some nulls. */
function makeRows(n: number): Row[] {
  const rows: Row[] = new Array(n);
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (let i = 0; i < n; i++) {
    const device = i % 10_000;
    const metrics: Record<string, number | null> = {};
    for (const [k, name] of METRICS.entries()) {
      metrics[name] = rand() < 0.01 ? null : Math.round((k + 1) * 10 * rand() * 1000) / 1000;
    }
    rows[i] = {
      device_id: `dev-${String(device).padStart(6, '0')}`,
      device_timestamp: T0 + i * 250 + Math.floor(rand() * 1000),
      productId: `prod-${device % 20}`,
      site_id: device % 97 === 0 ? null : `site-${device % 500}`,
      customer_id: device % 97 === 0 ? null : `cust-${device % 50}`,
      metrics,
    };
  }
  return rows;
}

const FIELDS: readonly ColdField[] = [
  { id: 1, name: 'device_id', type: 'string', required: true },
  { id: 2, name: 'device_timestamp', type: 'timestamptz', required: true },
  { id: 3, name: 'productId', type: 'string', required: true },
  { id: 4, name: 'site_id', type: 'string', required: false },
  { id: 5, name: 'customer_id', type: 'string', required: false },
  ...METRICS.map((name, k): ColdField => ({ id: 6 + k, name, type: 'double', required: false })),
];

type WriterName =
  | 'shardflow-zstd'
  | 'shardflow-snappy'
  | 'shardflow-telemetry'
  | 'hyparquet-writer'
  | 'parquetjs-lite';

/** The Cold table's schema in the bench: six metrics in typed columns, the other two in the map. */
const TELEMETRY_SCHEMA = telemetrySchema(METRICS.slice(0, 6).map((name) => ({ name, type: 'double' })));

/** The same rows as the Cold sink receives them (outside the timed part). */
function enriched(rows: readonly Row[]): Enriched[] {
  return rows.map((r, i) => ({
    device_id: r.device_id,
    device_timestamp: r.device_timestamp,
    productId: r.productId,
    metrics: r.metrics,
    ingest_timestamp: r.device_timestamp + 400,
    site_id: r.site_id,
    customer_id: r.customer_id,
    rawRef: {
      protocol: 'mqtt',
      format: 'json',
      stream: 'telemetry',
      shardId: `shardId-00000000000${i % 4}`,
      sequenceNumber: String(49_600_000_000_000_000_000n + BigInt(i)),
    },
  }));
}

/** The Cold sink's own path: Enriched records → `telemetryColumns` → `writeParquet` (zstd). */
function shardflowTelemetry(records: readonly Enriched[]): Uint8Array {
  return writeParquet(coldFields(TELEMETRY_SCHEMA), telemetryColumns(records, TELEMETRY_SCHEMA), {
    compression: 'zstd',
    rowGroupRows: ROW_GROUP,
  }).bytes;
}

function shardflow(rows: readonly Row[], compression: 'zstd' | 'snappy'): Uint8Array {
  const buffer = new ColumnBuffer(FIELDS, rows.length + 1);
  const [ids, ts, products, sites, customers, ...metrics] = FIELDS.map((f) => buffer.column(f.id));
  for (const r of rows) {
    ids!.set(r.device_id);
    ts!.set(r.device_timestamp);
    products!.set(r.productId);
    sites!.set(r.site_id);
    customers!.set(r.customer_id);
    for (let k = 0; k < METRICS.length; k++) metrics[k]!.set(r.metrics[METRICS[k]!]);
    buffer.endRow();
  }
  return writeParquet(FIELDS, buffer.rows(), { compression, rowGroupRows: ROW_GROUP }).bytes;
}

function hyparquet(rows: readonly Row[]): Uint8Array {
  const str = (id: number, name: string, required: boolean) => ({
    name,
    type: 'BYTE_ARRAY' as const,
    converted_type: 'UTF8' as const,
    logical_type: { type: 'STRING' as const },
    repetition_type: required ? ('REQUIRED' as const) : ('OPTIONAL' as const),
    field_id: id,
  });
  const schema = [
    { name: 'table', num_children: FIELDS.length },
    str(1, 'device_id', true),
    {
      name: 'device_timestamp',
      type: 'INT64' as const,
      converted_type: 'TIMESTAMP_MICROS' as const,
      logical_type: { type: 'TIMESTAMP' as const, isAdjustedToUTC: true, unit: 'MICROS' as const },
      repetition_type: 'REQUIRED' as const,
      field_id: 2,
    },
    str(3, 'productId', true),
    str(4, 'site_id', false),
    str(5, 'customer_id', false),
    ...METRICS.map((name, k) => ({
      name,
      type: 'DOUBLE' as const,
      repetition_type: 'OPTIONAL' as const,
      field_id: 6 + k,
    })),
  ];
  const pick = (f: (r: Row) => unknown) => rows.map(f);
  const columnData = [
    { name: 'device_id', data: pick((r) => r.device_id) },
    { name: 'device_timestamp', data: pick((r) => r.device_timestamp * 1000) },
    { name: 'productId', data: pick((r) => r.productId) },
    { name: 'site_id', data: pick((r) => r.site_id) },
    { name: 'customer_id', data: pick((r) => r.customer_id) },
    ...METRICS.map((m) => ({ name: m, data: pick((r) => r.metrics[m]) })),
  ];
  const out = parquetWriteBuffer({ columnData, schema, codec: 'SNAPPY', rowGroupSize: ROW_GROUP } as never);
  return new Uint8Array(out as ArrayBuffer);
}

async function parquetjsLite(rows: readonly Row[], path: string): Promise<Uint8Array> {
  const opt = { compression: 'SNAPPY' };
  const schema = new parquetjs.ParquetSchema({
    device_id: { type: 'UTF8', ...opt },
    device_timestamp: { type: 'TIMESTAMP_MICROS', ...opt },
    productId: { type: 'UTF8', ...opt },
    site_id: { type: 'UTF8', optional: true, ...opt },
    customer_id: { type: 'UTF8', optional: true, ...opt },
    ...Object.fromEntries(METRICS.map((m) => [m, { type: 'DOUBLE', optional: true, ...opt }])),
  });
  const writer = await parquetjs.ParquetWriter.openFile(schema, path, { rowGroupSize: ROW_GROUP });
  for (const r of rows) {
    const row: Record<string, unknown> = {
      device_id: r.device_id,
      device_timestamp: r.device_timestamp * 1000,
      productId: r.productId,
    };
    if (r.site_id !== null) row.site_id = r.site_id;
    if (r.customer_id !== null) row.customer_id = r.customer_id;
    for (const m of METRICS) if (r.metrics[m] !== null) row[m] = r.metrics[m];
    await writer.appendRow(row);
  }
  await writer.close();
  return readFileSync(path);
}

interface ChildResult {
  readonly writer: WriterName;
  readonly rows: number;
  /** Wall and CPU seconds of each file written, in order. */
  readonly seconds: number[];
  readonly cpuSeconds: number[];
  readonly bytes: number;
  readonly peakRssMiB: number;
  readonly footer: FooterCheck;
}

interface FooterCheck {
  readonly fieldIds: boolean;
  readonly timestampMicrosUtc: boolean;
  readonly stringAnnotation: boolean;
  readonly codec: string;
}

function checkFooter(bytes: Uint8Array): FooterCheck {
  const meta = parquetMetadata(bytes);
  const elements = meta.schema.slice(1);
  const ts = elements.find((e) => e.name === 'device_timestamp');
  const ids = elements.filter((e) => e.type === 'BYTE_ARRAY');
  return {
    // A map's repeated key/value group is the one element Iceberg does not number.
    fieldIds: elements.every(
      (e) => typeof e.field_id === 'number' || (e.repetition_type === 'REPEATED' && e.num_children),
    ),
    timestampMicrosUtc:
      ts?.logical_type?.type === 'TIMESTAMP' &&
      ts.logical_type.unit === 'MICROS' &&
      ts.logical_type.isAdjustedToUTC,
    stringAnnotation: ids.length > 0 && ids.every((e) => e.logical_type?.type === 'STRING'),
    codec: meta.row_groups[0]?.columns[0]?.meta_data?.codec ?? '?',
  };
}

async function runChild(writer: WriterName, n: number, files: number, out: string): Promise<void> {
  const rows = makeRows(n);
  const records = writer === 'shardflow-telemetry' ? enriched(rows) : [];
  const dir = mkdtempSync(join(tmpdir(), 'parquet-bench-'));
  try {
    const seconds: number[] = [];
    const cpuSeconds: number[] = [];
    let bytes: Uint8Array = new Uint8Array();
    for (let file = 0; file < files; file++) {
      const path = join(dir, `data-${file}.parquet`);
      const cpu = process.cpuUsage();
      const start = process.hrtime.bigint();
      if (writer === 'parquetjs-lite') bytes = await parquetjsLite(rows, path);
      else {
        bytes =
          writer === 'hyparquet-writer'
            ? hyparquet(rows)
            : writer === 'shardflow-telemetry'
              ? shardflowTelemetry(records)
              : shardflow(rows, writer === 'shardflow-zstd' ? 'zstd' : 'snappy');
        writeFileSync(path, bytes);
      }
      seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
      const used = process.cpuUsage(cpu);
      cpuSeconds.push((used.user + used.system) / 1e6);
    }
    const result: ChildResult = {
      writer,
      rows: n,
      seconds,
      cpuSeconds,
      bytes: bytes.byteLength,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      footer: checkFooter(bytes),
    };
    writeFileSync(out, JSON.stringify(result));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (values.child) {
    await runChild(values.child as WriterName, Number(values.rows), Number(values.files), values.out!);
    return;
  }
  const rows = Number(values.rows);
  const baselineRows = Number(values['baseline-rows']);
  const runs = Number(values.runs);
  const files = Math.max(1, Number(values.files));
  const writers: WriterName[] = [
    'parquetjs-lite',
    'shardflow-zstd',
    'shardflow-snappy',
    'shardflow-telemetry',
    'hyparquet-writer',
  ];
  const results = new Map<WriterName, ChildResult[]>(writers.map((w) => [w, []]));
  const self = fileURLToPath(import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'parquet-bench-out-'));
  try {
    for (let run = 0; run < runs; run++) {
      for (const writer of writers) {
        const out = join(dir, `${writer}-${run}.json`);
        const n = writer === 'parquetjs-lite' ? baselineRows : rows;
        execFileSync(
          process.execPath,
          [
            ...process.execArgv,
            self,
            '--child',
            writer,
            '--rows',
            String(n),
            '--out',
            out,
            '--row-group',
            String(ROW_GROUP),
            '--files',
            String(files),
          ],
          { stdio: 'inherit' },
        );
        const r = JSON.parse(readFileSync(out, 'utf8')) as ChildResult;
        results.get(writer)!.push(r);
        console.error(
          `run ${run + 1} ${writer}: ${r.seconds.map((s) => Math.round(r.rows / s)).join(' → ')} rows/s, ${r.peakRssMiB} MiB`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const first = (r: ChildResult) => r.rows / r.seconds[0]!;
  const firstCpu = (r: ChildResult) => r.rows / r.cpuSeconds[0]!;
  const later = (r: ChildResult) => (r.seconds.length > 1 ? r.rows / median(r.seconds.slice(1)) : Number.NaN);
  const laterCpu = (r: ChildResult) =>
    r.cpuSeconds.length > 1 ? r.rows / median(r.cpuSeconds.slice(1)) : Number.NaN;
  const rate = (w: WriterName, f: (r: ChildResult) => number) => median(results.get(w)!.map(f));
  const base = rate('parquetjs-lite', first);
  const baseLater = rate('parquetjs-lite', later);
  const fmt = (x: number) => (Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en'));
  console.log(
    `${cpus().length} cores (${cpus()[0]?.model}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log(
    `${rows} rows (parquetjs-lite ${baselineRows}), row group ${ROW_GROUP}, ${files} files per process, median of ${runs} runs\n`,
  );
  const table = [
    '| writer | codec | rows | first file rows/s | runs (rows/s) | rows/CPU-s | ratio to parquetjs-lite | later files rows/s | rows/CPU-s | ratio | file MiB | peak RSS MiB | field ids | TIMESTAMP(MICROS,UTC) | STRING |',
    '|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|',
  ];
  for (const w of writers) {
    const rs = results.get(w)!;
    const last = rs[rs.length - 1]!;
    const yes = (b: boolean) => (b ? 'yes' : 'no');
    table.push(
      `| ${w} | ${last.footer.codec} | ${last.rows.toLocaleString('en')} | ${fmt(rate(w, first))} | ${rs.map((r) => fmt(first(r))).join(' · ')} | ${fmt(rate(w, firstCpu))} | ${(rate(w, first) / base).toFixed(1)} | ${fmt(rate(w, later))} | ${fmt(rate(w, laterCpu))} | ${(rate(w, later) / baseLater).toFixed(1)} | ${(last.bytes / 2 ** 20).toFixed(1)} | ${median(rs.map((r) => r.peakRssMiB))} | ${yes(last.footer.fieldIds)} | ${yes(last.footer.timestampMicrosUtc)} | ${yes(last.footer.stringAnnotation)} |`,
    );
  }
  for (const line of table) console.log(line);
  if (values.results) {
    const best = rate('shardflow-zstd', later);
    writeLatestFigures({
      name: 'parquet',
      heading: '## Parquet writers (`npm run bench:parquet`)',
      command: `npm run bench:parquet -- --rows ${rows} --baseline-rows ${baselineRows} --runs ${runs} --files ${files} --results`,
      lines: [
        `${count(rows)} rows (parquetjs-lite ${count(baselineRows)}), row group ${count(ROW_GROUP)}, ${files} files per process, median of ${runs} runs; ratios to parquetjs-lite, the baseline.`,
        '',
        ...table,
        '',
        `Goals: shardflow zstd ≥ 10× parquetjs-lite (${(rate('shardflow-zstd', first) / base).toFixed(1)}×: ${rate('shardflow-zstd', first) / base >= 10 ? 'met' : 'not met'}); 500,000 rows/s (later files ${count(best)}: ${best >= 500_000 ? 'met' : 'not met'}).`,
      ],
    });
  }
}

await main();
