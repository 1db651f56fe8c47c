/**
 * Joined telemetry written to the PostgreSQL Hot store: rows/s through the store's batch path
 * (`writeTelemetry`: one `INSERT … SELECT FROM jsonb_to_recordset($1) ON CONFLICT` per chunk, plus the
 * latest-state upsert the sink also does) against one INSERT per record (the same upsert, telemetry
 * only) as the baseline, both on one connection, alternating in the same run. Starts a throwaway
 * PostgreSQL cluster unless `--url` is given.
 *
 *   npx tsx bench/warmWrites.ts [--records N] [--baseline-records N] [--batch N] [--runs N] [--url URL]
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startPostgres } from '../infra/local/postgres.ts';
import { utcDayStart } from '../sinks/hot/hotStore.ts';
import { postgresHotStore } from '../sinks/hot/postgresHotStore.ts';
import { pgSqlClient } from '../sinks/postgres/sql.ts';
import type { Enriched } from '../topology/index.ts';
import { count, writeLatestFigures } from './results.ts';

const { values } = parseArgs({
  options: {
    results: { type: 'boolean', default: false },
    records: { type: 'string', default: '100000' },
    'baseline-records': { type: 'string', default: '10000' },
    batch: { type: 'string', default: '5000' },
    runs: { type: 'string', default: '3' },
    url: { type: 'string' },
  },
});
const RECORDS = Number(values.records);
const BASELINE_RECORDS = Number(values['baseline-records']);
const BATCH = Number(values.batch);
const RUNS = Number(values.runs);
const DEVICES = 1000;
const NOW = utcDayStart(Date.now()) + 12 * 3_600_000;

function records(count: number, offset: number): Enriched[] {
  const out: Enriched[] = [];
  for (let i = 0; i < count; i++) {
    const n = offset + i;
    const device = `device-${String(n % DEVICES).padStart(5, '0')}`;
    out.push({
      device_id: device,
      device_timestamp: NOW - 3_600_000 + Math.floor(n / DEVICES) * 1000,
      productId: `product-${n % 7}`,
      metrics: {
        temperature: 20 + (n % 50) / 10,
        humidity: 40 + (n % 30),
        pressure: 1013.25,
        battery: 3.7,
        rssi: -70 - (n % 20),
        door: n % 2 === 0,
        status: 'ok',
        counter: n,
      },
      ingest_timestamp: NOW,
      rawRef: {
        protocol: 'mqtt',
        topic: `devices/${device}/telemetry`,
        format: 'json',
        stream: 'telemetry',
        shardId: `shardId-00000000000${n % 4}`,
        sequenceNumber: String(49_600_000_000_000_000_000n + BigInt(n)),
        subSequenceNumber: 0,
        specId: 'env-h1',
        specVersion: 1,
      },
      site_id: `site-${n % 100}`,
      customer_id: `customer-${n % 20}`,
    });
  }
  return out;
}

const ONE_ROW = `INSERT INTO hot_telemetry (device_id, device_timestamp, stream, shard_id, sequence_number,
    sub_sequence_number, product_id, site_id, customer_id, hub_id, hub_timestamp, child_device_id, ingest_timestamp,
    metrics, raw_ref)
  VALUES ($1, to_timestamp($2::float8 / 1000), $3, $4, $5, $6, $7, $8, $9, $10, to_timestamp($11::float8 / 1000), $12,
    to_timestamp($13::float8 / 1000), $14::jsonb, $15::jsonb)
  ON CONFLICT (device_id, device_timestamp, stream, shard_id, sequence_number, sub_sequence_number) DO UPDATE SET
    metrics = EXCLUDED.metrics, raw_ref = EXCLUDED.raw_ref`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const server = values.url === undefined ? await startPostgres() : undefined;
  const url = values.url ?? server!.url;
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const client = pgSqlClient(pool);
  const store = postgresHotStore({ write: client, read: client }, { retentionDays: 10 });
  await store.prepare();
  const data = records(RECORDS, 0);
  const baselineData = records(BASELINE_RECORDS, 0);
  const reset = () => client.query('TRUNCATE hot_telemetry, hot_device_state');

  const batched: number[] = [];
  const single: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await reset();
    let started = performance.now();
    for (let i = 0; i < data.length; i += BATCH) await store.writeTelemetry(data.slice(i, i + BATCH), NOW);
    batched.push(data.length / ((performance.now() - started) / 1000));

    await reset();
    started = performance.now();
    for (const e of baselineData) {
      await pool.query(ONE_ROW, [
        e.device_id,
        e.device_timestamp,
        e.rawRef.stream,
        e.rawRef.shardId,
        e.rawRef.sequenceNumber,
        e.rawRef.subSequenceNumber ?? 0,
        e.productId,
        e.site_id,
        e.customer_id,
        null,
        null,
        null,
        e.ingest_timestamp,
        JSON.stringify(e.metrics),
        JSON.stringify(e.rawRef),
      ]);
    }
    single.push(baselineData.length / ((performance.now() - started) / 1000));
    console.log(
      `run ${run + 1}: batch path ${Math.round(batched.at(-1)!)} rows/s, one INSERT per record ${Math.round(single.at(-1)!)} rows/s`,
    );
  }
  const b = median(batched);
  const s = median(single);
  console.log(
    `\nHot store (PostgreSQL) joined telemetry, ${RECORDS} rows in batches of ${BATCH} (baseline ${BASELINE_RECORDS} rows), one connection, ${cpus().length} cores (load average ${loadavg()[0]!.toFixed(1)}), median of ${RUNS}:`,
  );
  console.log(`| path | rows/s |\n|---|---:|`);
  console.log(
    `| multi-row upsert via jsonb_to_recordset (telemetry + latest state) | ${Math.round(b).toLocaleString('en-US')} |`,
  );
  console.log(`| one INSERT per record (telemetry only) | ${Math.round(s).toLocaleString('en-US')} |`);
  console.log(`ratio: ${(b / s).toFixed(1)}x; goal 50,000 rows/s: ${b >= 50_000 ? 'met' : 'not met'}`);
  if (values.results) {
    writeLatestFigures({
      name: 'warm',
      heading: '## Hot and Warm writes (`npx tsx bench/warmWrites.ts`)',
      command: `npm run bench:warm -- --records ${RECORDS} --baseline-records ${BASELINE_RECORDS} --batch ${BATCH} --runs ${RUNS} --results`,
      lines: [
        `Joined telemetry into the PostgreSQL Hot store, ${count(RECORDS)} rows in batches of ${count(BATCH)} (baseline ${count(BASELINE_RECORDS)} rows), one connection, median of ${RUNS}.`,
        '',
        '| path | rows/s |',
        '|---|---:|',
        `| multi-row upsert via jsonb_to_recordset (telemetry + latest state) | ${count(b)} |`,
        `| baseline: one INSERT per record (telemetry only) | ${count(s)} |`,
        `| **ratio** | **${(b / s).toFixed(1)}** |`,
        '',
        `Goal 50,000 rows/s: ${b >= 50_000 ? 'met' : 'not met'} (${(b / 50_000).toFixed(2)} of it).`,
      ],
    });
  }
  await client.close();
  await server?.stop();
}

await main();
