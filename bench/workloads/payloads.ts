/**
 * Device payloads in the formats of the bundled example specs (`specs/examples/`), built byte by
 * byte so the benchmark's records are what real devices of those products would send, and a broken
 * variant of each that the decode stage must refuse as a whole record (one dead letter, no telemetry).
 */
import { crc16Modbus } from '../../operators/decode/formats/checksum.ts';
import type { IngestEnvelope } from '../../topology/index.ts';

/** The example products the workloads send, one per format (plus the three JSON demo products). */
export const WORKLOAD_PRODUCTS = [
  'thermo-t1',
  'meter-m2',
  'air-a3',
  'env-h1',
  'meter-kv2',
  'tracker-y3',
  'hub-j4',
  'logger-c5',
] as const;
/** One of {@link WORKLOAD_PRODUCTS}. */
export type WorkloadProduct = (typeof WORKLOAD_PRODUCTS)[number];

/** The format each example product is written in. */
export const FORMAT_OF: Readonly<Record<WorkloadProduct, string>> = {
  'thermo-t1': 'json',
  'meter-m2': 'json',
  'air-a3': 'json',
  'env-h1': 'hex',
  'meter-kv2': 'kv',
  'tracker-y3': 'hybrid',
  'hub-j4': 'json-hub',
  'logger-c5': 'csv',
};

/** Children per hub-j4 message and rows per logger-c5 upload: telemetry records per envelope. */
export const HUB_CHILDREN = 5;
/** Rows per logger-c5 CSV upload. */
export const LOGGER_ROWS = 5;

/** What a payload builder needs: the device (or hub), its event time and a source of randomness. */
export interface Reading {
  readonly deviceId: string;
  /** Children of a hub (hub-j4 only). */
  readonly children?: readonly string[];
  /** Event time (epoch ms). */
  readonly at: number;
  readonly receivedAt: number;
  readonly random: () => number;
  readonly malformed: boolean;
}

const MINUTE = 60_000;

function between(random: () => number, lo: number, hi: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round((lo + (hi - lo) * random()) * f) / f;
}

// Berlin's UTC offset changes twice a year; one Intl call per quarter hour keeps BCD encoding cheap.
const offsets = new Map<number, number>();
const berlin = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/Berlin',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

function berlinOffsetMs(at: number): number {
  const quarter = Math.floor(at / (15 * MINUTE));
  let offset = offsets.get(quarter);
  if (offset === undefined) {
    const base = quarter * 15 * MINUTE;
    const p = Object.fromEntries(berlin.formatToParts(new Date(base)).map((x) => [x.type, x.value]));
    offset = Date.UTC(+p.year!, +p.month! - 1, +p.day!, +p.hour!, +p.minute!, +p.second!) - base;
    if (offsets.size > 10_000) offsets.clear();
    offsets.set(quarter, offset);
  }
  return offset;
}

function bcd(n: number): number {
  return ((Math.floor(n / 10) % 10) << 4) | (n % 10);
}

/** env-h1: magic AA55, 4-byte serial, BCD Berlin local time, readings, status, one probe, CRC. */
function envH1(r: Reading): IngestEnvelope {
  const local = new Date(r.at + berlinOffsetMs(r.at));
  const frame = Buffer.alloc(21);
  frame.writeUInt16BE(0xaa55, 0);
  frame.write(r.deviceId, 2, 4, 'hex');
  const time = [
    local.getUTCFullYear() % 100,
    local.getUTCMonth() + 1,
    local.getUTCDate(),
    local.getUTCHours(),
    local.getUTCMinutes(),
    local.getUTCSeconds(),
  ];
  for (const [i, v] of time.entries()) frame.writeUInt8(bcd(v), 6 + i);
  frame.writeInt16BE(Math.round(between(r.random, 15, 30, 1) * 10), 12);
  frame.writeUInt8(Math.floor(between(r.random, 20, 80, 0)), 14);
  frame.writeUInt8(0x10, 15); // mode normal, battery fine, door closed
  frame.writeUInt8(1, 16);
  frame.writeInt16LE(Math.round(between(r.random, 15, 30, 2) * 100), 17);
  const crc = crc16Modbus(frame.subarray(0, 19)) ^ (r.malformed ? 0x0101 : 0);
  frame.writeUInt16LE(crc, 19);
  return {
    v: 1,
    protocol: 'tcp',
    source: `tcp/${r.deviceId}`,
    receivedAt: r.receivedAt,
    productId: 'env-h1',
    encoding: 'base64',
    payload: frame.toString('base64'),
  };
}

/** meter-kv2: 8-character serial, then key / length / value registers, as hex text. */
function meterKv2(r: Reading): IngestEnvelope {
  const parts = [
    Buffer.from(r.deviceId.padEnd(8).slice(0, 8), 'ascii'),
    Buffer.from([0x00, 0x01, 2]),
    u16(Math.round(between(r.random, 220, 240, 1) * 10)),
    Buffer.from([0x00, 0x02, 2]),
    u16(Math.round(between(r.random, 0, 40, 2) * 100)),
    Buffer.from([0x00, 0x03, 4]),
    u32(Math.floor(between(r.random, 1_000, 4_000_000, 0))),
    Buffer.from([0x00, 0x10, 4]),
    u32(Math.floor(r.at / 1000)),
  ];
  let hex = Buffer.concat(parts).toString('hex').toUpperCase();
  if (r.malformed) hex = hex.slice(0, -5); // truncated mid-register, odd length
  return {
    v: 1,
    protocol: 'mqtt',
    topic: `devices/${r.deviceId}/telemetry`,
    receivedAt: r.receivedAt,
    productId: 'meter-kv2',
    encoding: 'utf8',
    payload: hex,
  };
}

/** tracker-y3: `ts|lat lon|battery speed` segments of fixed-width big-endian fields. */
function trackerY3(r: Reading): IngestEnvelope {
  const lat = Buffer.alloc(8);
  lat.writeInt32BE(Math.round(between(r.random, 47, 55, 6) * 1e6), 0);
  lat.writeInt32BE(Math.round(between(r.random, 6, 15, 6) * 1e6), 4);
  const tail = Buffer.alloc(3);
  tail.writeUInt8(Math.floor(between(r.random, 5, 100, 0)), 0);
  tail.writeUInt16BE(Math.round(between(r.random, 0, 120, 1) * 10), 1);
  const bar = Buffer.from('|');
  const segments = r.malformed
    ? [u32(Math.floor(r.at / 1000)), bar, lat]
    : [u32(Math.floor(r.at / 1000)), bar, lat, bar, tail];
  return {
    v: 1,
    protocol: 'mqtt',
    topic: `trackers/${r.deviceId}/frames`,
    receivedAt: r.receivedAt,
    encoding: 'base64',
    payload: Buffer.concat(segments).toString('base64'),
  };
}

/** hub-j4: one JSON message per hub with a reading of each child; hub time in epoch seconds. */
function hubJ4(r: Reading): IngestEnvelope {
  const children = (r.children ?? []).map((id) => ({
    id,
    t: between(r.random, 15, 30, 1),
    rh: between(r.random, 20, 80, 0),
  }));
  let payload = JSON.stringify({ ts: Math.floor(r.at / 1000), children });
  if (r.malformed) payload = payload.slice(0, -9);
  return {
    v: 1,
    protocol: 'mqtt',
    topic: `devices/${r.deviceId}/telemetry`,
    receivedAt: r.receivedAt,
    productId: 'hub-j4',
    encoding: 'utf8',
    payload,
  };
}

/** logger-c5: a CSV upload (`;`, header) of the logger's last readings, a minute apart. */
function loggerC5(r: Reading): IngestEnvelope {
  const rows = ['device;timestamp;temp_c;pressure_hpa'];
  for (let i = LOGGER_ROWS - 1; i >= 0; i--) {
    const at = new Date(r.at - i * MINUTE).toISOString();
    rows.push(`${r.deviceId};${at};${between(r.random, 15, 30, 2)};${between(r.random, 980, 1030, 1)}`);
  }
  if (r.malformed) rows[2] = `${rows[2]};surplus`; // a row with one column too many
  return {
    v: 1,
    protocol: 'rest',
    source: `rest/${r.deviceId}`,
    receivedAt: r.receivedAt,
    productId: 'logger-c5',
    encoding: 'utf8',
    payload: `${rows.join('\n')}\n`,
  };
}

const JSON_METRICS: Record<string, ReadonlyArray<readonly [string, number, number, number]>> = {
  'thermo-t1': [
    ['temperature', 15, 30, 1],
    ['humidity', 20, 80, 0],
  ],
  'meter-m2': [
    ['power', 0, 11_000, 0],
    ['energy', 100, 50_000, 3],
  ],
  'air-a3': [
    ['pm25', 0, 80, 1],
    ['co2', 400, 1500, 0],
  ],
};

/** The demo fleet's JSON products over MQTT (`device_id`, `ts` in ms, `metrics`). */
function jsonDevice(product: string, r: Reading): IngestEnvelope {
  const metrics: Record<string, number> = {};
  for (const [name, lo, hi, decimals] of JSON_METRICS[product]!)
    metrics[name] = between(r.random, lo, hi, decimals);
  let payload = JSON.stringify({ device_id: r.deviceId, ts: r.at, metrics });
  if (r.malformed) payload = payload.slice(0, -7);
  return {
    v: 1,
    protocol: 'mqtt',
    topic: `devices/${r.deviceId}/telemetry`,
    receivedAt: r.receivedAt,
    productId: product,
    encoding: 'utf8',
    payload,
  };
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The ingest envelope a device of `product` sends for one reading. */
export function payloadOf(product: WorkloadProduct, r: Reading): IngestEnvelope {
  switch (product) {
    case 'env-h1':
      return envH1(r);
    case 'meter-kv2':
      return meterKv2(r);
    case 'tracker-y3':
      return trackerY3(r);
    case 'hub-j4':
      return hubJ4(r);
    case 'logger-c5':
      return loggerC5(r);
    default:
      return jsonDevice(product, r);
  }
}

/** The id a device of `product` has: what its format can carry (env-h1: 8 hex digits, meter-kv2: 8 characters). */
export function deviceIdOf(product: WorkloadProduct, index: number): string {
  if (product === 'env-h1') return index.toString(16).padStart(8, '0');
  if (product === 'meter-kv2') return `M${String(index).padStart(7, '0')}`;
  const prefix = product.split('-')[0];
  return `${prefix}-${String(index).padStart(6, '0')}`;
}
