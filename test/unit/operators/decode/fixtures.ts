/** Frames and envelopes for the decode tests, built byte by byte (independently of the decoders). */
import {
  type DeadLetter,
  type IngestEnvelope,
  ManualClock,
  type Operator,
  type RawRecord,
  type Telemetry,
} from '../../../../topology/index.ts';
import { rawRecord } from '../../../support/records.ts';

/** A stream record carrying an ingest envelope. */
export function enveloped(
  fields: Partial<IngestEnvelope> & { payload: string },
  receivedAt: number,
): RawRecord {
  return rawRecord(JSON.stringify({ v: 1, protocol: 'mqtt', encoding: 'utf8', receivedAt, ...fields }));
}

/** CRC-16/MODBUS, bit by bit (reference implementation for building frames). */
export function crc16modbus(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** An env-h1 frame: magic, serial, BCD time, readings, status bits, probes, CRC (little-endian). */
export function envH1Frame(bcdTime: string, corruptCrc = false): Uint8Array {
  const body = Buffer.from(
    [
      'AA55', // magic
      '01020304', // serial
      bcdTime, // YYMMDDhhmmss
      '00E1', // temperature 225 → 22.5
      '2D', // humidity 45
      '11', // status: battery_low=1, door_open=0, mode=1 (normal)
      '02', // two probes
      '6608', // 2150 little-endian → 21.50
      'B108', // 2225 → 22.25
    ].join(''),
    'hex',
  );
  const crc = crc16modbus(body) ^ (corruptCrc ? 1 : 0);
  return Buffer.concat([body, Buffer.from([crc & 0xff, crc >> 8])]);
}

/** The current wall-clock time in Berlin as BCD `YYMMDDhhmmss` (env-h1 devices keep local time). */
export function bcdNowInBerlin(): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Berlin',
    hourCycle: 'h23',
    year: '2-digit',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date());
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${get('year')}${get('month')}${get('day')}${get('hour')}${get('minute')}${get('second')}`;
}

/** Runs the decode operator's `process` on `records` at `now`; returns its telemetry and dead letters. */
export function decodeRecords(
  operator: Operator<RawRecord, Telemetry, { dlq: DeadLetter }>,
  records: readonly RawRecord[],
  now: number,
): { out: Telemetry[]; dead: DeadLetter[] } {
  const dead: DeadLetter[] = [];
  const out = operator.process(records, {
    node: 'decode',
    shardId: 's',
    position: { sequenceNumber: '1', subSequenceNumber: 0 },
    clock: new ManualClock(now),
    side: (_port, letter) => void dead.push(letter),
  }) as Telemetry[];
  return { out, dead };
}
