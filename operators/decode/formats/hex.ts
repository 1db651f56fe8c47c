/**
 * The hex length-based format: fixed fields one after another, optionally followed by a group that
 * repeats as many times as a header field says (one record per entry, each carrying the header).
 * A frame with fields whose length comes from an earlier field is read by `hexLengths.ts`; the
 * others keep readers with constant offsets.
 */
import type { HexFormat } from '../../../specs/schema.ts';
import { DecodeError } from '../errors.ts';
import type { DecodedFields, FieldValue, FrameDecoder } from '../frame.ts';
import {
  CodeBuilder,
  checkName,
  compileFields,
  fieldSize,
  isIntegerField,
  type Projection,
} from './binaryFields.ts';
import { compileChecksum, trailingChecksumBytes } from './checksum.ts';
import { compileHexLengths, type GroupCheck } from './hexLengths.ts';

/** Reads the header once and every group entry into a record; `aux` as in {@link Projection}. */
type GroupsReader = (
  view: DataView,
  bytes: Uint8Array,
  aux: FieldValue[],
  auxWidth: number,
) => DecodedFields[];

/**
 * Compiles a hex format. A frame whose repeat count is 0 decodes to no records (an empty array).
 * With a projection, records hold only the kept fields (see {@link Projection}).
 *
 * @example
 * const decode = compileHex({ type: 'hex', fields: [{ name: 'temp', type: 'i16', endian: 'big', skip: false }] });
 * decode(Uint8Array.of(0xff, 0x38)); // [{ temp: -200 }]
 */
export function compileHex(format: HexFormat, projection?: Projection): FrameDecoder {
  const check = format.checksum ? compileChecksum(format.checksum) : undefined;
  const { checksum, repeat } = format;
  const aux: FieldValue[] = [];
  const auxWidth = projection?.aux.length ?? 0;
  const checkGroups = repeat ? groupCheck(format) : undefined;

  if (format.fields.some((f) => f.lengthFrom !== undefined)) {
    const readFrame = compileHexLengths(format, projection, checkGroups);
    const decode: FrameDecoder = function decodeHexLengths(payload) {
      check?.(payload);
      const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      return readFrame(
        view,
        payload,
        aux,
        auxWidth,
        payload.length - trailingChecksumBytes(checksum, payload.length),
      );
    };
    decode.aux = aux;
    return decode;
  }

  const header = compileFields(format.fields, [], repeat ? undefined : projection);
  if (!repeat) {
    const decode: FrameDecoder = function decodeHex(payload) {
      check?.(payload);
      const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const out = header.create(view, payload, 0, undefined, aux, 0);
      // bytes after the fields must be none, or only the checksum at the very end of the frame
      const left = payload.length - header.size;
      if (left !== 0 && left !== trailingChecksumBytes(checksum, payload.length)) {
        throw new DecodeError('trailing-bytes', `${left} bytes left after offset ${header.size}`);
      }
      return [out];
    };
    decode.aux = aux;
    return decode;
  }

  const groupSize = compileFields(repeat.fields).size;
  const readGroups = compileGroups(format, repeat.count, header, groupSize, checkGroups!, projection);
  const decode: FrameDecoder = function decodeHexGroups(payload) {
    check?.(payload);
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    return readGroups(view, payload, aux, auxWidth);
  };
  decode.aux = aux;
  return decode;
}

/**
 * The check of a frame's repeated groups, made before any entry is read or allocated: the count is a
 * count, and the entries from `start` (the end of the fields before them) fill the frame exactly.
 */
function groupCheck(format: HexFormat): GroupCheck {
  const repeat = format.repeat!;
  const { checksum } = format;
  const countField = format.fields.find((f) => f.name === repeat.count);
  if (!countField || countField.skip || !isIntegerField(countField) || countField.bits?.length) {
    throw new Error(
      `repeat.count ${repeat.count} must name an integer field of the header (not skipped, no bits)`,
    );
  }
  const groupSize = compileFields(repeat.fields).size;
  const countName = repeat.count;
  return function checkGroups(count, bytes, start) {
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new DecodeError('bad-value', `field ${countName} is ${count}, not a count`);
    }
    // The groups end where a checksum at the end of the frame begins: its bytes are never read as an
    // entry (a count one too high would otherwise take them for one). A forged count must not cost
    // one record per claimed entry.
    const trailing = trailingChecksumBytes(checksum, bytes.length);
    const end = bytes.length - trailing;
    if (start + count * groupSize > end) {
      throw new DecodeError(
        'truncated',
        `${count} groups need ${count * groupSize} bytes at offset ${start}, frame has ${end}${trailing > 0 ? ' before its checksum' : ''}`,
      );
    }
    const left = end - start - count * groupSize;
    if (left !== 0)
      throw new DecodeError('trailing-bytes', `${left} bytes left after offset ${start + count * groupSize}`);
    return count;
  };
}

/**
 * One generated function for a frame with a repeated group: the header's fields are read once into
 * locals, and each entry's record is one literal of the header's and the entry's values, so no
 * header record is built and read back per entry.
 */
function compileGroups(
  format: HexFormat,
  countName: string,
  header: ReturnType<typeof compileFields>,
  groupSize: number,
  checkGroups: GroupCheck,
  projection: Projection | undefined,
): GroupsReader {
  const enums: ((raw: number | string) => FieldValue | undefined)[] = [];
  const headerCode = new CodeBuilder('v', enums, false, projection?.ids);
  let at = 0;
  for (const field of format.fields) {
    headerCode.field(field, String(at), String(fieldSize(field)));
    at += fieldSize(field)!;
  }
  const groupCode = new CodeBuilder('w', enums);
  at = 0;
  for (const field of format.repeat!.fields) {
    groupCode.field(field, `g + ${at}`, String(fieldSize(field)));
    at += fieldSize(field)!;
  }
  const sourceOf = new Map<string, string>();
  for (const [name, local] of [...headerCode.emits, ...groupCode.emits]) sourceOf.set(name, local);
  const keep = projection?.keep ?? [...sourceOf.keys()];
  const auxNames = projection?.aux ?? [];
  [...keep, ...auxNames].forEach(checkName);
  const value = (name: string) => sourceOf.get(name) ?? 'undefined';
  const body = [
    `if (${header.size} > bytes.length) k.truncated(0, bytes.length);`,
    headerCode.take(),
    `const count = k.checkGroups(${value(countName)}, bytes, ${header.size});`,
    'const records = new Array(count);',
    `for (let i = 0, g = ${header.size}; i < count; i++, g += ${groupSize}) {`,
    groupCode.take(),
    ...auxNames.map((name, j) => `aux[i * aw + ${j}] = ${value(name)};`),
    `records[i] = { ${keep.map((name) => `${JSON.stringify(name)}: ${value(name)}`).join(', ')} };`,
    '}',
    'return records;',
  ].join('\n');
  return headerCode.build<GroupsReader>('readGroups', 'view, bytes, aux, aw', body, {
    truncated: header.truncated,
    checkGroups,
  });
}
