/**
 * Golden tests of every example product: several frames each, through the decode operator with the
 * bundled specs, to the exact telemetry and dead letters, pinned in test/golden/decode/<product>.json.
 * After an intended change, regenerate with `UPDATE_GOLDEN=1 npx vitest run test/unit/operators/decode/golden.test.ts`
 * and review the diff.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SpecRegistry } from '../../../../operators/decode/registry.ts';
import { decodeBySpec } from '../../../../operators/decodeBySpec.ts';
import {
  type IngestEnvelope,
  ManualClock,
  MemorySource,
  type RawRecord,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../../../topology/index.ts';
import { rawRecord } from '../../../support/records.ts';
import { crc16modbus } from './fixtures.ts';

const NOW = Date.UTC(2026, 10, 22, 9, 31, 0); // 2026-11-22 10:31 in Berlin
const TS = Math.floor(NOW / 1000) - 60;
const specs = new SpecRegistry('specs/examples');
specs.load();

/** One input of a golden case: an ingest envelope, or a bare frame (hex). */
type Input = { envelope: Partial<IngestEnvelope> & { payload: string } } | { bare: string };

function toRecord(input: Input, sequence: number): RawRecord {
  const data =
    'bare' in input
      ? Buffer.from(input.bare, 'hex')
      : JSON.stringify({ v: 1, protocol: 'mqtt', encoding: 'utf8', receivedAt: NOW, ...input.envelope });
  return rawRecord(data, { sequenceNumber: String(49_000 + sequence), arrivedAt: NOW });
}

const hex = (...parts: (string | number[])[]) =>
  parts.map((p) => (typeof p === 'string' ? p : Buffer.from(p).toString('hex'))).join('');
const u32 = (n: number) => n.toString(16).padStart(8, '0');
const i32 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const u16 = (n: number) => n.toString(16).padStart(4, '0');

/** An env-h1 frame with its CRC-16/MODBUS (little-endian) appended. */
function envH1(body: string): string {
  const bytes = Buffer.from(body, 'hex');
  const crc = crc16modbus(bytes);
  return hex(body, [crc & 0xff, crc >> 8]);
}

const tracker = (ts: number, lat: number, lon: number, battery: number, speed: number) =>
  hex(u32(ts), '7c', i32(lat), i32(lon), '7c', [battery], u16(speed));

const reading = (productId: string, device: string, body: object): Input => ({
  envelope: { productId, topic: `devices/${device}/telemetry`, payload: JSON.stringify(body) },
});

/** The frames of each example product: typical ones, edge cases, and ones that must be refused. */
const CASES: Record<string, Record<string, Input>> = {
  'env-h1': {
    'two probes, mode normal, battery low': {
      bare: envH1('AA55010203042611221030000' + '0E12D11' + '02' + '6608B108'),
    },
    'one probe, mode boost, door open, humidity out of range (dropped)': {
      bare: envH1('AA55A1B2C3D4261122102959FF9C8C2201' + '18FC'),
    },
    'no probes: a valid frame with no readings': { bare: envH1('AA55010203042611221030000' + '0E12D1100') },
    'bad CRC': { bare: `${envH1('AA55010203042611221030000' + '0E12D1100').slice(0, -2)}00` },
    'BCD digit above 9 in the time': { bare: envH1('AA550102030426112210300A00E12D1100') },
  },
  'door-d6': {
    // D6, serial, epoch seconds (NOW − 60 s), status bits, battery (hundredths of a volt), temperature (tenths)
    'door open, temperature probe missing (0x7FFF)': {
      bare: hex('D6', 'A1B2C3D4', u32(NOW / 1000 - 60), '01', u16(340), '7FFF'),
    },
    'closed, tampered, installed, 23.5 °C': {
      bare: hex('D6', 'A1B2C3D4', u32(NOW / 1000 - 30), '82', u16(329), '00EB'),
    },
    'battery 5.00 V is over the contract': {
      bare: hex('D6', 'A1B2C3D4', u32(NOW / 1000), '00', u16(500), '00EB'),
    },
    'frame cut before the temperature': { bare: hex('D6', 'A1B2C3D4', u32(NOW / 1000), '00', u16(340)) },
  },
  'valve-k7': {
    // 4B37, device id, then keys: 0001 time, 0002 position (%), 0003 pressure (hundredths of a bar), 0004 open
    'two vendor keys between ordinary keys': {
      bare: hex(
        '4B37',
        '0A0B0C0D',
        '0001',
        u32(TS),
        'FF01',
        '03AABBCC',
        '0002',
        '32',
        'FE10',
        '0004DEADBEEF',
        '0003',
        u16(415),
        '0004',
        '01',
      ),
    },
    'position not available (255), valve closed': {
      bare: hex('4B37', '0A0B0C0D', '0001', u32(TS), '0002', 'FF', '0003', u16(0), '0004', '00'),
    },
    'a key neither the spec’s nor a vendor extension': {
      bare: hex('4B37', '0A0B0C0D', '0001', u32(TS), 'FD00', '01', '0004', '01'),
    },
    'a vendor value longer than the frame': {
      bare: hex('4B37', '0A0B0C0D', '0001', u32(TS), 'FF01', '09AABB'),
    },
    // FE20: diagnostics read by their fields (body temperature, cycles); FE30: a fault record kept as hex
    'diagnostics read by their fields, a fault record kept as hex': {
      bare: hex(
        '4B37',
        '0A0B0C0D',
        '0001',
        u32(TS),
        'FE20',
        '06',
        '00EB',
        u32(8000),
        'FE30',
        '03E1020A',
        '0004',
        '01',
      ),
    },
    'diagnostics shorter than their fields': {
      bare: hex('4B37', '0A0B0C0D', '0001', u32(TS), 'FE20', '04', '00EB0000', '0004', '01'),
    },
  },
  'bin-n8': {
    // 4E38, the tag's length, the tag (ASCII), epoch seconds, compartments, then number and fill (tenths of a %)
    'two compartments': {
      bare: hex(
        '4E38',
        '08',
        Buffer.from('BIN-0042').toString('hex'),
        u32(TS),
        '02',
        '01',
        u16(600),
        '02',
        u16(1000),
      ),
    },
    'a tag length past the end of the frame': {
      bare: hex('4E38', 'FF', Buffer.from('BIN-0042').toString('hex'), u32(TS), '00'),
    },
    'a control character in the tag': {
      bare: hex('4E38', '08', '42494E2D30300142', u32(TS), '01', '01', u16(600)),
    },
    'an empty tag': { bare: hex('4E38', '00', u32(TS), '01', '01', u16(600)) },
    'a tag off the contract’s pattern': {
      bare: hex('4E38', '08', Buffer.from('VIAL-042').toString('hex'), u32(TS), '01', '01', u16(600)),
    },
  },
  'meter-kv2': {
    'all four keys and an unknown one': {
      envelope: {
        productId: 'meter-kv2',
        topic: 'meters/MTR00042',
        payload: hex(
          Buffer.from('MTR00042').toString('hex'),
          `000102${u16(2300)}`,
          `000202${u16(500)}`,
          '009901FF',
          `000304${u32(123_456)}`,
          `001004${u32(TS)}`,
        ),
      },
    },
    'current missing (optional), keys in another order': {
      envelope: {
        productId: 'meter-kv2',
        payload: hex(Buffer.from('MTR00043').toString('hex'), `001004${u32(TS)}`, `000102${u16(2291)}`),
      },
    },
    'voltage above the contract': {
      envelope: {
        productId: 'meter-kv2',
        payload: hex(Buffer.from('MTR00042').toString('hex'), `000102${u16(6000)}`, `001004${u32(TS)}`),
      },
    },
    'odd number of hex digits': { envelope: { productId: 'meter-kv2', payload: 'ABC' } },
  },
  'tracker-y3': {
    'a fix in Berlin': {
      envelope: {
        topic: 'trackers/trk-7/frames',
        encoding: 'hex',
        payload: tracker(TS, 52_520_008, 13_404_954, 87, 300),
      },
    },
    'battery out of range (dropped), southern hemisphere': {
      envelope: {
        topic: 'trackers/trk-8/frames',
        encoding: 'hex',
        payload: tracker(TS - 30, -33_868_820, 151_209_296, 180, 0),
      },
    },
    'last segment cut short': {
      envelope: {
        topic: 'trackers/trk-7/frames',
        encoding: 'hex',
        payload: tracker(TS, 1, 2, 3, 4).slice(0, -2),
      },
    },
  },
  'hub-j4': {
    'two children': {
      envelope: {
        productId: 'hub-j4',
        topic: 'devices/hub-9/telemetry',
        payload: JSON.stringify({
          ts: TS,
          children: [
            { id: 'c1', t: 21.5, rh: 40 },
            { id: 'c2', t: 19, rh: 55 },
          ],
        }),
      },
    },
    'a child without humidity': {
      envelope: {
        productId: 'hub-j4',
        topic: 'devices/hub-3/telemetry',
        payload: JSON.stringify({ ts: TS, children: [{ id: 'c7', t: -3.25 }] }),
      },
    },
    'children is not an array': {
      envelope: {
        productId: 'hub-j4',
        topic: 'devices/hub-9/telemetry',
        payload: JSON.stringify({ ts: TS, children: { id: 'c1' } }),
      },
    },
  },
  'logger-c5': {
    'a batch of three rows': {
      envelope: {
        productId: 'logger-c5',
        protocol: 'rest',
        payload:
          'device;timestamp;temp_c;pressure_hpa\nlg-1;2026-11-22T09:00:00Z;20.5;1013\nlg-1;2026-11-22T09:10:00Z;20.7;1012.5\nlg-1;2026-11-22T09:20:00+01:00;20.9;1012\n',
      },
    },
    'quoted cells and an empty pressure': {
      envelope: {
        productId: 'logger-c5',
        protocol: 'rest',
        payload:
          '"device";"timestamp";"temp_c";"pressure_hpa"\n"lg-2";"2026-11-22T09:05:00.250Z";"-1.5";""\n',
      },
    },
    'a temperature that is not a number': {
      envelope: {
        productId: 'logger-c5',
        protocol: 'rest',
        payload: 'device;timestamp;temp_c;pressure_hpa\nlg-1;2026-11-22T09:00:00Z;warm;1013\n',
      },
    },
  },
  'thermo-t1': {
    reading: reading('thermo-t1', 'th-1', {
      device_id: 'th-1',
      ts: NOW - 1000,
      metrics: { temperature: 21.5, humidity: 40 },
    }),
    'humidity out of range (dropped)': reading('thermo-t1', 'th-2', {
      device_id: 'th-2',
      ts: NOW - 2000,
      metrics: { temperature: 19, humidity: 140 },
    }),
    'an hour in the future': reading('thermo-t1', 'th-1', {
      device_id: 'th-1',
      ts: NOW + 3_600_000,
      metrics: { temperature: 20 },
    }),
  },
  'meter-m2': {
    reading: reading('meter-m2', 'mm-1', {
      device_id: 'mm-1',
      ts: NOW - 1000,
      metrics: { power: 1250, energy: 98_765.4 },
    }),
    'energy negative (dropped)': reading('meter-m2', 'mm-2', {
      device_id: 'mm-2',
      ts: NOW - 1000,
      metrics: { power: 0, energy: -1 },
    }),
    'power missing': reading('meter-m2', 'mm-1', {
      device_id: 'mm-1',
      ts: NOW - 1000,
      metrics: { energy: 5 },
    }),
  },
  'air-a3': {
    reading: reading('air-a3', 'aq-1', {
      device_id: 'aq-1',
      ts: NOW - 1000,
      metrics: { pm25: 12.5, co2: 640 },
    }),
    'co2 below the scale (dropped)': reading('air-a3', 'aq-2', {
      device_id: 'aq-2',
      ts: NOW - 1000,
      metrics: { pm25: 3, co2: 120 },
    }),
    'pm25 as a string': reading('air-a3', 'aq-1', {
      device_id: 'aq-1',
      ts: NOW - 1000,
      metrics: { pm25: '12' },
    }),
  },
};

async function run(product: string): Promise<object> {
  const out: Record<string, object> = {};
  let sequence = 0;
  for (const [name, input] of Object.entries(CASES[product]!)) {
    const b = new TopologyBuilder('decode');
    const source = b.source('input', new MemorySource<RawRecord>());
    const decoded = source.via('decode', decodeBySpec(specs));
    const telemetry = decoded.to('out', { type: 'none', write: async () => {} });
    const dlq = decoded.side('dlq').to('dlq', { type: 'none', write: async () => {} });
    const driver = new TopologyTestDriver(b.build(), { clock: new ManualClock(NOW) });
    driver.send(source, 's', [toRecord(input, ++sequence)]);
    await driver.settle();
    out[name] = { input, telemetry: [...driver.output(telemetry)], deadLetters: [...driver.output(dlq)] };
    await driver.close();
  }
  // through JSON, as a sink would see it: absent and undefined fields are the same
  return JSON.parse(JSON.stringify(out));
}

describe('decode goldens of the example products', () => {
  it('covers every bundled spec', () => {
    expect(Object.keys(CASES).sort()).toEqual(specs.specs.map((s) => s.spec.productId).sort());
  });

  for (const product of Object.keys(CASES)) {
    it(`${product}: frames to telemetry and dead letters`, async () => {
      const actual = await run(product);
      const file = new URL(`../../../golden/decode/${product}.json`, import.meta.url);
      if (process.env.UPDATE_GOLDEN) writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
      expect(actual).toStrictEqual(JSON.parse(readFileSync(file, 'utf8')));
    });
  }
});
