/**
 * Issue 23's end to end: a device on each way in — a TCP connection, a REST post, an MQTT publish
 * (aedes, MQTT 3.1.1), a file — through the real `shardflow gateway tcp|rest|mqtt-bridge|files`
 * processes onto kinesalite, read by a real `shardflow run` worker: each device's reading is decoded
 * by its product spec, enriched with its site and customer, and stored in the Hot store, with the
 * protocol it came by; the TCP frame acknowledged only after it was put, the REST post answered 202.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/process.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient } from '../../sinks/postgres/sql.ts';
import { importChanges, rowChange } from '../../sinks/warm/masterdata/import.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import type { MasterDataRowChange } from '../../topology/index.ts';
import { type RunningCli, runCli, startCli } from '../support/cli.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const kinesisEndpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
const API_KEY = 'e2e-key-4f6c2a9b1d';

/** Master data: every device of the test at site s-e2e of customer c-e2e. */
function masterData(devices: Record<string, string>): MasterDataRowChange[] {
  const at = Date.now() - 86_400_000;
  const rows: [Parameters<typeof rowChange>[0], Record<string, string>][] = [
    ['customers', { customer_id: 'c-e2e', name: 'E2E' }],
    ['sites', { site_id: 's-e2e', name: 'Plant', timezone: 'Europe/Berlin' }],
    ['site-assignments', { site_id: 's-e2e', customer_id: 'c-e2e', valid_from: new Date(at).toISOString() }],
    ...Object.entries(devices).flatMap(([device_id, product_id]) => [
      ['devices', { device_id, product_id }] as [Parameters<typeof rowChange>[0], Record<string, string>],
      ['device-assignments', { device_id, site_id: 's-e2e', valid_from: new Date(at).toISOString() }] as [
        Parameters<typeof rowChange>[0],
        Record<string, string>,
      ],
    ]),
  ];
  return rows.map(([entity, values], line) => {
    const change = rowChange(entity, { line: line + 1, values }, at);
    if (typeof change === 'string') throw new Error(change);
    return change;
  });
}

/** A door-d6 frame (binary): D6, serial, epoch seconds, status, battery, temperature. */
function doorFrame(serial: string, at: number): Buffer {
  const frame = Buffer.alloc(14);
  frame.writeUInt8(0xd6, 0);
  Buffer.from(serial, 'hex').copy(frame, 1);
  frame.writeUInt32BE(Math.floor(at / 1000), 5);
  frame.writeUInt8(0x01, 9);
  frame.writeUInt16BE(340, 10);
  frame.writeInt16BE(215, 12);
  return frame;
}

describe('gateways end to end', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let aedes: Aedes;
  let broker: ReturnType<typeof createServer>;
  const processes: RunningCli[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gateways-e2e-'));
  const stream = uniqueStream('gateways-e2e');
  const ports = { tcp: 0, rest: 0, mqtt: 0 };

  beforeAll(async () => {
    db = await createTestDatabase('gateways_e2e');
    pool = testPool(db.url, 2);
    const sql = pgSqlClient(testPool(db.url, 2));
    await migrateWarm(sql);
    await importChanges(
      sql,
      masterData({
        'th-tcp-1': 'thermo-t1',
        'mt-rest-1': 'meter-m2',
        a1b2c3d4: 'door-d6',
        'lg-file-1': 'logger-c5',
      }),
    );
    await sql.close();
    const kinesis = createKinesisClient({ region: 'us-east-1', endpoint: kinesisEndpoint });
    await createStream(kinesis, stream, 1);
    kinesis.destroy();

    aedes = await Aedes.createBroker();
    broker = createServer(aedes.handle);
    ports.mqtt = await freePort();
    await new Promise<void>((resolve) => broker.listen(ports.mqtt, '127.0.0.1', resolve));
    ports.tcp = await freePort();
    ports.rest = await freePort();

    const worker = join(dir, 'worker.yaml');
    writeFileSync(
      worker,
      [
        'source:',
        `  kinesis: { streamName: ${stream}, endpoint: "${kinesisEndpoint}", idleTimeBetweenReadsMs: 50, maxIdleTimeMs: 200 }`,
        'decode: { specDir: specs/examples }',
        `warm: { writeUrl: "${db.url}" }`,
        'formulas: { enabled: false }',
        'runtime: { checkpointIntervalMs: 1000 }',
        'admin: { port: 0 }',
        '',
      ].join('\n'),
    );
    const gateways = join(dir, 'gateways.yaml');
    writeFileSync(
      gateways,
      [
        `stream: { streamName: ${stream}, endpoint: "${kinesisEndpoint}" }`,
        'specs: { dir: specs/examples }',
        'admin: { port: 0 }',
        `tcp: { listeners: [ { port: ${ports.tcp}, host: 127.0.0.1, productId: thermo-t1, framing: { kind: length-prefix, lengthBytes: 2, keep: rest }, ack: { hex: "06" } } ] }`,
        `rest: { port: ${ports.rest}, host: 127.0.0.1, auth: { apiKeysEnv: E2E_API_KEYS } }`,
        `mqtt: { url: "mqtt://127.0.0.1:${ports.mqtt}", protocolVersion: 4, clientId: e2e-bridge }`,
        'files: { productId: logger-c5, framing: { kind: lines }, header: repeat }',
        '',
      ].join('\n'),
    );
    const env = { E2E_API_KEYS: `e2e:${API_KEY}` };
    processes.push(startCli(['run', '--config', worker], {}, 300_000));
    for (const kind of ['tcp', 'rest', 'mqtt-bridge'])
      processes.push(startCli(['gateway', kind, '--config', gateways], env, 300_000));
    await waitFor(
      'the worker and the three gateways to start',
      async () =>
        processes.every((p) => /"msg":"(worker|gateway) started"/.test(p.stderr())) ||
        processes.some((p) => p.child.exitCode !== null),
      120_000,
    );
    for (const p of processes) expect(p.child.exitCode, p.stderr()).toBeNull();
  }, 300_000);

  afterAll(async () => {
    for (const p of processes) p.child.kill('SIGTERM');
    await Promise.all(processes.map((p) => p.exited));
    await new Promise<void>((resolve) => aedes?.close(() => resolve()));
    broker?.close();
    await pool?.end();
    await db?.drop();
  });

  it('a device on each protocol is decoded, enriched and in the Hot store', async () => {
    const now = Date.now();
    // TCP: a thermo-t1 reading in a length-prefixed frame; the ack comes once it is in the stream
    const socket = connect(ports.tcp, '127.0.0.1');
    const body = Buffer.from(
      JSON.stringify({ device_id: 'th-tcp-1', ts: now, metrics: { temperature: 21.5, humidity: 40 } }),
    );
    const frame = Buffer.concat([Buffer.from([body.length >> 8, body.length & 0xff]), body]);
    const ack = new Promise<Buffer>((resolve) => socket.once('data', resolve));
    socket.write(frame);
    expect([...(await ack)]).toEqual([0x06]);
    socket.destroy();

    // REST: a meter-m2 reading
    const posted = await fetch(
      `http://127.0.0.1:${ports.rest}/v1/devices/mt-rest-1/telemetry?productId=meter-m2`,
      {
        method: 'POST',
        headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ device_id: 'mt-rest-1', ts: now, metrics: { power: 1200, energy: 55.5 } }),
      },
    );
    expect(posted.status).toBe(202);

    // MQTT: a binary door-d6 frame on the device's topic, through aedes and the bridge
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { protocolVersion: 4 });
    await device.publishAsync('devices/a1b2c3d4/telemetry', doorFrame('a1b2c3d4', now), { qos: 1 });
    await device.endAsync();

    // a file: logger-c5 CSV with its header, one record per line
    const files = join(dir, 'files');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(files);
    const iso = (ms: number) => new Date(ms).toISOString();
    writeFileSync(
      join(files, 'logger.csv'),
      `device;timestamp;temp_c;pressure_hpa\nlg-file-1;${iso(now - 60_000)};19.5;1001\nlg-file-1;${iso(now)};19.7;1002\n`,
    );
    const run = await runCli(
      ['gateway', 'files', '--config', join(dir, 'gateways.yaml'), '--from', files],
      {},
      120_000,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ files: 1, records: 2, failed: [] });

    const stored = async () =>
      (
        await pool.query<{
          device_id: string;
          product_id: string;
          site_id: string;
          customer_id: string;
          protocol: string;
        }>(
          `SELECT device_id, product_id, site_id, customer_id, raw_ref->>'protocol' AS protocol
             FROM hot_telemetry ORDER BY device_id, device_timestamp`,
        )
      ).rows;
    await waitFor('the four devices in the Hot store', async () => (await stored()).length >= 5, 60_000);
    expect(await stored()).toEqual([
      {
        device_id: 'a1b2c3d4',
        product_id: 'door-d6',
        site_id: 's-e2e',
        customer_id: 'c-e2e',
        protocol: 'mqtt',
      },
      {
        device_id: 'lg-file-1',
        product_id: 'logger-c5',
        site_id: 's-e2e',
        customer_id: 'c-e2e',
        protocol: 'file',
      },
      {
        device_id: 'lg-file-1',
        product_id: 'logger-c5',
        site_id: 's-e2e',
        customer_id: 'c-e2e',
        protocol: 'file',
      },
      {
        device_id: 'mt-rest-1',
        product_id: 'meter-m2',
        site_id: 's-e2e',
        customer_id: 'c-e2e',
        protocol: 'rest',
      },
      {
        device_id: 'th-tcp-1',
        product_id: 'thermo-t1',
        site_id: 's-e2e',
        customer_id: 'c-e2e',
        protocol: 'tcp',
      },
    ]);
    const dead = await pool.query('SELECT reason FROM dead_letters');
    expect(dead.rows).toEqual([]);
  }, 180_000);
});
