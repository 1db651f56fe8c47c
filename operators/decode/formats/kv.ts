/**
 * The key-value format: optional fixed header fields, then pairs of a 2-byte key (big-endian), an
 * optional 1-byte length and the value, decoded by the field the spec gives for that key. A key
 * seen twice keeps its last value. Vendor extensions (`extensions`: a key or a range of keys) carry
 * their own length (a byte or a big-endian word after the key) and may come anywhere; their value is
 * skipped, kept as hex digits, or read by the extension's own fields from its first byte (a value
 * shorter than those fields is `truncated` with the key and the offsets).
 *
 * The decoder is generated once per spec (`new Function`): a `switch` over the spec's keys reads
 * each value into a local named after its field, and the record is one object literal when every
 * field came (the usual frame), else built field by field. The generated text holds only key
 * numbers, sizes and offsets we computed and field names that pass the spec's name pattern.
 */
import type { BinaryField, KvFormat } from '../../../specs/schema.ts';
import { DecodeError } from '../errors.ts';
import type { DecodedFields, FieldValue, FrameDecoder } from '../frame.ts';
import { CodeBuilder, checkName, compileFields, fieldSize, type Projection } from './binaryFields.ts';
import { compileChecksum, trailingChecksumBytes } from './checksum.ts';

type PairsReader = (view: DataView, bytes: Uint8Array, end: number, aux: FieldValue[]) => DecodedFields;

/**
 * Compiles a key-value format. With a projection, the record holds only the kept fields (see
 * {@link Projection}).
 *
 * @example
 * const decode = compileKv({ type: 'kv', header: [], lengthByte: false, unknownKeys: 'reject',
 *   keys: { '0001': { name: 'temp', type: 'i16', endian: 'big', skip: false } } });
 * decode(Uint8Array.of(0x00, 0x01, 0x00, 0xc8)); // [{ temp: 200 }]
 */
export function compileKv(format: KvFormat, projection?: Projection): FrameDecoder {
  const header = compileFields(format.header);
  const check = format.checksum ? compileChecksum(format.checksum) : undefined;
  const { checksum, lengthByte } = format;
  const skipUnknown = format.unknownKeys === 'skip';
  if (skipUnknown && !lengthByte)
    throw new Error('unknownKeys: skip needs lengthByte: a value without a length cannot be skipped');

  const enums: ((raw: number | string) => FieldValue | undefined)[] = [];
  const code = new CodeBuilder('f_', enums, true, projection?.ids);
  let at = 0;
  for (const field of format.header) {
    code.field(field, String(at), String(fieldSize(field)));
    at += fieldSize(field)!;
  }
  const headerCode = code.take();
  const entries = Object.entries(format.keys);
  const cases: string[] = [];
  const seenKeys = new Set<number>();
  entries.forEach(([keyText, field], i) => {
    const key = Number.parseInt(keyText, 16);
    const size = fieldSize(field);
    if (size === undefined && !lengthByte)
      throw new Error(`key ${keyText}: field ${field.name} needs a length`);
    code.field(field, 'p', 'len');
    // "0001" and "0x0001"-like duplicates collapse to one key; the last definition wins
    if (seenKeys.has(key))
      cases.splice(
        cases.findIndex((c) => c.startsWith(`case ${key}:`)),
        1,
      );
    seenKeys.add(key);
    cases.push(
      [
        `case ${key}: {`,
        size === undefined ? 'len = declared;' : `len = ${size};`,
        lengthByte && size !== undefined
          ? `if (declared !== len) k.badLength(${key}, at, declared, ${i});`
          : '',
        `if (p + len > end) k.valueTruncated(${i}, len, p, end);`,
        code.take(),
        'p += len;',
        'break;',
        '}',
      ].join('\n'),
    );
  });
  // vendor extensions: each key of a range carries its own length; its value is skipped, kept as
  // hex or read by its fields (the first extension that lists a key decodes it)
  const extensions = format.extensions.map((extension, e) => {
    const [lo, hi = lo] = extension.keys.split('-').map((k) => Number.parseInt(k, 16)) as [number, number?];
    if (hi! < lo)
      throw new Error(`extensions: ${extension.keys} is not a range (its end is below its start)`);
    const readLength = lengthByte
      ? 'const n = declared;'
      : extension.length === 'word'
        ? `if (p + 2 > end) k.unknownTruncated(key, at, 2); const n = (bytes[p] << 8) | bytes[p + 1]; p += 2;`
        : `if (p + 1 > end) k.unknownTruncated(key, at, 1); const n = bytes[p++];`;
    const fields = extensionFields(extension);
    const size = extension.fields === undefined ? 0 : compileFields(extension.fields).size;
    let offset = 0;
    for (const field of fields) {
      // a field of the value's fields has its own size; the value kept as hex is all of it
      const fixed = fieldSize(field);
      code.field(field, `p + ${offset}`, fixed === undefined ? 'n' : String(fixed));
      offset += fixed ?? 0;
    }
    const short = size > 0 ? `if (n < ${size}) k.valueShort(${e}, key, at, p, n);` : '';
    return `if (key >= ${lo} && key <= ${hi}) { ${readLength} if (p + n > end) k.unknownTruncated(key, at, n); ${short} ${code.take()} p += n; break; }`;
  });
  const names = [...new Set(code.emits.map(([name]) => name))];
  const keep = projection?.keep ?? names;
  const auxNames = projection?.aux ?? [];
  [...keep, ...auxNames].forEach(checkName);
  const local = (name: string) => (names.includes(name) ? `f_${name}` : 'undefined');
  const present = keep.map((name) => `${local(name)} !== undefined`).join(' && ') || 'true';
  const unknown = skipUnknown
    ? 'p += declared; if (p > end) k.unknownTruncated(key, at, declared); break;'
    : 'k.unknownKey(key, at);';
  const body = [
    names.length > 0 ? `let ${names.map((n) => `f_${n}`).join(', ')};` : '',
    `if (${header.size} > bytes.length) k.truncated(0, bytes.length);`,
    headerCode,
    `let p = ${header.size};`,
    'let len = 0;',
    'while (p < end) {',
    `if (p + ${lengthByte ? 3 : 2} > end) k.keyTruncated(p, end);`,
    'const key = (bytes[p] << 8) | bytes[p + 1];',
    'const at = p;',
    'p += 2;',
    lengthByte ? 'const declared = bytes[p++];' : 'const declared = undefined;',
    'switch (key) {',
    ...cases,
    `default: ${extensions.join(' ')} ${unknown}`,
    '}',
    '}',
    'if (p > end) k.intoChecksum(end);',
    ...auxNames.map((name, j) => `aux[${j}] = ${local(name)};`),
    `if (${present}) return { ${keep.map((n) => `${JSON.stringify(n)}: ${local(n)}`).join(', ')} };`,
    'const out = {};',
    ...keep.map((n) => `if (${local(n)} !== undefined) out[${JSON.stringify(n)}] = ${local(n)};`),
    'return out;',
  ].join('\n');
  const fieldNames = entries.map(([, field]) => field.name);
  const readPairs = code.build<PairsReader>('readPairs', 'view, bytes, end, aux', body, {
    truncated: header.truncated,
    keyTruncated(p: number, end: number): never {
      throw new DecodeError(
        'truncated',
        `key at offset ${p} needs ${lengthByte ? 3 : 2} bytes, frame has ${end}`,
      );
    },
    unknownKey(key: number, at: number): never {
      throw new DecodeError('unknown-key', `key ${keyText(key)} at offset ${at}`);
    },
    unknownTruncated(key: number, at: number, declared: number): never {
      throw new DecodeError('truncated', `key ${keyText(key)} at offset ${at} needs ${declared} bytes`);
    },
    badLength(key: number, at: number, declared: number, field: number): never {
      const length = fieldSize(entries[field]![1]);
      throw new DecodeError(
        'bad-value',
        `key ${keyText(key)} at offset ${at}: length byte ${declared}, field ${fieldNames[field]} takes ${length}`,
      );
    },
    valueTruncated(field: number, length: number, p: number, end: number): never {
      throw new DecodeError(
        'truncated',
        `field ${fieldNames[field]} needs ${length} bytes at offset ${p}, frame has ${end}`,
      );
    },
    valueShort(extension: number, key: number, at: number, p: number, n: number): never {
      let offset = 0;
      for (const field of format.extensions[extension]!.fields!) {
        const size = fieldSize(field)!;
        if (offset + size > n)
          throw new DecodeError(
            'truncated',
            `key ${keyText(key)} at offset ${at}: field ${field.name} needs ${size} bytes at offset ${p + offset}, the value has ${n}`,
          );
        offset += size;
      }
      throw new Error('a value shorter than its fields has a field that does not fit');
    },
    intoChecksum(end: number): never {
      throw new DecodeError('truncated', `header runs into the checksum at offset ${end}`);
    },
  });
  const aux: FieldValue[] = [];

  const decode: FrameDecoder = function decodeKv(payload) {
    check?.(payload);
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const end = payload.length - trailingChecksumBytes(checksum, payload.length);
    return [readPairs(view, payload, end, aux)];
  };
  decode.aux = aux;
  return decode;
}

/**
 * The fields an extension's value gives: its `fields`, or with `hex` one hex field of that name (its
 * length the value's), or none when the value is skipped.
 */
export function extensionFields(extension: KvFormat['extensions'][number]): BinaryField[] {
  if (extension.hex !== undefined) return [{ name: extension.hex, type: 'hex', endian: 'big', skip: false }];
  return extension.fields ?? [];
}

function keyText(key: number): string {
  return `0x${key.toString(16).toUpperCase().padStart(4, '0')}`;
}
