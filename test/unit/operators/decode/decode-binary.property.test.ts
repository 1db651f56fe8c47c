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

// Lengths from earlier fields, an ascii id (checked as one), and a group after the variable fields.
const hexLengthsFormat = formatSchema.parse({
  type: 'hex',
  fields: [
    { name: 'tag_length', type: 'u8', skip: true },
    { name: 'tag', type: 'ascii', lengthFrom: 'tag_length' },
    { name: 'note_length', type: 'u16' },
    { name: 'note', type: 'hex', lengthFrom: 'note_length' },
    { name: 'digits', type: 'bcd', lengthFrom: 'tag_length' },
    { name: 'n', type: 'u8' },
  ],
  repeat: {
    count: 'n',
    fields: [
      { name: 'ch', type: 'u8' },
      { name: 'v', type: 'i16', na: [0x7fff] },
    ],
  },
}) as HexFormat;
const idProjection = { keep: ['note_length', 'note', 'digits', 'n', 'ch', 'v'], aux: ['tag'], ids: ['tag'] };
const hexLengths = compileHex(hexLengthsFormat, idProjection);
const hexLengthsCrc = compileHex(
  { ...hexLengthsFormat, checksum: { algorithm: 'crc16-modbus', from: 0, at: -2, endian: 'little' } },
  idProjection,
);
// Vendor extensions decoded by fields (one with bits), kept as hex, and skipped.
const kvExtensions = compileKv(
  formatSchema.parse({
    type: 'kv',
    keys: { '0001': { name: 'temp', type: 'i16', scale: 0.1 } },
    extensions: [
      {
        keys: 'FE20',
        fields: [
          { name: 'body', type: 'i16', scale: 0.1, na: [0x7fff] },
          { name: 'flags', type: 'u8', bits: [{ name: 'fault', shift: 0, width: 1, boolean: true }] },
          { name: 'serial', type: 'bcd', length: 2 },
        ],
      },
      { keys: 'FE30', length: 'word', hex: 'blob' },
      { keys: 'FF00-FFFF' },
    ],
  }) as KvFormat,
);
const hexLengthsFrame = bytes('04 41424344 0002 BEEF 12345678 02 01 00FA 02 7FFF');

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
  { name: 'hex with lengths from earlier fields', decode: hexLengths, valid: hexLengthsFrame },
  { name: 'hex with lengths and crc', decode: hexLengthsCrc, valid: withCrc(hexLengthsFrame) },
  {
    name: 'kv with extension values',
    decode: kvExtensions,
    valid: bytes('0001 00FA FE20 07 00EB 01 1234 AAAA FE30 0003 E1020A FF01 01 00 0001 00FB'),
  },
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

/** The message of a DecodeError, or undefined when the frame decodes. */
function failure(decode: FrameDecoder, payload: Uint8Array): DecodeError | undefined {
  try {
    decode(payload);
    return undefined;
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return e;
  }
}

describe.each([
  { name: 'hex with lengths from earlier fields', decode: hexLengths, valid: hexLengthsFrame },
  { name: 'hex with lengths and crc', decode: hexLengthsCrc, valid: withCrc(hexLengthsFrame) },
  {
    name: 'kv with extension values',
    decode: kvExtensions,
    valid: bytes('0001 00FA FE20 07 00EB 01 1234 AAAA FE30 0003 E1020A FF01 01 00 0001 00FB'),
  },
])('$name: where a frame fails', ({ decode, valid }) => {
  it('every failure of a mutated frame names an offset', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const error = failure(decode, mutate(valid, mutations));
        if (error !== undefined && error.code !== 'checksum-mismatch')
          expect(error.message).toMatch(/offset -?\d+/);
      }),
      { numRuns: 500 },
    );
  });
});

describe('lengths, extension values and ascii ids', () => {
  it('a length past the frame is truncated with the field and its offset', () => {
    const error = failure(hexLengths, bytes('04 41424344 0102 BEEF'));
    expect(error?.code).toBe('truncated');
    expect(error?.message).toBe(
      'field note of length 258 (from note_length) at offset 7 runs past the frame of 9 bytes',
    );
  });

  it('a length that would swallow the checksum is truncated before it', () => {
    const frame = withCrc(bytes('04 41424344 0002 BEEF 12345678 00'));
    frame[5] = 0;
    frame[6] = 5; // the note takes the 3 bytes that follow it and the two of the CRC
    const crc = crc16Modbus(frame.subarray(0, -2));
    frame[frame.length - 2] = crc & 0xff;
    frame[frame.length - 1] = crc >> 8;
    expect(failure(hexLengthsCrc, frame)?.code).toBe('truncated');
  });

  it('an ascii id that is empty or holds a control character is bad-id-bytes with its offset', () => {
    expect(failure(hexLengths, bytes('00 0000 00'))?.message).toBe('id field tag at offset 1 is empty');
    expect(failure(hexLengths, bytes('04 20200000 0000 00'))?.code).toBe('bad-id-bytes');
    const control = failure(hexLengths, bytes('04 41094344 0000 00'));
    expect(control?.code).toBe('bad-id-bytes');
    expect(control?.message).toBe('id field tag: control character 0x09 at offset 2');
  });

  it('an extension value shorter than its fields is truncated with the key and both offsets', () => {
    const error = failure(kvExtensions, bytes('0001 00FA FE20 03 00EB 01'));
    expect(error?.code).toBe('truncated');
    expect(error?.message).toBe(
      'key 0xFE20 at offset 4: field serial needs 2 bytes at offset 10, the value has 3',
    );
  });

  it('a forged word length of an extension is truncated without reading on', () => {
    expect(failure(kvExtensions, bytes('FE30 FFFF 0102'))?.message).toBe(
      'key 0xFE30 at offset 0 needs 65535 bytes',
    );
  });
});
