/**
 * The hex length-based format: fixed fields one after another, optionally followed by a group that
 * repeats as many times as a header field says (one record per entry, each carrying the header).
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
  const header = compileFields(format.fields, [], format.repeat ? undefined : projection);
  const check = format.checksum ? compileChecksum(format.checksum) : undefined;
  const { checksum, repeat } = format;
  const aux: FieldValue[] = [];
  const auxWidth = projection?.aux.length ?? 0;

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
  const groupSize = compileFields(repeat.fields).size;
  const countName = repeat.count;

  /** The frame's structure, checked before any entry is read or allocated. */
  function checkGroups(count: FieldValue, bytes: Uint8Array): number {
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new DecodeError('bad-value', `field ${countName} is ${count}, not a count`);
    }
    // The groups end where a checksum at the end of the frame begins: its bytes are never read as an
    // entry (a count one too high would otherwise take them for one). A forged count must not cost
    // one record per claimed entry.
    const trailing = trailingChecksumBytes(checksum, bytes.length);
    const end = bytes.length - trailing;
    if (header.size + count * groupSize > end) {
      throw new DecodeError(
        'truncated',
        `${count} groups need ${count * groupSize} bytes at offset ${header.size}, frame has ${end}${trailing > 0 ? ' before its checksum' : ''}`,
      );
    }
    const left = end - header.size - count * groupSize;
    if (left !== 0)
      throw new DecodeError(
        'trailing-bytes',
        `${left} bytes left after offset ${header.size + count * groupSize}`,
      );
    return count;
  }
  const readGroups = compileGroups(format, countName, header, groupSize, checkGroups, projection);

  const decode: FrameDecoder = function decodeHexGroups(payload) {
    check?.(payload);
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    return readGroups(view, payload, aux, auxWidth);
  };
  decode.aux = aux;
  return decode;
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
  checkGroups: (count: FieldValue, bytes: Uint8Array) => number,
  projection: Projection | undefined,
): GroupsReader {
  const enums: ((raw: number | string) => FieldValue | undefined)[] = [];
  const headerCode = new CodeBuilder('v', enums);
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
    `const count = k.checkGroups(${value(countName)}, bytes);`,
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
