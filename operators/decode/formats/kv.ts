/**
 * The key-value format: optional fixed header fields, then pairs of a 2-byte key (big-endian), an
 * optional 1-byte length and the value, decoded by the field the spec gives for that key. A key
 * seen twice keeps its last value.
 */
import type { KvFormat } from '../../../specs/schema.ts';
import { DecodeError } from '../errors.ts';
import type { DecodedFields, FrameDecoder } from '../frame.ts';
import { compileFields, compileValue, fieldSize, type ValueReader } from './binaryFields.ts';
import { compileChecksum, trailingChecksumBytes } from './checksum.ts';

interface KeyEntry {
  readonly name: string;
  /** Bytes the value takes; `undefined` when the length byte says. */
  readonly size: number | undefined;
  readonly read: ValueReader;
}

/**
 * Compiles a key-value format.
 *
 * @example
 * const decode = compileKv({ type: 'kv', header: [], lengthByte: false, unknownKeys: 'reject',
 *   keys: { '0001': { name: 'temp', type: 'i16', endian: 'big', skip: false } } });
 * decode(Uint8Array.of(0x00, 0x01, 0x00, 0xc8)); // [{ temp: 200 }]
 */
export function compileKv(format: KvFormat): FrameDecoder {
  const header = compileFields(format.header);
  const check = format.checksum ? compileChecksum(format.checksum) : undefined;
  const { checksum, lengthByte } = format;
  const skipUnknown = format.unknownKeys === 'skip';
  if (skipUnknown && !lengthByte)
    throw new Error('unknownKeys: skip needs lengthByte: a value without a length cannot be skipped');
  const keys = new Map<number, KeyEntry>();
  for (const [key, field] of Object.entries(format.keys)) {
    const size = fieldSize(field);
    if (size === undefined && !lengthByte) throw new Error(`key ${key}: field ${field.name} needs a length`);
    keys.set(Number.parseInt(key, 16), { name: field.name, size, read: compileValue(field) });
  }

  return function decodeKv(payload) {
    check?.(payload);
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const out: DecodedFields = {};
    const end = payload.length - trailingChecksumBytes(checksum, payload.length);
    let p = header.read(view, payload, 0, out);
    while (p < end) {
      if (p + (lengthByte ? 3 : 2) > end) {
        throw new DecodeError(
          'truncated',
          `key at offset ${p} needs ${lengthByte ? 3 : 2} bytes, frame has ${end}`,
        );
      }
      const key = (payload[p]! << 8) | payload[p + 1]!;
      const entry = keys.get(key);
      const at = p;
      p += 2;
      const declared = lengthByte ? payload[p++]! : undefined;
      if (!entry) {
        if (!skipUnknown) throw new DecodeError('unknown-key', `key ${keyText(key)} at offset ${at}`);
        p += declared!;
        if (p > end)
          throw new DecodeError('truncated', `key ${keyText(key)} at offset ${at} needs ${declared} bytes`);
        continue;
      }
      const length = entry.size ?? declared!;
      if (declared !== undefined && declared !== length) {
        throw new DecodeError(
          'bad-value',
          `key ${keyText(key)} at offset ${at}: length byte ${declared}, field ${entry.name} takes ${length}`,
        );
      }
      if (p + length > end) {
        throw new DecodeError(
          'truncated',
          `field ${entry.name} needs ${length} bytes at offset ${p}, frame has ${end}`,
        );
      }
      entry.read(view, payload, p, length, out);
      p += length;
    }
    if (p > end) throw new DecodeError('truncated', `header runs into the checksum at offset ${end}`);
    return [out];
  };
}

function keyText(key: number): string {
  return `0x${key.toString(16).toUpperCase().padStart(4, '0')}`;
}
