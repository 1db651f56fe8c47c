/**
 * What the Cold sink's buffer costs the worker's event loop: a minute of telemetry (400,000 records
 * at the target's 6,500 telemetry/s) taken in 500-record batches, then committed: grouped by
 * partition and cut into data files of at most 100,000 rows, each serialized as `postMessage`
 * serializes it for the encoding thread (`v8.serialize`, the same structured clone). Encoding itself
 * runs on the thread and is not measured here (`bench:parquet` does).
 *
 *   columns   the sink's buffer: `PartitionedTelemetry`, filled as batches come
 *   rows      the baseline, the sink's buffer before it: the records themselves kept in an array,
 *             turned into plain per-row column arrays (one object per row for the metrics map,
 *             each value as text) when the commit starts
 *
 * Records are generated batch by batch, so what the buffer does not keep is young garbage, as in a
 * worker. Per run: main-thread ms while buffering and for the commit, garbage collection pauses
 * (`gc` performance entries), the heap the buffer holds (after a forced collection), and the bytes
 * sent to the thread. Every run is a child process of its own; the two alternate; median of `--runs`.
 *
 *   npx tsx bench/coldBuffer.ts [--runs N] [--records N]
 */
import { execFileSync } from 'node:child_process';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serialize } from 'node:v8';
import { dayOf } from '../sinks/cold/iceberg/partition.ts';
import { PartitionedTelemetry } from '../sinks/cold/iceberg/telemetryBuffer.ts';
import { telemetrySchema } from '../sinks/cold/iceberg/telemetryTable.ts';
import type { ColumnarRows, ColumnValues } from '../sinks/cold/parquet/types.ts';
import type { Enriched } from '../topology/index.ts';
import { writeLatestFigures } from './results.ts';
import { WORKLOAD_PRODUCTS } from './workloads/payloads.ts';

const { values } = parseArgs({
  options: {
    results: { type: 'boolean', default: false },
    runs: { type: 'string', default: '5' },
    records: { type: 'string', default: '400000' },
    child: { type: 'string' },
  },
});
const RECORDS = Number(values.records);
const BATCH = 500;
const MAX_FILE_ROWS = 100_000;
const PRODUCTS = WORKLOAD_PRODUCTS;
const METRICS = ['temperature', 'humidity', 'voltage', 'rssi', 'battery'];
const T0 = Date.UTC(2026, 10, 22, 9);
/** The bench's table: every metric in the map, as the harness's worker configures it. */
const SCHEMA = telemetrySchema([]);

type Approach = 'columns' | 'rows';

/** Batch `b` of deterministic telemetry: 100,000 devices, 8 products, 3–5 numeric metrics each. */
function batch(b: number): Enriched[] {
  const out: Enriched[] = new Array(BATCH);
  for (let k = 0; k < BATCH; k++) {
    const i = b * BATCH + k;
    const device = (i * 7919) % 100_000;
    const metrics: Record<string, number> = {};
    for (let m = 0; m < 3 + (device % 3); m++)
      metrics[METRICS[m]!] = Math.round(((i * 31 + m) % 1000) * 1.7) / 10;
    // KPL aggregates: 200 user records per Kinesis record
    const kinesisRecord = Math.floor(i / 200);
    out[k] = {
      device_id: `dev-${String(device).padStart(6, '0')}`,
      device_timestamp: T0 + i * 0.15 + (i % 20 === 0 ? -3_600_000 : 0),
      productId: PRODUCTS[device % PRODUCTS.length]!,
      metrics,
      ingest_timestamp: T0 + i * 0.15 + 300,
      site_id: `site-${device % 5_000}`,
      customer_id: `cust-${device % 1_000}`,
      rawRef: {
        protocol: 'mqtt',
        format: 'json',
        stream: 'telemetry',
        shardId: `shardId-00000000000${kinesisRecord % 4}`,
        sequenceNumber: String(49_600_000_000_000_000_000n + BigInt(kinesisRecord)),
        subSequenceNumber: i % 200,
        specId: PRODUCTS[device % PRODUCTS.length]!,
        specVersion: 1,
      },
    };
  }
  return out;
}

/** The baseline's columns: one plain array per column, the metrics map as an object per row. */
function rowColumns(records: readonly Enriched[]): ColumnarRows {
  const n = records.length;
  const strings = (f: (r: Enriched) => string | null | undefined) => records.map((r) => f(r) ?? null);
  const rest = new Array<Record<string, string> | null>(n);
  for (let i = 0; i < n; i++) {
    let other: Record<string, string> | null = null;
    const metrics = records[i]!.metrics;
    for (const name in metrics) {
      const v = metrics[name];
      if (v === null || v === undefined) continue;
      other ??= {};
      other[name] = String(v);
    }
    rest[i] = other;
  }
  const columns = new Map<number, ColumnValues>([
    [1, strings((r) => r.device_id)],
    [2, { values: Float64Array.from(records, (r) => r.device_timestamp) }],
    [3, strings((r) => r.productId)],
    [4, strings((r) => r.hub_id)],
    [5, strings((r) => r.childDeviceId)],
    [6, strings((r) => r.site_id)],
    [7, strings((r) => r.customer_id)],
    [8, { values: Float64Array.from(records, (r) => r.ingest_timestamp) }],
    [9, strings((r) => r.rawRef.stream)],
    [10, strings((r) => r.rawRef.shardId)],
    [11, strings((r) => r.rawRef.sequenceNumber)],
    [12, { values: Int32Array.from(records, (r) => r.rawRef.subSequenceNumber ?? 0) }],
    [13, strings((r) => r.rawRef.specId)],
    [14, records.map((r) => r.rawRef.specVersion ?? null)],
    [15, rest],
  ]);
  return { length: n, columns };
}

interface RunResult {
  approach: Approach;
  bufferMs: number;
  commitMs: number;
  gcMs: number;
  gcMaxMs: number;
  heldMiB: number;
  sentMiB: number;
  files: number;
}

/** The JavaScript heap and the typed arrays' backing stores (outside the heap) after a full collection. */
function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return (heapUsed + arrayBuffers) / 2 ** 20;
}

// gc entries are delivered on a later turn of the event loop, as a worker's batches are
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function runChild(approach: Approach): Promise<RunResult> {
  const gcs: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push(e.duration);
  });
  observer.observe({ entryTypes: ['gc'] });
  const before = heapMiB();
  const batches = Math.ceil(RECORDS / BATCH);
  const rows: Enriched[] = [];
  const buffer = new PartitionedTelemetry(SCHEMA);
  let bufferMs = 0;
  for (let b = 0; b < batches; b++) {
    const records = batch(b);
    const t = performance.now();
    if (approach === 'rows') for (const r of records) rows.push(r);
    else for (const r of records) buffer.append(r);
    bufferMs += performance.now() - t;
    await turn();
  }
  const heldMiB = heapMiB() - before;
  await turn();
  const gcBefore = gcs.length;
  let sent = 0;
  let files = 0;
  const t = performance.now();
  if (approach === 'rows') {
    const groups = new Map<string, Enriched[]>();
    for (const r of rows) {
      const key = `${dayOf(r.device_timestamp)}\u0000${r.productId}`;
      const g = groups.get(key);
      if (g) g.push(r);
      else groups.set(key, [r]);
    }
    for (const group of groups.values())
      for (let from = 0; from < group.length; from += MAX_FILE_ROWS) {
        sent += serialize(rowColumns(group.slice(from, from + MAX_FILE_ROWS))).byteLength;
        files++;
      }
  } else {
    for (const { rows } of buffer.partitions())
      for (let from = 0; from < rows.length; from += MAX_FILE_ROWS) {
        sent += serialize(rows.columns(from, Math.min(rows.length, from + MAX_FILE_ROWS))).byteLength;
        files++;
      }
  }
  const commitMs = performance.now() - t;
  await turn();
  observer.disconnect();
  // the forced collections of heapMiB are not the workload's
  const workload = gcs.filter((_, i) => i < gcBefore - 1 || i >= gcBefore);
  return {
    approach,
    bufferMs,
    commitMs,
    gcMs: workload.reduce((a, b) => a + b, 0),
    gcMaxMs: Math.max(0, ...workload),
    heldMiB,
    sentMiB: sent / 2 ** 20,
    files,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function main(): void {
  const runs = Number(values.runs);
  const results: RunResult[] = [];
  for (let r = 0; r < runs; r++) {
    for (const approach of ['columns', 'rows'] as const) {
      const out = execFileSync(
        process.execPath,
        [
          ...process.execArgv,
          '--expose-gc',
          fileURLToPath(import.meta.url),
          '--child',
          approach,
          '--records',
          String(RECORDS),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      );
      results.push(JSON.parse(out.trim().split('\n').at(-1)!) as RunResult);
      process.stderr.write('.');
    }
  }
  process.stderr.write('\n');
  const columns: (keyof RunResult)[] = [
    'bufferMs',
    'commitMs',
    'gcMs',
    'gcMaxMs',
    'heldMiB',
    'sentMiB',
    'files',
  ];
  const figure = (approach: Approach, key: keyof RunResult) =>
    median(results.filter((x) => x.approach === approach).map((x) => x[key] as number));
  const header = `${RECORDS.toLocaleString('en-US')} records, ${runs} runs each, median; node ${process.version}`;
  const table = [
    `| | ${columns.join(' | ')} | event loop ms (buffer + commit + GC) |`,
    `|---|${columns.map(() => '---:').join('|')}|---:|`,
  ];
  const total = (a: Approach) => figure(a, 'bufferMs') + figure(a, 'commitMs') + figure(a, 'gcMs');
  for (const approach of ['columns', 'rows'] as const) {
    const label = approach === 'rows' ? 'baseline: records kept, columns at commit' : 'TelemetryBuffer';
    table.push(
      `| ${label} | ${columns.map((k) => figure(approach, k).toFixed(k === 'files' ? 0 : 1)).join(' | ')} | ${total(approach).toFixed(0)} |`,
    );
  }
  const ratios = `ratio TelemetryBuffer / baseline: commit ${(figure('columns', 'commitMs') / figure('rows', 'commitMs')).toFixed(2)}, event loop ${(total('columns') / total('rows')).toFixed(2)}, held heap ${(figure('columns', 'heldMiB') / figure('rows', 'heldMiB')).toFixed(2)}`;
  console.log([header, ...table, ratios].join('\n'));
  if (values.results) {
    writeLatestFigures({
      name: 'cold-buffer',
      heading: '## Cold buffer (`npm run bench:cold-buffer`)',
      command: `npm run bench:cold-buffer -- --runs ${runs} --records ${RECORDS} --results`,
      lines: [`${header}.`, '', ...table, '', `${ratios}.`],
    });
  }
}

if (values.child) console.log(JSON.stringify(await runChild(values.child as Approach)));
else main();
