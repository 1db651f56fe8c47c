/**
 * Frame checksums (sum8, xor, CRC-16/MODBUS, CRC-32/IEEE), checked before any field is decoded so a
 * corrupted frame never becomes telemetry. Offsets may count from the end of the frame, so one spec
 * covers frames whose length varies (repeated groups, key-value pairs).
 */
import type { Checksum } from '../../../specs/schema.ts';
import { DecodeError } from '../errors.ts';

/** Checks a frame's checksum; throws `checksum-mismatch` (or `truncated` when the frame is too short). */
export type ChecksumCheck = (bytes: Uint8Array) => void;

/** Bytes the stored checksum takes. */
export const CHECKSUM_BYTES: Readonly<Record<Checksum['algorithm'], number>> = {
  sum8: 1,
  xor: 1,
  'crc16-modbus': 2,
  crc32: 4,
};

const CRC16_MODBUS_TABLE = table(0xa001);
const CRC32_TABLE = table(0xedb88320);

/**
 * The CRC-16/MODBUS register after two bytes: a 16-bit register is wholly replaced by 16 bits of
 * input, so the next value depends only on `crc ^ (b0 | b1 << 8)`. One lookup per two bytes
 * (a 128 KiB table) halves the work of the byte-wise loop.
 */
const CRC16_MODBUS_PAIRS = (() => {
  const t = new Uint16Array(65_536);
  for (let x = 0; x < 65_536; x++) {
    const once = (x >>> 8) ^ CRC16_MODBUS_TABLE[x & 0xff]!;
    t[x] = (once >>> 8) ^ CRC16_MODBUS_TABLE[once & 0xff]!;
  }
  return t;
})();

/** CRC-16/MODBUS (reflected poly 0xA001, init 0xFFFF) of `bytes[from, to)`. */
export function crc16Modbus(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let crc = 0xffff;
  let i = from;
  for (; i + 1 < to; i += 2) crc = CRC16_MODBUS_PAIRS[crc ^ (bytes[i]! | (bytes[i + 1]! << 8))]!;
  if (i < to) crc = (crc >>> 8) ^ CRC16_MODBUS_TABLE[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** CRC-32/IEEE (as in zlib, PNG, Ethernet) of `bytes[from, to)`. */
export function crc32(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = from; i < to; i++) crc = (crc >>> 8) ^ CRC32_TABLE[(crc ^ bytes[i]!) & 0xff]!;
  return (crc ^ 0xffffffff) >>> 0;
}

/** Compiles a checksum spec into a check of one frame. */
export function compileChecksum(checksum: Checksum): ChecksumCheck {
  const width = CHECKSUM_BYTES[checksum.algorithm];
  const le = checksum.endian === 'little';
  const compute = algorithm(checksum.algorithm);
  const { algorithm: name } = checksum;
  return function checkChecksum(bytes) {
    const n = bytes.length;
    const at = checksum.at < 0 ? n + checksum.at : checksum.at;
    const from = checksum.from < 0 ? n + checksum.from : checksum.from;
    const to = checksum.to === undefined ? at : checksum.to < 0 ? n + checksum.to : checksum.to;
    if (at < 0 || at + width > n) {
      throw new DecodeError('truncated', `checksum needs ${width} bytes at offset ${at}, frame has ${n}`);
    }
    if (from < 0 || to > n || from > to) {
      throw new DecodeError('truncated', `checksum covers bytes ${from}..${to}, frame has ${n}`);
    }
    const expected = readUnsigned(bytes, at, width, le);
    const actual = compute(bytes, from, to);
    if (actual !== expected) {
      throw new DecodeError(
        'checksum-mismatch',
        `${name} of bytes ${from}..${to} is ${hex(actual, width)}, frame says ${hex(expected, width)}`,
      );
    }
  };
}

/** The checksum bytes at the very end of a frame of `length` bytes (0 when it sits elsewhere). */
export function trailingChecksumBytes(checksum: Checksum | undefined, length: number): number {
  if (!checksum) return 0;
  const width = CHECKSUM_BYTES[checksum.algorithm];
  const at = checksum.at < 0 ? length + checksum.at : checksum.at;
  return at + width === length ? width : 0;
}

function algorithm(name: Checksum['algorithm']): (bytes: Uint8Array, from: number, to: number) => number {
  switch (name) {
    case 'sum8':
      return function sum8(bytes, from, to) {
        let sum = 0;
        for (let i = from; i < to; i++) sum = (sum + bytes[i]!) & 0xff;
        return sum;
      };
    case 'xor':
      return function xor(bytes, from, to) {
        let x = 0;
        for (let i = from; i < to; i++) x ^= bytes[i]!;
        return x;
      };
    case 'crc16-modbus':
      return crc16Modbus;
    case 'crc32':
      return crc32;
  }
}

function readUnsigned(bytes: Uint8Array, at: number, width: number, le: boolean): number {
  let v = 0;
  for (let i = 0; i < width; i++) v = v * 256 + bytes[le ? at + width - 1 - i : at + i]!;
  return v;
}

function hex(v: number, width: number): string {
  return `0x${v
    .toString(16)
    .toUpperCase()
    .padStart(width * 2, '0')}`;
}

/** The 256-entry lookup table of a reflected CRC with polynomial `poly`. */
function table(poly: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}
