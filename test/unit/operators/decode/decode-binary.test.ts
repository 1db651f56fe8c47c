import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../../operators/decode/errors.ts';
import { compileChecksum, crc16Modbus, crc32 } from '../../../../operators/decode/formats/checksum.ts';
import { compileHex } from '../../../../operators/decode/formats/hex.ts';
import { compileHybrid } from '../../../../operators/decode/formats/hybrid.ts';
import { compileKv } from '../../../../operators/decode/formats/kv.ts';
import {
  type Checksum,
  formatSchema,
  type HexFormat,
  type HybridFormat,
  type KvFormat,
} from '../../../../specs/schema.ts';

// Formats go through the schema, as a loaded spec does, so defaults (endian, skip) are the real ones.
const hex = (f: object) => compileHex(formatSchema.parse({ type: 'hex', ...f }) as HexFormat);
const kv = (f: object) => compileKv(formatSchema.parse({ type: 'kv', ...f }) as KvFormat);
const hybrid = (f: object) => compileHybrid(formatSchema.parse({ type: 'hybrid', ...f }) as HybridFormat);
const bytes = (h: string) =>
  Uint8Array.from(h.replace(/\s+/g, '').match(/../g) ?? [], (b) => Number.parseInt(b, 16));
const ascii = (s: string) => new TextEncoder().encode(s);

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    if (e instanceof DecodeError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('hex fields', () => {
  it('reads every integer and float type in both endians', () => {
    const types = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'f64'];
    const decode = hex({
      fields: types.flatMap((t) => [
        { name: `${t}b`, type: t },
        { name: `${t}l`, type: t, endian: 'little' },
      ]),
    });
    const frame = bytes(`
      FE FE  80 80  FF38 38FF  FF38 38FF  DEADBEEF EFBEADDE  FFFFFF38 38FFFFFF
      3FC00000 0000C03F  400921FB54442D18 182D4454FB210940`);
    expect(decode(frame)).toEqual([
      {
        u8b: 254,
        u8l: 254,
        i8b: -128,
        i8l: -128,
        u16b: 65336,
        u16l: 65336,
        i16b: -200,
        i16l: -200,
        u32b: 0xdeadbeef,
        u32l: 0xdeadbeef,
        i32b: -200,
        i32l: -200,
        f32b: 1.5,
        f32l: 1.5,
        f64b: Math.PI,
        f64l: Math.PI,
      },
    ]);
  });

  it('reads 64-bit integers as numbers while safe, else as decimal strings', () => {
    const decode = hex({
      fields: [
        { name: 'small', type: 'u64' },
        { name: 'big', type: 'u64' },
        { name: 'neg', type: 'i64', endian: 'little' },
        { name: 'huge', type: 'i64' },
      ],
    });
    const frame = bytes(`
      001FFFFFFFFFFFFF  FFFFFFFFFFFFFFFF  38FFFFFFFFFFFFFF  8000000000000000`);
    expect(decode(frame)).toEqual([
      {
        small: Number.MAX_SAFE_INTEGER,
        big: '18446744073709551615',
        neg: -200,
        huge: '-9223372036854775808',
      },
    ]);
  });

  it('reads bcd, ascii and hex fields', () => {
    const decode = hex({
      fields: [
        { name: 'date', type: 'bcd', length: 3 },
        { name: 'imei', type: 'bcd', length: 8 },
        { name: 'model', type: 'ascii', length: 8 },
        { name: 'mac', type: 'hex', length: 3 },
      ],
    });
    const frame = new Uint8Array([
      ...bytes('251231 0863759004123456'),
      ...ascii('TH-1 '),
      0,
      0,
      0,
      ...bytes('A1B2C3'),
    ]);
    expect(decode(frame)).toEqual([{ date: 251231, imei: '0863759004123456', model: 'TH-1', mac: 'a1b2c3' }]);
  });

  it('applies scale and offset, and maps enums (unknown raw values stay numbers)', () => {
    const decode = hex({
      fields: [
        { name: 'temp', type: 'i16', scale: 0.5, offset: -10 },
        { name: 'state', type: 'u8', enum: { '0': 'off', '1': 'on' } },
        { name: 'mode', type: 'u8', enum: { '0x02': 'eco' } },
        { name: 'other', type: 'u8', enum: { '0': 'off' } },
      ],
    });
    expect(decode(bytes('0064 01 02 07'))).toEqual([{ temp: 40, state: 'on', mode: 'eco', other: 7 }]);
  });

  it('splits an integer into bit fields and does not emit the integer itself', () => {
    const decode = hex({
      fields: [
        {
          name: 'flags',
          type: 'u16',
          bits: [
            { name: 'alarm', shift: 15, width: 1, enum: { '1': 'yes', '0': 'no' } },
            { name: 'level', shift: 4, width: 4, scale: 10 },
            { name: 'low', shift: 0, width: 4 },
          ],
        },
        { name: 'wide', type: 'u64', endian: 'little', bits: [{ name: 'mid', shift: 28, width: 8 }] },
        { name: 'signed', type: 'i8', bits: [{ name: 'top', shift: 7, width: 1 }] },
      ],
    });
    // 0x8035: bit 15 set, bits 4..7 = 3, bits 0..3 = 5. wide = 0x0000_000A_B000_0000 → bits 28..35 = 0xAB.
    expect(decode(bytes('8035 000000B00A000000 FF'))).toEqual([
      { alarm: 'yes', level: 30, low: 5, mid: 0xab, top: 1 },
    ]);
  });

  it('reads past skipped fields', () => {
    const decode = hex({
      fields: [
        { name: 'a', type: 'u8' },
        { name: 'r', type: 'hex', length: 3, skip: true },
        { name: 'b', type: 'u8' },
      ],
    });
    expect(decode(bytes('01 FFFFFF 02'))).toEqual([{ a: 1, b: 2 }]);
  });

  it('emits one record per repeated group entry with the header fields', () => {
    const decode = hex({
      fields: [
        { name: 'device', type: 'u16' },
        { name: 'n', type: 'u8' },
      ],
      repeat: {
        count: 'n',
        fields: [
          { name: 'ch', type: 'u8' },
          { name: 'v', type: 'i16', scale: 0.1 },
        ],
      },
    });
    expect(decode(bytes('0102 02 01 0064 02 FF9C'))).toEqual([
      { device: 258, n: 2, ch: 1, v: 10 },
      { device: 258, n: 2, ch: 2, v: -10 },
    ]);
    expect(decode(bytes('0102 00'))).toEqual([]);
    expect(codeOf(() => decode(bytes('0102 FF 01 0064')))).toBe('truncated');
    expect(codeOf(() => decode(bytes('0102 01 01 0064 00')))).toBe('trailing-bytes');
  });

  it('rejects truncated frames, trailing bytes, bad BCD, bad ASCII and non-finite floats', () => {
    const decode = hex({
      fields: [
        { name: 'a', type: 'u16' },
        { name: 'b', type: 'u32' },
      ],
    });
    expect(() => decode(bytes('0001 0203'))).toThrow('field b needs 4 bytes at offset 2, frame has 4');
    expect(codeOf(() => decode(bytes('0001 0203')))).toBe('truncated');
    expect(codeOf(() => decode(bytes('0001 02030405 06')))).toBe('trailing-bytes');
    expect(codeOf(() => hex({ fields: [{ name: 'd', type: 'bcd', length: 2 }] })(bytes('123A')))).toBe(
      'bad-value',
    );
    expect(
      codeOf(() => hex({ fields: [{ name: 'd', type: 'bcd', length: 9 }] })(bytes('A00000000000000000'))),
    ).toBe('bad-value');
    expect(codeOf(() => hex({ fields: [{ name: 's', type: 'ascii', length: 2 }] })(bytes('41C3')))).toBe(
      'bad-value',
    );
    const float = hex({ fields: [{ name: 'f', type: 'f32' }] });
    expect(codeOf(() => float(bytes('7FC00000')))).toBe('bad-value');
    expect(codeOf(() => float(bytes('FF800000')))).toBe('bad-value');
    expect(codeOf(() => hex({ fields: [{ name: 'f', type: 'f64' }] })(bytes('7FF0000000000000')))).toBe(
      'bad-value',
    );
  });

  it('decodes a payload that is a view into a larger buffer', () => {
    const decode = hex({ fields: [{ name: 'a', type: 'u16' }] });
    expect(decode(bytes('FFFF 0102 FFFF').subarray(2, 4))).toEqual([{ a: 258 }]);
  });
});

describe('checksums', () => {
  const check = (c: object) => {
    const format = formatSchema.parse({
      type: 'hex',
      fields: [{ name: 'x', type: 'u8' }],
      checksum: c,
    }) as HexFormat;
    return compileChecksum(format.checksum as Checksum);
  };

  it('match the known check vectors', () => {
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
    expect(crc16Modbus(ascii('123456789'))).toBe(0x4b37);
  });

  it('checks sum8, xor, crc16-modbus and crc32 at the end of the frame', () => {
    const data = ascii('123456789');
    const framed = (trailer: string) => new Uint8Array([...data, ...bytes(trailer)]);
    // sum of "123456789" = 477 = 0x1DD; xor = 0x31.
    check({ algorithm: 'sum8', at: -1 })(framed('DD'));
    check({ algorithm: 'xor', at: -1 })(framed('31'));
    check({ algorithm: 'crc16-modbus', at: -2, endian: 'little' })(framed('374B'));
    check({ algorithm: 'crc16-modbus', at: -2 })(framed('4B37'));
    check({ algorithm: 'crc32', at: -4 })(framed('CBF43926'));
    check({ algorithm: 'crc32', at: -4, endian: 'little' })(framed('2639F4CB'));
    expect(() => check({ algorithm: 'crc32', at: -4 })(framed('CBF43927'))).toThrow(
      'crc32 of bytes 0..9 is 0xCBF43926, frame says 0xCBF43927',
    );
    expect(codeOf(() => check({ algorithm: 'sum8', at: -1 })(framed('DE')))).toBe('checksum-mismatch');
  });

  it('honours from, to and a checksum at the start', () => {
    // Checksum byte first, covering the rest of the frame.
    check({ algorithm: 'xor', at: 0, from: 1, to: 10 })(new Uint8Array([0x31, ...ascii('123456789')]));
    // Covered range ends before the last two bytes (a trailer that is not covered).
    check({ algorithm: 'sum8', at: 9, to: 9 })(new Uint8Array([...ascii('123456789'), 0xdd, 0xee]));
    expect(codeOf(() => check({ algorithm: 'crc32', at: -4 })(bytes('0102')))).toBe('truncated');
  });

  it('is checked before the fields in hex frames and not counted as trailing bytes', () => {
    const decode = hex({
      fields: [{ name: 'a', type: 'ascii', length: 9 }],
      checksum: { algorithm: 'crc16-modbus', at: -2, endian: 'little' },
    });
    expect(decode(new Uint8Array([...ascii('123456789'), 0x37, 0x4b]))).toEqual([{ a: '123456789' }]);
    expect(codeOf(() => decode(new Uint8Array([...ascii('123456789'), 0x37, 0x4c])))).toBe(
      'checksum-mismatch',
    );
  });
});

describe('key-value frames', () => {
  const keys = {
    '00A1': { name: 'temp', type: 'i16', scale: 0.1 },
    '00a2': { name: 'hum', type: 'u8' },
    '0B0C': { name: 'label', type: 'ascii', length: 4 },
  };

  it('decodes header and pairs without length bytes, last value of a repeated key wins', () => {
    const decode = kv({ header: [{ name: 'ver', type: 'u8' }], keys });
    expect(decode(bytes('07 00A1 00FA 00A2 37 0B0C 41420000 00A2 38'))).toEqual([
      { ver: 7, temp: 25, hum: 56, label: 'AB' },
    ]);
    expect(() => decode(bytes('07 1A2B 00'))).toThrow('key 0x1A2B at offset 1');
    expect(codeOf(() => decode(bytes('07 1A2B 00')))).toBe('unknown-key');
    expect(codeOf(() => decode(bytes('07 00A1 00')))).toBe('truncated');
    expect(codeOf(() => decode(bytes('07 00')))).toBe('truncated');
  });

  it('decodes pairs with length bytes and skips or rejects unknown keys', () => {
    const lengthKeys = { ...keys, '0D0D': { name: 'serial', type: 'bcd', length: 2 } };
    const skip = kv({ keys: lengthKeys, lengthByte: true, unknownKeys: 'skip' });
    expect(skip(bytes('00A1 02 00FA  FFFF 03 010203  0D0D 02 1234  00A2 01 37'))).toEqual([
      { temp: 25, serial: 1234, hum: 55 },
    ]);
    const reject = kv({ keys: lengthKeys, lengthByte: true });
    expect(codeOf(() => reject(bytes('00A1 02 00FA  FFFF 03 010203')))).toBe('unknown-key');
    expect(codeOf(() => skip(bytes('00A1 03 00FA00')))).toBe('bad-value');
    expect(codeOf(() => skip(bytes('FFFF 09 0102')))).toBe('truncated');
  });

  it('checks the checksum first and stops the pairs before it', () => {
    const decode = kv({ keys, checksum: { algorithm: 'sum8', at: -1 } });
    expect(decode(bytes('00A2 37 D9'))).toEqual([{ hum: 55 }]);
    expect(codeOf(() => decode(bytes('00A2 37 D8')))).toBe('checksum-mismatch');
  });
});

describe('hybrid frames', () => {
  it('splits segments on a text separator', () => {
    const decode = hybrid({
      separator: ',',
      segments: [
        { fields: [{ name: 'id', type: 'ascii', length: 4 }] },
        {
          fields: [
            { name: 'temp', type: 'i16', scale: 0.1 },
            { name: 'hum', type: 'u8' },
          ],
        },
      ],
    });
    // The temperature 0x2C2C holds the separator's byte: segments are found by position, not by search.
    expect(decode(new Uint8Array([...ascii('AB12,'), 0x2c, 0x2c, 0x37]))).toEqual([
      { id: 'AB12', temp: 1130.8, hum: 55 },
    ]);
    expect(codeOf(() => decode(ascii('AB12')))).toBe('truncated');
    expect(codeOf(() => decode(new Uint8Array([...ascii('AB12,'), 1, 2, 3, 4])))).toBe('trailing-bytes');
    expect(codeOf(() => decode(new Uint8Array([...ascii('AB12,'), 1, 2, 3, 0x2c, 9])))).toBe(
      'trailing-bytes',
    );
    expect(codeOf(() => decode(new Uint8Array([...ascii('AB1,'), 1, 2, 3])))).toBe('truncated');
    expect(codeOf(() => decode(new Uint8Array([...ascii('AB123,'), 1, 2, 3])))).toBe('trailing-bytes');
  });

  it('splits segments on a hex separator and checks a checksum over the payload', () => {
    const decode = hybrid({
      separator: 'FFEE',
      separatorIsHex: true,
      segments: [
        { fields: [{ name: 'a', type: 'u8' }] },
        { fields: [{ name: 'b', type: 'u16', endian: 'little' }] },
      ],
      checksum: { algorithm: 'xor', at: -1 },
    });
    // xor of 01 FF EE 02 01 = 0x13
    expect(decode(bytes('01 FFEE 0201 13'))).toEqual([{ a: 1, b: 258 }]);
    expect(codeOf(() => decode(bytes('01 FFEE 0201 14')))).toBe('checksum-mismatch');
  });
});
