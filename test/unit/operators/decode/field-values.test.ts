/**
 * Field values beyond numbers: booleans from bits and integers (and enums that map to them), values
 * that mean "not available" (the metric absent, through the whole spec), and scaled integers rounded
 * to the decimals their scale implies.
 */
import { describe, expect, it } from 'vitest';
import { compileSpec } from '../../../../operators/decode/compileSpec.ts';
import { readIncoming } from '../../../../operators/decode/envelope.ts';
import { compileHex } from '../../../../operators/decode/formats/hex.ts';
import { compileKv } from '../../../../operators/decode/formats/kv.ts';
import { formatSchema, type HexFormat, type KvFormat, specSchema } from '../../../../specs/schema.ts';
import type { RawRecord } from '../../../../topology/index.ts';

const hex = (f: object) => compileHex(formatSchema.parse({ type: 'hex', ...f }) as HexFormat);
const kv = (f: object) => compileKv(formatSchema.parse({ type: 'kv', ...f }) as KvFormat);
const bytes = (h: string) =>
  Uint8Array.from(h.replace(/\s+/g, '').match(/../g) ?? [], (b) => Number.parseInt(b, 16));

describe('booleans', () => {
  it('a 1-bit field, an integer and an enum give booleans', () => {
    const decode = hex({
      fields: [
        {
          name: 'status',
          type: 'u8',
          bits: [
            { name: 'door_open', shift: 0, width: 1, boolean: true },
            { name: 'tamper', shift: 1, width: 1, boolean: true },
            { name: 'mode', shift: 4, width: 2, enum: { '0': false, '1': true, '2': 'service' } },
          ],
        },
        { name: 'heating', type: 'u16', boolean: true },
      ],
    });
    expect(decode(bytes('11 0000'))).toEqual([
      { door_open: true, tamper: false, mode: true, heating: false },
    ]);
    expect(decode(bytes('22 0100'))).toEqual([
      { door_open: false, tamper: true, mode: 'service', heating: true },
    ]);
  });

  it('refuses a boolean field with a scale, offset or enum', () => {
    for (const extra of [{ scale: 2 }, { offset: 1 }, { enum: { '1': 'x' } }])
      expect(() =>
        formatSchema.parse({ type: 'hex', fields: [{ name: 'b', type: 'u8', boolean: true, ...extra }] }),
      ).toThrow(/a boolean field has no scale, offset or enum/);
  });
});

describe('values that mean "not available"', () => {
  it('leave the field without a value, before scale and enum', () => {
    const decode = hex({
      fields: [
        { name: 'temp', type: 'i16', scale: 0.1, na: [0x7fff, -32768] },
        { name: 'level', type: 'u8', na: [255], enum: { '1': 'low' } },
        { name: 'serial', type: 'hex', length: 2, na: ['ffff'] },
      ],
    });
    expect(decode(bytes('00EB 01 0A0B'))).toEqual([{ temp: 23.5, level: 'low', serial: '0a0b' }]);
    const [absent] = decode(bytes('7FFF FF FFFF'));
    expect(absent).toEqual({ temp: undefined, level: undefined, serial: undefined });
    expect(decode(bytes('8000 02 0001'))[0]!.temp).toBeUndefined();
  });

  it('make the metric absent in the telemetry, and a required one a contract violation', () => {
    const spec = specSchema.parse({
      id: 'na-test',
      version: 1,
      productId: 'na-test',
      match: { productId: 'na-test' },
      payload: { encoding: 'envelope' },
      format: {
        type: 'hex',
        fields: [
          { name: 'id', type: 'u16' },
          { name: 'temp', type: 'i16', scale: 0.1, na: [0x7fff] },
          { name: 'hum', type: 'u8', na: [255] },
        ],
      },
      telemetry: { deviceId: { from: 'field', field: 'id' }, timestamp: { from: 'ingest' } },
      contract: { metrics: { temp: { type: 'number' }, hum: { type: 'number', required: true } } },
    });
    const compiled = compileSpec(spec);
    const now = Date.parse('2026-12-07T12:00:00Z');
    const decode = (payload: string) => {
      const record: RawRecord = {
        stream: 's',
        shardId: 'shardId-000000000000',
        sequenceNumber: '1',
        partitionKey: 'p',
        arrivedAt: now,
        data: Buffer.from(
          JSON.stringify({
            v: 1,
            protocol: 'mqtt',
            productId: 'na-test',
            receivedAt: now,
            encoding: 'hex',
            payload: payload.replaceAll(' ', ''),
          }),
        ),
      };
      return compiled.decode(record, readIncoming(record), now);
    };
    const [t] = decode('0007 7FFF 28');
    expect(t!.metrics).toEqual({ hum: 40 });
    expect(Object.keys(t!.metrics)).toEqual(['hum']);
    expect(() => decode('0007 00FA FF')).toThrow(/hum/);
  });
});

describe('scaled integers', () => {
  it('are rounded to the decimals scale and offset imply, or to the spec’s', () => {
    const decode = hex({
      fields: [
        { name: 'a', type: 'u16', scale: 0.1 },
        { name: 'b', type: 'i16', scale: 0.01, offset: -40 },
        { name: 'c', type: 'u8', scale: 0.5 },
        { name: 'd', type: 'f32', scale: 0.1 },
        { name: 'e', type: 'f32', decimals: 2 },
        { name: 'f', type: 'u32', scale: 0.001, decimals: 1 },
        { name: 'g', type: 'u8', bits: [{ name: 'h', shift: 0, width: 8, scale: 0.1 }] },
      ],
    });
    // a = 634 × 0.1, b = 1234 × 0.01 − 40, c = 3 × 0.5, d = 1.5f × 0.1 (a float: not rounded),
    // e = 3.14159f to 2 decimals, f = 123456 × 0.001 to 1 decimal, h = 7 × 0.1
    const [r] = decode(bytes('027A 04D2 03 3FC00000 40490FD0 0001E240 07'));
    expect(r).toEqual({ a: 63.4, b: -27.66, c: 1.5, d: 1.5 * 0.1, e: 3.14, f: 123.5, h: 0.7 });
    expect(634 * 0.1).not.toBe(63.4); // what it was before
  });

  it('in key-value frames too', () => {
    const decode = kv({
      keys: {
        '0001': { name: 'volts', type: 'u16', scale: 0.1 },
        '0002': { name: 'ok', type: 'u8', boolean: true },
      },
    });
    expect(decode(bytes('0001 027A 0002 01'))).toEqual([{ volts: 63.4, ok: true }]);
  });
});

describe('vendor extensions in key-value frames', () => {
  const decode = kv({
    keys: { '0001': { name: 'volts', type: 'u16', scale: 0.1 }, '0002': { name: 'level', type: 'u8' } },
    extensions: [{ keys: 'FF00-FFFF' }, { keys: 'FE10', length: 'word' }],
  });
  const codeOf = (frame: string) => {
    try {
      decode(bytes(frame));
      return 'decoded';
    } catch (error) {
      return `${(error as { code?: string }).code}: ${(error as Error).message}`;
    }
  };

  it('skips two vendor keys of different lengths between ordinary keys', () => {
    expect(decode(bytes('0001 027A  FF01 03 AABBCC  0002 05  FE10 0004 DEADBEEF  FFFF 00'))).toEqual([
      { volts: 63.4, level: 5 },
    ]);
  });

  it('keeps refusing a key that is neither the spec’s nor an extension, with the key and offset', () => {
    expect(codeOf('0001 027A  FD00 01 00')).toBe('unknown-key: key 0xFD00 at offset 4');
  });

  it('refuses a vendor value that runs past the frame', () => {
    expect(codeOf('0001 027A  FF01 09 AABB')).toMatch(/^truncated: key 0xFF01 at offset 4 needs 9 bytes/);
    expect(codeOf('0001 027A  FE10 00')).toMatch(/^truncated: key 0xFE10 at offset 4 needs 2 bytes/);
  });

  it('refuses a range that ends below its start', () => {
    expect(() => kv({ keys: {}, extensions: [{ keys: 'FFFF-FF00' }] })).toThrow(/is not a range/);
  });
});
