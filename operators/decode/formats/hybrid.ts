/**
 * The hybrid format: segments of binary fields joined by a separator (text such as "," or hex bytes).
 * Every segment's size is fixed by its fields, so segments are found by position and the separator
 * is checked where it must be: splitting on the separator would cut a binary value that happens to
 * contain the separator's bytes.
 */
import type { BinaryField, HybridFormat } from '../../../specs/schema.ts';
import { DecodeError } from '../errors.ts';
import type { FieldValue, FrameDecoder } from '../frame.ts';
import { compileFields, type Projection } from './binaryFields.ts';
import { compileChecksum, trailingChecksumBytes } from './checksum.ts';

/**
 * Compiles a hybrid format into one record with the fields of every segment.
 *
 * @example
 * const decode = compileHybrid({ type: 'hybrid', separator: ',', separatorIsHex: false, segments: [
 *   { fields: [{ name: 'a', type: 'u8', endian: 'big', skip: false }] },
 *   { fields: [{ name: 'b', type: 'u8', endian: 'big', skip: false }] } ] });
 * decode(Uint8Array.of(0x01, 0x2c, 0x02)); // [{ a: 1, b: 2 }]
 */
export function compileHybrid(format: HybridFormat, projection?: Projection): FrameDecoder {
  const separator = format.separatorIsHex
    ? Uint8Array.from(format.separator.match(/../g)!, (h) => Number.parseInt(h, 16))
    : new TextEncoder().encode(format.separator);
  if (format.separatorIsHex && !/^([0-9A-Fa-f]{2})+$/.test(format.separator)) {
    throw new Error(`separator ${format.separator} is not hex bytes`);
  }
  const sizes = format.segments.map((s) => compileFields(s.fields).size);
  // One reader over the whole frame, the separators read past as skipped fields.
  const gap: BinaryField = {
    name: 'separator',
    type: 'hex',
    length: separator.length,
    endian: 'big',
    skip: true,
  };
  const frame = compileFields(
    format.segments.flatMap((s, i) => (i === 0 ? s.fields : [gap, ...s.fields])),
    [],
    projection,
  );
  const aux: FieldValue[] = [];
  const check = format.checksum ? compileChecksum(format.checksum) : undefined;
  const { checksum } = format;
  const last = sizes.length - 1;

  const decode: FrameDecoder = function decodeHybrid(payload) {
    check?.(payload);
    let p = 0;
    for (let i = 0; i <= last; i++) {
      const start = p;
      p += sizes[i]!;
      if (p > payload.length) {
        throw new DecodeError(
          'truncated',
          `segment ${i} needs ${sizes[i]} bytes at offset ${start}, frame has ${payload.length}`,
        );
      }
      if (i === last) break;
      if (!separatorAt(payload, p)) {
        // The separator came early: this segment is shorter than its fields; else bytes are left over.
        if (indexOf(payload, separator, start, p) >= 0 || p + separator.length > payload.length) {
          throw new DecodeError('truncated', `segment ${i} at offset ${start} is shorter than its fields`);
        }
        throw new DecodeError('trailing-bytes', `no separator after segment ${i} at offset ${p}`);
      }
      p += separator.length;
    }
    const left = payload.length - p;
    if (left !== 0 && left !== trailingChecksumBytes(checksum, payload.length)) {
      const more = separatorAt(payload, p) ? 'more segments than the spec' : `${left} bytes`;
      throw new DecodeError('trailing-bytes', `${more} after offset ${p}`);
    }
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    return [frame.create(view, payload, 0, undefined, aux, 0)];
  };
  decode.aux = aux;
  return decode;

  function separatorAt(bytes: Uint8Array, at: number): boolean {
    if (at + separator.length > bytes.length) return false;
    for (let j = 0; j < separator.length; j++) if (bytes[at + j] !== separator[j]) return false;
    return true;
  }

  function indexOf(bytes: Uint8Array, needle: Uint8Array, from: number, to: number): number {
    for (let i = from; i + needle.length <= to; i++) {
      let j = 0;
      while (j < needle.length && bytes[i + j] === needle[j]) j++;
      if (j === needle.length) return i;
    }
    return -1;
  }
}
