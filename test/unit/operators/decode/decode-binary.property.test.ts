import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../../operators/decode/errors.ts';
import { crc16Modbus } from '../../../../operators/decode/formats/checksum.ts';
import { compileHex } from '../../../../operators/decode/formats/hex.ts';
import { compileHybrid } from '../../../../operators/decode/formats/hybrid.ts';
import { compileKv } from '../../../../operators/decode/formats/kv.ts';
import type { FrameDecoder } from '../../../../operators/decode/frame.ts';
import { formatSchema, type HexFormat, type HybridFormat, type KvFormat } from '../../../../specs/schema.ts';

// Whatever the bytes, a decoder returns records or throws a DecodeError, and does so quickly.
const bytes = (h: string) =>
  Uint8Array.from(h.replace(/\s+/g, '').match(/../g) ?? [], (b) => Number.parseInt(b, 16));

const group = {
  fields: [
    { name: 'ch', type: 'u8' },
    { name: 'v', type: 'i16', scale: 0.1, na: [0x7fff, -32768] },
    { name: 'f', type: 'f32', endian: 'little', decimals: 3 },
  ],
};
const hexFields = [
  { name: 'device', type: 'u32' },
  { name: 'n', type: 'u16' },
  {
    name: 'flags',
    type: 'u8',
    bits: [
      { name: 'alarm', shift: 0, width: 1, boolean: true },
      { name: 'mode', shift: 1, width: 2, enum: { '0': false, '1': true }, na: [3] },
    ],
  },
  { name: 'date', type: 'bcd', length: 3 },
];
const hexPlain = compileHex(
  formatSchema.parse({ type: 'hex', fields: hexFields, repeat: { count: 'n', ...group } }) as HexFormat,
);
const hexCrc = compileHex(
  formatSchema.parse({
    type: 'hex',
    fields: hexFields,
    repeat: { count: 'n', ...group },
    checksum: { algorithm: 'crc16-modbus', at: -2, endian: 'little' },
  }) as HexFormat,
);
const kvKeys = {
  '0001': { name: 'temp', type: 'i16', scale: 0.1, na: [0x7fff] },
  '0002': { name: 'name', type: 'ascii', length: 6 },
  '0003': { name: 'serial', type: 'bcd', length: 4 },
  '0004': { name: 'energy', type: 'f64' },
  '0005': { name: 'count', type: 'u64', scale: 0.001 },
};
const kvLength = compileKv(
  formatSchema.parse({
    type: 'kv',
    header: [{ name: 'ver', type: 'u8' }],
    keys: kvKeys,
    lengthByte: true,
    unknownKeys: 'skip',
  }) as KvFormat,
);
const kvPlain = compileKv(
  formatSchema.parse({
    type: 'kv',
    keys: kvKeys,
    extensions: [{ keys: 'FF00-FFFF' }, { keys: 'FE10', length: 'word' }],
  }) as KvFormat,
);
const hybridText = compileHybrid(
  formatSchema.parse({
    type: 'hybrid',
    separator: '|',
    segments: [
      { fields: [{ name: 'id', type: 'ascii', length: 4 }] },
      {
        fields: [
          { name: 't', type: 'i16' },
          { name: 'h', type: 'u8' },
        ],
      },
      { fields: [{ name: 'code', type: 'hex', length: 2 }] },
    ],
  }) as HybridFormat,
);

function withCrc(frame: Uint8Array): Uint8Array {
  const crc = crc16Modbus(frame);
  return new Uint8Array([...frame, crc & 0xff, crc >> 8]);
}

const hexFrame = bytes('00000001 0002 01 251231  01 00FA 0000C03F  02 FF06 00002040');
const cases: { name: string; decode: FrameDecoder; valid: Uint8Array }[] = [
  { name: 'hex', decode: hexPlain, valid: hexFrame },
  { name: 'hex with crc', decode: hexCrc, valid: withCrc(hexFrame) },
  {
    name: 'kv with length bytes',
    decode: kvLength,
    valid: bytes(
      '01 0001 02 00FA 0002 06 4142430000 00 0003 04 12345678 00FF 01 AA 0005 08 0000000000000010',
    ),
  },
  { name: 'kv', decode: kvPlain, valid: bytes('0001 00FA 0004 400921FB54442D18 0003 12345678') },
  {
    name: 'hybrid',
    decode: hybridText,
    valid: new Uint8Array([0x41, 0x42, 0x43, 0x44, 0x7c, 0, 250, 55, 0x7c, 0xbe, 0xef]),
  },
];

/** Runs a decoder and returns 'ok' or the DecodeError code; any other throw fails the test. */
/** `ok` or the decode error's code; anything else thrown fails the test. A decoder that ran away on a
 * forged length would hit the test's timeout (no timed assertion: speed lives in `bench/`). */
function outcome(decode: FrameDecoder, payload: Uint8Array): string {
  try {
    const records = decode(payload);
    expect(Array.isArray(records)).toBe(true);
    return 'ok';
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return e.code;
  }
}

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; tail: Uint8Array }
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'huge'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), tail: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('huge' as const), at: fc.nat() }),
);

function mutate(frame: Uint8Array, mutations: Mutation[]): Uint8Array {
  let out = frame.slice();
  for (const m of mutations) {
    if (out.length === 0) break;
    if (m.kind === 'truncate') out = out.slice(0, m.at % out.length);
    else if (m.kind === 'extend') out = new Uint8Array([...out, ...m.tail]);
    else if (m.kind === 'flip') out[m.at % out.length] = m.value;
    else {
      // Two 0xFF bytes: the largest count, length byte or u16 a field can declare.
      const at = m.at % out.length;
      out[at] = 0xff;
      if (at + 1 < out.length) out[at + 1] = 0xff;
    }
  }
  return out;
}

describe.each(cases)('$name decoder', ({ decode, valid }) => {
  it('decodes its valid frame', () => {
    expect(outcome(decode, valid)).toBe('ok');
  });

  it('returns records or a DecodeError for random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (payload) => {
        outcome(decode, payload);
      }),
      { numRuns: 300 },
    );
  });

  it('returns records or a DecodeError for mutations of a valid frame', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        outcome(decode, mutate(valid, mutations));
      }),
      { numRuns: 300 },
    );
  });

  it('handles a 5 MB random payload (a runaway would hit the test timeout)', () => {
    const payload = new Uint8Array(5 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 2_654_435_761) >>> 24;
    expect(typeof outcome(decode, payload)).toBe('string');
    expect(typeof outcome(decode, new Uint8Array([...valid, ...payload.subarray(0, 1024 * 1024)]))).toBe(
      'string',
    );
  });
});

describe('forged lengths', () => {
  it('a count of 65535 over a short frame is truncated without decoding the entries', () => {
    const forged = hexFrame.slice();
    forged[4] = 0xff;
    forged[5] = 0xff;
    expect(outcome(hexPlain, forged)).toBe('truncated');
    expect(() => hexPlain(forged)).toThrow('65535 groups need 458745 bytes at offset 10, frame has 24');
  });

  it('a length byte past the end of the frame is truncated', () => {
    expect(outcome(kvLength, bytes('01 00FF FF 0102'))).toBe('truncated');
    expect(outcome(kvLength, bytes('01 0002 FF 4142'))).toBe('bad-value');
  });
});
