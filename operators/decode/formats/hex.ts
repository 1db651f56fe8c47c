/**
 * The hex length-based format: fixed fields one after another, optionally followed by a group that
 * repeats as many times as a header field says (one record per entry, each carrying the header).
 */
import type { HexFormat } from '../../../specs/schema.ts';
import { DecodeError } from '../errors.ts';
import type { DecodedFields, FieldValue, FrameDecoder } from '../frame.ts';
import { compileFields, isIntegerField, type Projection } from './binaryFields.ts';
import { compileChecksum, trailingChecksumBytes } from './checksum.ts';

/**
 * Compiles a hex format. A frame whose repeat count is 0 decodes to no records (an empty array).
 *
 * @example
 * const decode = compileHex({ type: 'hex', fields: [{ name: 'temp', type: 'i16', endian: 'big', skip: false }] });
 * decode(Uint8Array.of(0xff, 0x38)); // [{ temp: -200 }]
 */
export function compileHex(format: HexFormat, projection?: Projection): FrameDecoder {
  const header = compileFields(format.fields, [], format.repeat ? undefined : projection);
  const aux: FieldValue[] = [];
  const auxWidth = projection?.aux.length ?? 0;
  const check = format.checksum ? compileChecksum(format.checksum) : undefined;
  const { checksum, repeat } = format;

  /** Bytes after `end` must be none, or only the checksum at the very end of the frame. */
  function assertConsumed(bytes: Uint8Array, end: number): void {
    const left = bytes.length - end;
    if (left !== 0 && left !== trailingChecksumBytes(checksum, bytes.length)) {
      throw new DecodeError('trailing-bytes', `${left} bytes left after offset ${end}`);
    }
  }

  if (!repeat) {
    const decode: FrameDecoder = function decodeHex(payload) {
      check?.(payload);
      const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const out = header.create(view, payload, 0, undefined, aux, 0);
      assertConsumed(payload, header.size);
      return [out];
    };
    decode.aux = aux;
    return decode;
  }

  const countField = format.fields.find((f) => f.name === repeat.count);
  if (!countField || countField.skip || !isIntegerField(countField) || countField.bits?.length) {
    throw new Error(
      `repeat.count ${repeat.count} must name an integer field of the header (not skipped, no bits)`,
    );
  }
  const group = compileFields(repeat.fields, header.names, projection);
  const countName = repeat.count;

  const decode: FrameDecoder = function decodeHexGroups(payload) {
    check?.(payload);
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const head = header.create(view, payload, 0);
    let offset = header.size;
    const count = head[countName];
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new DecodeError('bad-value', `field ${countName} is ${count}, not a count`);
    }
    // Checked before anything is allocated: a forged count must not cost one record per claimed entry.
    if (offset + count * group.size > payload.length) {
      throw new DecodeError(
        'truncated',
        `${count} groups need ${count * group.size} bytes at offset ${offset}, frame has ${payload.length}`,
      );
    }
    const records: DecodedFields[] = [];
    for (let i = 0; i < count; i++) {
      records.push(group.create(view, payload, offset, head, aux, i * auxWidth));
      offset += group.size;
    }
    assertConsumed(payload, offset);
    return records;
  };
  decode.aux = aux;
  return decode;
}
