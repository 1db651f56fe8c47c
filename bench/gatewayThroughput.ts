/**
 * The gateways under a steady load: each of `shardflow gateway tcp`, `rest` and `mqtt-bridge`, a
 * process of its own as in production, takes `--rate` messages a second for `--duration` seconds into
 * kinesalite (a process of its own), from devices simulated in this process:
 *
 * - tcp: 100 connections, one device each, frames with a 2-byte length prefix, a 1-byte ack per frame;
 *   acknowledgement latency = frame written → its ack read.
 * - rest: single-message `POST /v1/devices/{id}/telemetry` over 500 keep-alive connections (raw sockets,
 *   one request in flight each), with an API key; latency = request due → 202 read.
 * - mqtt-bridge: 50 mqtt.js devices publishing QoS 1 to mosquitto, the bridge subscribed; the devices'
 *   PUBACKs come from the broker, so the latency is the bridge's own (PUBLISH received → PUBACK, i.e.
 *   in the stream), read from its `/metrics`.
 *
 * For each: messages/s acknowledged, p50/p99/max latency, the gateway's peak RSS (VmRSS) and CPU. The
 * baseline, same run and same emulator: a raw PutRecords loop (500 records a request, 4 in flight).
 * Goal per gateway: 5,000 messages/s sustained for 5 minutes, p99 ≤ 250 ms, RSS ≤ 300 MiB.
 *
 * Usage: npm run bench:gateways -- [--duration S] [--rate R] [--gateways tcp,rest,mqtt-bridge] [--results]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import mqtt from 'mqtt';
import { startMosquitto } from '../infra/local/mosquitto.ts';
import { createKinesisClient } from '../sources/kinesis/client.ts';
import { startEmulator } from './emulators.ts';
import { wholeOption } from './options.ts';
import { count, ratioToGoal, writeLatestFigures } from './results.ts';

const USAGE =
  'usage: npm run bench:gateways -- [--duration S] [--rate R] [--gateways tcp,rest,mqtt-bridge] [--results]';
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '300' },
    rate: { type: 'string', default: '5000' },
    gateways: { type: 'string', default: 'tcp,rest,mqtt-bridge' },
    results: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const DURATION_S = wholeOption(values.duration, 'duration', 5, USAGE);
const RATE = wholeOption(values.rate, 'rate', 1, USAGE);
const KINDS = values.gateways.split(',').filter((k) => ['tcp', 'rest', 'mqtt-bridge'].includes(k));
const GOALS = { rate: 5_000, p99Ms: 250, rssMiB: 300 };
const BIN = fileURLToPath(new URL('../bin/shardflow.js', import.meta.url));
const TICK_MS = 10;
const API_KEY = 'bench-key-0123456789abcdef';

/** Latencies, sorted on demand. */
class Latencies {
  readonly values: number[] = [];
  add(ms: number) {
    this.values.push(ms);
  }
  summary() {
    const sorted = [...this.values].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
    return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
  }
}

/** A reading of a thermo-t1 device, as JSON text. */
const reading = (device: string, n: number) =>
  JSON.stringify({
    device_id: device,
    ts: Date.now(),
    metrics: { temperature: 20 + (n % 50) / 10, humidity: 40 },
  });

/** A gateway process: started from a configuration, sampled for RSS and CPU, stopped with SIGTERM. */
async function startGateway(kind: string, configFile: string) {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'gateway', kind, '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, BENCH_API_KEYS: `bench:${API_KEY}` },
  });
  const started = new Promise<{ admin: string }>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => {
      if (line.includes('"gateway started"'))
        resolve({ admin: (JSON.parse(line) as { admin: string }).admin });
      else if (/"level":(50|60)/.test(line)) console.error(line);
    });
    child.once('exit', (code) => reject(new Error(`gateway ${kind} exited with ${code}`)));
  });
  const { admin } = await started;
  let peakRssKiB = 0;
  const sample = () => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peakRssKiB = Math.max(peakRssKiB, rss);
    } catch {}
  };
  const sampler = setInterval(sample, 500);
  const cpuMs = () => {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime in clock ticks (100/s)
  };
  return {
    admin,
    cpuMs,
    peakRssMiB: () => peakRssKiB / 1024,
    async metrics(): Promise<string> {
      return (await fetch(`${admin}metrics`)).text();
    },
    async stop() {
      clearInterval(sampler);
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** Calls `send(n)` `rate` times a second, in ticks, for `seconds`. */
async function paced(rate: number, seconds: number, send: (n: number) => void): Promise<number> {
  const start = Date.now();
  let sent = 0;
  while (Date.now() - start < seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate);
    while (sent < due) send(sent++);
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  return sent;
}

/** What a load did: `seconds` from the first message sent to the last acknowledged. */
interface Load {
  sent: number;
  acknowledged: number;
  latency: Latencies;
  seconds: number;
}

async function tcpLoad(port: number): Promise<Load> {
  const latency = new Latencies();
  let acknowledged = 0;
  const sockets: { socket: Socket; sentAt: number[] }[] = [];
  for (let i = 0; i < 100; i++) {
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const entry = { socket, sentAt: [] as number[] };
    socket.on('data', (acks: Buffer) => {
      const now = performance.now();
      for (let k = 0; k < acks.length; k++) {
        latency.add(now - entry.sentAt.shift()!);
        acknowledged++;
      }
    });
    sockets.push(entry);
  }
  const start = performance.now();
  const sent = await paced(RATE, DURATION_S, (n) => {
    const entry = sockets[n % sockets.length]!;
    const body = Buffer.from(reading(`tcp-${n % sockets.length}`, n));
    const frame = Buffer.alloc(2 + body.length);
    frame.writeUInt16BE(body.length);
    body.copy(frame, 2);
    entry.sentAt.push(performance.now());
    entry.socket.write(frame);
  });
  await waitUntil(() => acknowledged >= sent, 60_000);
  const seconds = (performance.now() - start) / 1000;
  for (const { socket } of sockets) socket.destroy();
  return { sent, acknowledged, latency, seconds };
}

/**
 * REST devices on raw keep-alive sockets (one request in flight each, the response parsed just
 * enough to read its status and length): Node's HTTP client would cost the benchmark's process more
 * CPU than the gateway it measures, on a machine of two cores.
 */
async function restLoad(port: number): Promise<Load> {
  const latency = new Latencies();
  let acknowledged = 0;
  let failed = 0;
  let closing = false;
  const unsolicited: string[] = [];
  const idle: Socket[] = [];
  const waiting: { request: Buffer; dueAt: number }[] = [];
  /** The sockets with a request in flight, and when it was due. */
  const busy = new Map<Socket, number>();
  const open = new Set<Socket>();
  const fire = (socket: Socket, request: Buffer, dueAt: number) => {
    busy.set(socket, dueAt);
    socket.write(request);
  };
  const next = (socket: Socket) => {
    const queued = waiting.shift();
    if (queued === undefined) idle.push(socket);
    else fire(socket, queued.request, queued.dueAt);
  };
  /** A keep-alive connection; one the server closes (after maxRequestsPerSocket) is replaced. */
  const connection = async (): Promise<void> => {
    const socket = connect(port, '127.0.0.1');
    open.add(socket);
    await new Promise((resolve) => socket.once('connect', resolve));
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.byteLength === 0 ? chunk : Buffer.concat([buffered, chunk]);
      for (;;) {
        const head = buffered.indexOf('\r\n\r\n');
        if (head < 0) return;
        const headers = buffered.subarray(0, head).toString('latin1');
        const length = Number(/content-length: *(\d+)/i.exec(headers)?.[1] ?? 0);
        if (buffered.byteLength < head + 4 + length) return;
        buffered = buffered.subarray(head + 4 + length);
        // an answer with no request in flight (the server timing out an idle connection): not a device's
        if (!busy.has(socket)) {
          unsolicited.push(headers.split('\r\n', 1)[0]!);
          continue;
        }
        if (headers.startsWith('HTTP/1.1 202')) {
          acknowledged++;
          latency.add(performance.now() - busy.get(socket)!);
        } else failed++;
        busy.delete(socket);
        // the server will take no more on this connection (maxRequestsPerSocket): end it, replaced on close
        if (/\r\nconnection: *close/i.test(headers)) {
          socket.destroy();
          return;
        }
        next(socket);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      open.delete(socket);
      if (busy.delete(socket)) failed++;
      const at = idle.indexOf(socket);
      if (at >= 0) idle.splice(at, 1);
      if (!closing) void connection();
    });
    next(socket);
  };
  for (let i = 0; i < 500; i++) await connection();
  const start = performance.now();
  const sent = await paced(RATE, DURATION_S, (n) => {
    const device = `rest-${n % 100}`;
    const body = reading(device, n);
    const request = Buffer.from(
      `POST /v1/devices/${device}/telemetry?productId=thermo-t1 HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: ${API_KEY}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const socket = idle.pop();
    // no free connection: the request waits, and its wait counts in its latency
    if (socket === undefined) waiting.push({ request, dueAt: performance.now() });
    else fire(socket, request, performance.now());
  });
  await waitUntil(() => acknowledged + failed >= sent, 60_000);
  const seconds = (performance.now() - start) / 1000;
  closing = true;
  for (const socket of open) socket.destroy();
  if (failed > 0) console.error(`rest: ${failed} requests not answered 202`);
  if (unsolicited.length > 0) console.error(`rest: answers without a request: ${unsolicited.join(', ')}`);
  return { sent, acknowledged, latency, seconds };
}

async function mqttLoad(brokerUrl: string, metrics: () => Promise<string>): Promise<Load> {
  const clients = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      mqtt.connectAsync(brokerUrl, { clientId: `bench-device-${i}`, protocolVersion: 5 }),
    ),
  );
  const start = performance.now();
  const sent = await paced(RATE, DURATION_S, (n) => {
    const device = `mqtt-${n % clients.length}`;
    clients[n % clients.length]!.publish(`devices/${device}/telemetry`, reading(device, n), { qos: 1 });
  });
  const put = async () =>
    Number(/shardflow_gateway_ingest_records_put_total\{[^}]*\} (\d+)/.exec(await metrics())?.[1] ?? 0);
  const deadline = Date.now() + 60_000;
  while ((await put()) < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(clients.map((c) => c.endAsync()));
  const text = await metrics();
  const quantile = (q: string) =>
    Number(
      new RegExp(`durable_latency_ms\\{gateway="mqtt-bridge",quantile="${q}"\\} ([0-9.]+)`).exec(text)?.[1],
    );
  const latency = new Latencies();
  // the bridge reports its quantiles; keep them as a two-point summary
  return {
    sent,
    acknowledged: await put(),
    seconds,
    latency: Object.assign(latency, {
      summary: () => ({ p50: quantile('0.5'), p99: quantile('0.99'), max: Number.NaN }),
    }),
  };
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** The baseline: PutRecords of 500 records, 4 in flight, for `seconds`. */
async function rawPutRecords(endpoint: string, stream: string, seconds: number): Promise<number> {
  const client = createKinesisClient({ region: 'us-east-1', endpoint });
  const records = Array.from({ length: 500 }, (_, i) => ({
    PartitionKey: `raw-${i % 100}`,
    Data: Buffer.from(
      JSON.stringify({
        v: 1,
        protocol: 'tcp',
        receivedAt: Date.now(),
        encoding: 'utf8',
        payload: reading(`raw-${i}`, i),
      }),
    ),
  }));
  let put = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (performance.now() < end) {
        const out = await client.send(new PutRecordsCommand({ StreamName: stream, Records: records }));
        put += records.length - (out.FailedRecordCount ?? 0);
      }
    }),
  );
  client.destroy();
  return put / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const kinesis = await startEmulator('kinesis');
  const mosquitto = KINDS.includes('mqtt-bridge') ? await startMosquitto({ maxInflight: 2000 }) : undefined;
  const client = createKinesisClient({ region: 'us-east-1', endpoint: kinesis.endpoint });
  const dir = mkdtempSync(join(tmpdir(), 'bench-gateways-'));
  const rows: string[] = [];
  const figures: Record<string, unknown> = {};
  try {
    const stream = `bench-gateways-${Date.now()}`;
    await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 4 }));
    while (
      (await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary
        ?.StreamStatus !== 'ACTIVE'
    )
      await new Promise((r) => setTimeout(r, 100));
    const baseline = await rawPutRecords(kinesis.endpoint, stream, Math.min(30, DURATION_S));
    console.log(`baseline: raw PutRecords loop ${count(baseline)} records/s`);
    figures.baseline = baseline;
    for (const kind of KINDS) {
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      const config = join(dir, `${kind}.yaml`);
      writeFileSync(
        config,
        [
          `stream: { streamName: ${stream}, endpoint: "${kinesis.endpoint}" }`,
          'log: { level: info }',
          'admin: { port: 0 }',
          `tcp: { listeners: [ { port: ${port}, host: 127.0.0.1, productId: thermo-t1, framing: { kind: length-prefix, lengthBytes: 2 }, ack: { hex: "06" } } ] }`,
          `rest: { port: ${port}, host: 127.0.0.1, auth: { apiKeysEnv: BENCH_API_KEYS } }`,
          `mqtt: { url: "${mosquitto?.url ?? 'mqtt://127.0.0.1:1'}", protocolVersion: 5, clientId: bench-bridge }`,
          '',
        ].join('\n'),
      );
      const gateway = await startGateway(kind, config);
      const cpuBefore = gateway.cpuMs();
      const load =
        kind === 'tcp'
          ? await tcpLoad(port)
          : kind === 'rest'
            ? await restLoad(port)
            : await mqttLoad(mosquitto!.url, () => gateway.metrics());
      const cpuMs = gateway.cpuMs() - cpuBefore;
      const rss = gateway.peakRssMiB();
      await gateway.stop();
      const rate = load.acknowledged / load.seconds;
      const { p50, p99, max } = load.latency.summary();
      const met = rate >= GOALS.rate * 0.98 && p99 <= GOALS.p99Ms && rss <= GOALS.rssMiB;
      figures[kind] = {
        sent: load.sent,
        acknowledged: load.acknowledged,
        rate,
        p50,
        p99,
        max,
        rssMiB: rss,
        cpuMs,
      };
      console.log(kind, JSON.stringify(figures[kind]));
      rows.push(
        `| ${kind} | ${count(load.sent)} | ${count(load.acknowledged)} | ${count(rate)} | ${ratioToGoal(rate / baseline, undefined)} | ${p50.toFixed(0)} / ${p99.toFixed(0)} / ${Number.isNaN(max) ? '–' : max.toFixed(0)} | ${rss.toFixed(0)} | ${count((cpuMs / 1000 / load.seconds) * 100)} % | ${met ? 'met' : 'not met'} |`,
      );
    }
    if (values.results)
      writeLatestFigures({
        name: 'gateways',
        heading: '## Gateways (`npm run bench:gateways`)',
        command: `npm run bench:gateways -- --duration ${DURATION_S} --rate ${RATE} --gateways ${KINDS.join(',')} --results`,
        lines: [
          `Each gateway a process of its own (\`shardflow gateway KIND\`), kinesalite a process of its own (4 shards), the devices in the benchmark's process, ${count(RATE)} messages/s for ${DURATION_S} s. Latency: tcp frame written → ack read; rest request → 202; mqtt-bridge PUBLISH received → PUBACK (the bridge's own figure: the devices' PUBACKs come from the broker). Baseline, same run: a raw PutRecords loop (500 records a request, 4 in flight) ${count(baseline)} records/s.`,
          '',
          '| gateway | sent | acknowledged | messages/s | ÷ raw PutRecords | p50 / p99 / max ms | peak RSS MiB | CPU (one core) | goal (5,000/s, p99 ≤ 250 ms, RSS ≤ 300 MiB) |',
          '|---|---:|---:|---:|---:|---:|---:|---:|---|',
          ...rows,
        ],
      });
  } finally {
    client.destroy();
    await mosquitto?.stop();
    kinesis.child.kill();
  }
}

await main();
