/**
 * Iceberg's single-value binary form, used for `lower_bounds` / `upper_bounds` in manifests and for
 * partition bounds in manifest lists: int/date 4-byte little-endian, long/timestamptz 8-byte
 * little-endian (microseconds), double little-endian IEEE 754, string UTF-8 without a length prefix,
 * boolean one byte 0x00/0x01.
 */
import type { ColdType } from './types.ts';

const utf8 = new TextEncoder();

/** A bound's value as the writer sees it: `long`/`timestamptz` as bigint (µs for timestamps). */
export type BoundValue = string | number | bigint | boolean;

/** Encodes one value of `type` in Iceberg's single-value binary form. */
export function encodeBound(type: ColdType, value: BoundValue): Uint8Array {
  switch (type) {
    case 'string':
      return utf8.encode(String(value));
    case 'boolean':
      return Uint8Array.of(value ? 1 : 0);
    case 'int':
    case 'date': {
      const out = new Uint8Array(4);
      new DataView(out.buffer).setInt32(0, Number(value), true);
      return out;
    }
    case 'long':
    case 'timestamptz': {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigInt64(0, BigInt(value), true);
      return out;
    }
    case 'double': {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setFloat64(0, Number(value), true);
      return out;
    }
  }
}

/**
 * Orders two strings by Unicode code point, which is the order of their UTF-8 bytes (Iceberg's string
 * order); plain `<` compares UTF-16 code units and puts U+E000–U+FFFF after astral characters.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca >= 0xd800 && cb >= 0xd800) {
      ca = ca < 0xe000 ? ca + 0x2000 : ca - 0x800;
      cb = cb < 0xe000 ? cb + 0x2000 : cb - 0x800;
    }
    return ca - cb;
  }
  return a.length - b.length;
}
