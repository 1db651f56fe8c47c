/**
 * Golden tests: a frame of each example product, through the decode stage with the bundled specs,
 * to the exact standard telemetry; and what becomes a dead letter, with which reason code.
 */
import { describe, expect, it } from 'vitest';
import { SpecRegistry } from '../../../../operators/decode/registry.ts';
import { decodeBySpec } from '../../../../operators/decodeBySpec.ts';
import {
  type DeadLetter,
  ManualClock,
  MemorySource,
  type RawRecord,
  type Telemetry,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../../../topology/index.ts';
import { rawRecord } from '../../../support/records.ts';
import { enveloped, envH1Frame } from './fixtures.ts';

const NOW = Date.UTC(2026, 10, 22, 9, 31, 0); // 2026-11-22 10:31 in Berlin
const specs = new SpecRegistry('specs/examples');
specs.load();

async function decode(
  records: RawRecord[],
): Promise<{ telemetry: readonly Telemetry[]; dead: readonly DeadLetter[] }> {
  const b = new TopologyBuilder('decode');
  const input = b.source('input', new MemorySource<RawRecord>());
  const decoded = input.via('decode', decodeBySpec(specs));
  const out = decoded.to('out', { type: 'none', write: async () => {} });
  const dlq = decoded.side('dlq').to('dlq', { type: 'none', write: async () => {} });
  const driver = new TopologyTestDriver(b.build(), { clock: new ManualClock(NOW) });
  driver.send(input, 's', records);
  await driver.settle();
  const result = { telemetry: [...driver.output(out)], dead: [...driver.output(dlq)] };
  await driver.close();
  return result;
}

describe('decoding the example products', () => {
  it('loads every bundled spec', () => {
    expect(specs.specs.map((s) => s.spec.id).sort()).toEqual([
      'air-a3',
      'bin-n8',
      'door-d6',
      'env-h1',
      'hub-j4',
      'logger-c5',
      'meter-kv2',
      'meter-m2',
      'thermo-t1',
      'tracker-y3',
      'valve-k7',
    ]);
  });

  it('hex length-based with CRC, BCD local time, bit fields, an enum and a repeated group (env-h1)', async () => {
    const { telemetry, dead } = await decode([rawRecord(envH1Frame('261122103000'))]);
    expect(dead).toEqual([]);
    expect(telemetry).toHaveLength(2);
    expect(telemetry[0]).toMatchObject({
      device_id: '01020304',
      device_timestamp: Date.UTC(2026, 10, 22, 9, 30, 0),
      productId: 'env-h1',
      metrics: {
        temperature: 22.5,
        humidity: 45,
        battery_low: 1,
        door_open: 0,
        mode: 'normal',
        probes: 2,
        probe_temperature: 21.5,
      },
      rawRef: { format: 'hex', specId: 'env-h1', specVersion: 1 },
    });
    expect(telemetry[1]!.metrics.probe_temperature).toBe(22.25);
  });

  it('refuses an env-h1 frame with a bad CRC as checksum-mismatch', async () => {
    const { telemetry, dead } = await decode([rawRecord(envH1Frame('261122103000', true))]);
    expect(telemetry).toEqual([]);
    expect(dead[0]).toMatchObject({
      code: 'checksum-mismatch',
      specId: 'env-h1',
      specVersion: 1,
      node: 'decode',
    });
  });

  it('key-value with length bytes, an unknown key skipped, from a hex-text payload (meter-kv2)', async () => {
    const ts = Math.floor(NOW / 1000) - 60;
    const payload = [
      Buffer.from('MTR00042').toString('hex'),
      '0001' + '02' + '08FC', // voltage 2300 → 230.0
      '0002' + '02' + '01F4', // current 500 → 5.00
      '0099' + '01' + 'FF', // unknown: skipped by its length
      '0003' + '04' + '0001E240', // energy 123456 → 123.456
      `001004${ts.toString(16).padStart(8, '0')}`,
    ].join('');
    const { telemetry, dead } = await decode([
      enveloped({ productId: 'meter-kv2', topic: 'meters/MTR00042', payload }, NOW),
    ]);
    expect(dead).toEqual([]);
    expect(telemetry).toEqual([
      expect.objectContaining({
        device_id: 'MTR00042',
        device_timestamp: ts * 1000,
        metrics: { voltage: 230, current: 5, energy: 123.456 },
      }),
    ]);
  });

  it('hybrid segments split by "|" with the device id from the topic (tracker-y3)', async () => {
    const ts = Math.floor(NOW / 1000) - 5;
    const i32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      return b;
    };
    const tsBytes = Buffer.alloc(4);
    tsBytes.writeUInt32BE(ts);
    const frame = Buffer.concat([
      tsBytes,
      Buffer.from('|'),
      i32(52_520_008),
      i32(13_404_954),
      Buffer.from('|'),
      Buffer.from([87, 0x01, 0x2c]), // battery 87, speed 300 → 30.0
    ]);
    const { telemetry, dead } = await decode([
      enveloped(
        { topic: 'trackers/trk-7/frames', encoding: 'base64', payload: frame.toString('base64') },
        NOW,
      ),
    ]);
    expect(dead).toEqual([]);
    expect(telemetry[0]).toMatchObject({
      device_id: 'trk-7',
      device_timestamp: ts * 1000,
      metrics: { latitude: 52.520008, longitude: 13.404954, battery: 87, speed: 30 },
    });
  });

  it('a JSON hub message with child readings becomes one record per child (hub-j4)', async () => {
    const ts = Math.floor(NOW / 1000) - 2;
    const payload = JSON.stringify({
      ts,
      children: [
        { id: 'c1', t: 21.5, rh: 40 },
        { id: 'c2', t: 19, rh: 55 },
      ],
    });
    const { telemetry, dead } = await decode([
      enveloped({ productId: 'hub-j4', topic: 'devices/hub-9/telemetry', payload }, NOW),
    ]);
    expect(dead).toEqual([]);
    expect(
      telemetry.map((t) => [t.device_id, t.hub_id, t.childDeviceId, t.hub_timestamp, t.metrics]),
    ).toEqual([
      ['c1', 'hub-9', 'c1', ts * 1000, { temperature: 21.5, humidity: 40 }],
      ['c2', 'hub-9', 'c2', ts * 1000, { temperature: 19, humidity: 55 }],
    ]);
  });

  it('a CSV batch with quoting becomes one record per row (logger-c5)', async () => {
    const payload =
      'device;timestamp;temp_c;pressure_hpa\n"lg-1";2026-11-22T09:00:00Z;20.5;1013\nlg-1;2026-11-22T09:10:00Z;20.7;\n';
    const { telemetry, dead } = await decode([
      enveloped({ productId: 'logger-c5', protocol: 'rest', payload }, NOW),
    ]);
    expect(dead).toEqual([]);
    expect(telemetry.map((t) => [t.device_id, t.device_timestamp, t.metrics])).toEqual([
      ['lg-1', Date.parse('2026-11-22T09:00:00Z'), { temperature: 20.5, pressure: 1013 }],
      ['lg-1', Date.parse('2026-11-22T09:10:00Z'), { temperature: 20.7, pressure: null }],
    ]);
  });

  it('the demo fleet’s JSON readings, and its malformed ones as dead letters with reason codes', async () => {
    const ok = JSON.stringify({
      device_id: 'dev-1',
      ts: NOW - 1000,
      metrics: { temperature: 21.5, humidity: 40 },
    });
    const { telemetry, dead } = await decode([
      enveloped({ productId: 'thermo-t1', topic: 'devices/dev-1/telemetry', payload: ok }, NOW),
      enveloped({ productId: 'thermo-t1', topic: 'devices/dev-1/telemetry', payload: ok.slice(0, -7) }, NOW),
      enveloped(
        { productId: 'thermo-t1', payload: JSON.stringify({ ts: NOW, metrics: { temperature: 20 } }) },
        NOW,
      ),
      enveloped({ productId: 'fridge-x9', payload: ok }, NOW),
    ]);
    expect(telemetry).toEqual([
      expect.objectContaining({
        device_id: 'dev-1',
        productId: 'thermo-t1',
        metrics: { temperature: 21.5, humidity: 40 },
      }),
    ]);
    expect(dead.map((d) => d.code)).toEqual(['invalid-json', 'no-device-id', 'no-spec']);
    expect(dead[2]!.specId).toBeUndefined();
  });

  it('applies the contract: reject, drop a metric, clock skew', async () => {
    const reading = (metrics: object, ts = NOW - 1000) =>
      enveloped({ productId: 'thermo-t1', payload: JSON.stringify({ device_id: 'd', ts, metrics }) }, NOW);
    const { telemetry, dead } = await decode([
      reading({ temperature: 120, humidity: 40 }), // out of range, policy reject
      reading({ temperature: 20, humidity: 140 }), // out of range, policy drop-metric
      reading({ humidity: 40 }), // required temperature missing
      reading({ temperature: 20 }, NOW + 3_600_000), // an hour in the future
      reading({ temperature: '20' }), // wrong type
    ]);
    expect(telemetry.map((t) => t.metrics)).toEqual([{ temperature: 20 }]);
    expect(dead.map((d) => d.code)).toEqual([
      'contract-range',
      'contract-missing',
      'clock-skew',
      'contract-type',
    ]);
  });

  it('sends a payload over the spec’s size limit to dead letters', async () => {
    const huge = JSON.stringify({
      device_id: 'd',
      ts: NOW,
      metrics: { temperature: 20, pad: 'x'.repeat(70_000) },
    });
    const { dead } = await decode([enveloped({ productId: 'thermo-t1', payload: huge }, NOW)]);
    expect(dead[0]?.code).toBe('payload-too-large');
  });
});
