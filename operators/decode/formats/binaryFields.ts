/**
 * Field readers shared by the binary formats (hex, key-value, hybrid). A `BinaryField[]` is turned
 * once into a straight-line reader: every field sits at a fixed offset, so decoding is one bounds
 * check, a run of DataView reads into locals and one object literal. The reader is generated with
 * `new Function` because a loop over per-field closures makes every store megamorphic; the generated
 * text holds only offsets and lengths we computed, field names that pass the spec's name pattern
 * (emitted through `JSON.stringify`) and finite numbers from the spec — never payload data.
 */
import { type BinaryField, TYPE_BYTES } from '../../../specs/schema.ts';
import { DecodeError } from '../errors.ts';
import type { DecodedFields, FieldValue } from '../frame.ts';
import { type FieldTransform, fieldValueCode, INTEGER_TYPES, rounded } from './fieldValues.ts';

/** Reads a run of fields at `offset` into `out`; returns the offset after the last field. */
export type FieldsReader = (view: DataView, bytes: Uint8Array, offset: number, out: DecodedFields) => number;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TWO_POW_32 = 4_294_967_296;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Bytes a field takes, or `undefined` for a bcd/ascii/hex field without a length. */
export function fieldSize(field: BinaryField): number | undefined {
  return field.length ?? TYPE_BYTES[field.type];
}

/** Whether a field is an integer (the only kind a repeat count or bit fields may use). */
export function isIntegerField(field: BinaryField): boolean {
  return INTEGER_TYPES.has(field.type);
}

/** The names a field list emits, in order: bit fields in place of their field, skipped fields left out. */
export function emittedNames(fields: readonly BinaryField[]): string[] {
  const names: string[] = [];
  for (const field of fields) {
    if (field.skip) continue;
    if (field.bits && field.bits.length > 0) for (const bit of field.bits) names.push(bit.name);
    else names.push(field.name);
  }
  return names;
}

/** Reads a run of fields at `offset` into a new record that starts with `base`'s inherited fields. */
export type RecordReader = (
  view: DataView,
  bytes: Uint8Array,
  offset: number,
  base?: DecodedFields,
  aux?: FieldValue[],
  auxAt?: number,
) => DecodedFields;

/**
 * What `create` builds when the caller knows which fields it wants: a record of the `keep` fields
 * only, while the values of the `aux` fields (ids and times, say) go to `aux[auxAt + i]`. A record
 * that is exactly what the caller keeps saves building a second wide object per record.
 */
export interface Projection {
  readonly keep: readonly string[];
  readonly aux: readonly string[];
  /** The fields among `aux` that carry a device or hub id (read with the id's checks). */
  readonly ids?: readonly string[];
}

/**
 * A compiled field list: `read` stores into an existing record, `create` builds a new one with a
 * single object literal (several times faster than adding properties one by one). Both throw
 * `truncated` before reading anything; the fields always take `size` bytes.
 */
export interface CompiledFields {
  readonly read: FieldsReader;
  readonly create: RecordReader;
  readonly size: number;
  /** The names of the fields emitted, in order. */
  readonly names: readonly string[];
  /** Throws `truncated`, naming the first field that does not fit in a frame of `frame` bytes. */
  readonly truncated: (offset: number, frame: number) => never;
}

/**
 * Compiles fields read back to back. `inherited` names the fields `create` copies from its `base`
 * record first (a repeated group's header, for instance).
 */
export function compileFields(
  fields: readonly BinaryField[],
  inherited: readonly string[] = [],
  projection?: Projection,
): CompiledFields {
  const layout: { name: string; at: number; size: number }[] = [];
  const code = new CodeBuilder('v', [], false, projection?.ids);
  let size = 0;
  for (const field of fields) {
    const n = fieldSize(field);
    if (n === undefined) throw new Error(`field ${field.name}: a ${field.type} field needs a length`);
    code.field(field, `o + ${size}`, String(n));
    layout.push({ name: field.name, at: size, size: n });
    size += n;
  }
  inherited.forEach(checkName);
  const truncated = (offset: number, frame: number): never => {
    const f = layout.find((l) => offset + l.at + l.size > frame)!;
    throw new DecodeError(
      'truncated',
      `field ${f.name} needs ${f.size} bytes at offset ${offset + f.at}, frame has ${frame}`,
    );
  };
  const head = `if (o + ${size} > bytes.length) k.truncated(o, bytes.length);\n${code.text()}`;
  const stores = code.emits.map(([name, local]) => `out[${JSON.stringify(name)}] = ${local};\n`).join('');
  const read = code.build<FieldsReader>(
    'readFields',
    'view, bytes, o, out',
    `${head}${stores}return o + ${size};`,
    {
      truncated,
    },
  );
  let entries = [
    ...inherited.map((name) => `${JSON.stringify(name)}: base[${JSON.stringify(name)}]`),
    ...code.emits.map(([name, local]) => `${JSON.stringify(name)}: ${local}`),
  ];
  let auxStores = '';
  if (projection !== undefined) {
    // the last of equal names wins, as in the unprojected literal
    const sourceOf = new Map<string, string>();
    for (const name of inherited) sourceOf.set(name, `base[${JSON.stringify(name)}]`);
    for (const [name, local] of code.emits) sourceOf.set(name, local);
    [...projection.keep, ...projection.aux].forEach(checkName);
    entries = projection.keep.map((name) => `${JSON.stringify(name)}: ${sourceOf.get(name) ?? 'undefined'}`);
    auxStores = projection.aux
      .map((name, i) => `aux[ai + ${i}] = ${sourceOf.get(name) ?? 'undefined'};\n`)
      .join('');
  }
  const create = code.build<RecordReader>(
    'createRecord',
    'view, bytes, o, base, aux, ai',
    `${head}${auxStores}return {\n${entries.join(',\n')}\n};`,
    {
      truncated,
    },
  );
  const names = [...new Set([...inherited, ...code.emits.map(([name]) => name)])];
  return { read, create, size, names, truncated };
}

/** Helpers the generated code calls for the types that are more than one DataView read. */
const helpers = {
  finite(value: number, name: string): number {
    if (Number.isFinite(value)) return value;
    throw new DecodeError('bad-value', `field ${name} is ${value}`);
  },
  u64(view: DataView, o: number, le: boolean): number | string {
    const hi = view.getUint32(le ? o + 4 : o, le);
    if (hi < 0x20_0000) return hi * TWO_POW_32 + view.getUint32(le ? o : o + 4, le);
    return view.getBigUint64(o, le).toString();
  },
  i64(view: DataView, o: number, le: boolean): number | string {
    const hi = view.getInt32(le ? o + 4 : o, le);
    if (hi > -0x20_0000 && hi < 0x20_0000) return hi * TWO_POW_32 + view.getUint32(le ? o : o + 4, le);
    const big = view.getBigInt64(o, le);
    return big >= -MAX_SAFE && big <= MAX_SAFE ? Number(big) : big.toString();
  },
  bcd(bytes: Uint8Array, o: number, len: number, name: string): number | string {
    for (let i = o; i < o + len; i++) {
      const b = bytes[i]!;
      if (b > 0x99 || (b & 0x0f) > 9) {
        throw new DecodeError('bad-value', `field ${name}: byte 0x${HEX[b]} at offset ${i} is not BCD`);
      }
    }
    // A valid BCD byte's hex digits are its decimal digits; past 15 digits a number loses precision.
    if (len > 7) return helpers.hex(bytes, o, len);
    let n = 0;
    for (let i = o; i < o + len; i++) n = n * 100 + (bytes[i]! >> 4) * 10 + (bytes[i]! & 0x0f);
    return n;
  },
  ascii(bytes: Uint8Array, o: number, len: number, name: string): string {
    let end = o + len;
    while (end > o && (bytes[end - 1] === 0 || bytes[end - 1] === 0x20)) end--;
    let s = '';
    for (let i = o; i < end; i++) {
      const b = bytes[i]!;
      if (b > 0x7f)
        throw new DecodeError('bad-value', `field ${name}: byte 0x${HEX[b]} at offset ${i} is not ASCII`);
      s += String.fromCharCode(b);
    }
    return s;
  },
  /** An ascii id: not empty once trailing NUL and spaces are dropped, no control characters. */
  asciiId(bytes: Uint8Array, o: number, len: number, name: string): string {
    const id = helpers.ascii(bytes, o, len, name);
    if (id === '') throw new DecodeError('bad-id-bytes', `id field ${name} at offset ${o} is empty`);
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      if (c < 0x20 || c === 0x7f)
        throw new DecodeError(
          'bad-id-bytes',
          `id field ${name}: control character 0x${HEX[c]} at offset ${o + i}`,
        );
    }
    return id;
  },
  hex(bytes: Uint8Array, o: number, len: number): string {
    let s = '';
    for (let i = o; i < o + len; i++) s += HEX[bytes[i]!];
    return s;
  },
  linear(raw: number | string, scale: number, offset: number): number | string {
    return typeof raw === 'number' ? raw * scale + offset : raw;
  },
  rounded,
};

/**
 * Collects the statements for a field list and the values they refer to (`k.*`). Locals are named
 * `prefix` + index; with `assign`, values go to locals the caller declares (`let`) instead of new
 * `const`s, for code that reads a field in a branch (a key-value case). Builders that generate one
 * function together share their `enums`.
 */
export class CodeBuilder {
  private lines: string[] = [];
  private raws = 0;
  /** Field name → the local holding its value, in frame order. */
  readonly emits: [string, string][] = [];

  constructor(
    private readonly prefix = 'v',
    private readonly enums: ((raw: number | string) => FieldValue | undefined)[] = [],
    private readonly assign = false,
    /** Fields that carry a device or hub id: an ascii one is refused empty or with control characters. */
    private readonly ids: readonly string[] = [],
  ) {}

  field(field: BinaryField, at: string, len: string): void {
    checkName(field.name);
    if (field.skip) return;
    if (field.bits && field.bits.length > 0) {
      this.bits(field, at);
      return;
    }
    const raw =
      field.type === 'ascii' && this.ids.includes(field.name)
        ? `h.asciiId(bytes, ${at}, ${len}, ${JSON.stringify(field.name)})`
        : rawExpr(field, at, len);
    this.emit(field.name, this.transformed(field, raw));
  }

  private bits(field: BinaryField, at: string): void {
    if (!isIntegerField(field))
      throw new Error(`field ${field.name}: bits need an integer type, not ${field.type}`);
    const width = TYPE_BYTES[field.type]! * 8;
    const le = field.endian === 'little';
    if (width === 64) {
      this.lines.push(`hi = view.getUint32(${at} + ${le ? 4 : 0}, ${le});`);
      this.lines.push(`lo = view.getUint32(${at} + ${le ? 0 : 4}, ${le});`);
    } else {
      this.lines.push(
        'hi = 0;',
        `lo = ${width === 8 ? `bytes[${at}]` : `view.getUint${width}(${at}, ${le})`};`,
      );
    }
    for (const bit of field.bits!) {
      checkName(bit.name);
      if (bit.shift + bit.width > width) {
        throw new Error(`field ${field.name}: bit field ${bit.name} goes past the field's ${width} bits`);
      }
      const expr = this.transformed({ ...bit, type: 'u32' }, bitsExpr(bit.shift, bit.width));
      this.emit(bit.name, expr);
    }
  }

  private emit(name: string, expr: string): void {
    // assigned locals are named after their field, so a field read in several places has one local
    const local = this.assign ? `${this.prefix}${name}` : `${this.prefix}${this.emits.length}`;
    this.lines.push(this.assign ? `${local} = ${expr};` : `const ${local} = ${expr};`);
    this.emits.push([name, local]);
  }

  /**
   * Reads an integer field's raw value (its transforms and `skip` aside) into a new local and gives
   * its name: the length a later field takes (`lengthFrom`).
   */
  raw(field: BinaryField, at: string): string {
    const local = `n${this.prefix}${this.raws++}`;
    this.lines.push(`const ${local} = ${rawExpr(field, at, '0')};`);
    return local;
  }

  /** The statements collected since the last `take`. */
  take(): string {
    const text = this.text();
    this.lines = [];
    return text;
  }

  /** The raw expression with the field's transforms applied (`fieldValues.ts`). */
  private transformed(
    field: FieldTransform & { type: BinaryField['type']; width?: number },
    raw: string,
  ): string {
    return fieldValueCode(field, raw, (fn) => this.enums.push(fn) - 1);
  }

  text(): string {
    return this.lines.map((l) => `${l}\n`).join('');
  }

  /** A named function of `params` with `body`; `h` holds the read helpers, `k` `extra` and the enums. */
  build<F>(name: string, params: string, body: string, extra: object): F {
    const source = `return function ${name}(${params}) {\nlet hi = 0, lo = 0;\n${body}\n};`;
    const factory = new Function('h', 'k', source) as (h: typeof helpers, k: object) => F;
    return factory(helpers, { ...extra, enums: this.enums });
  }
}

function rawExpr(field: BinaryField, at: string, len: string): string {
  const le = field.endian === 'little';
  const name = JSON.stringify(field.name);
  switch (field.type) {
    case 'u8':
      return `bytes[${at}]`;
    case 'i8':
      return `view.getInt8(${at})`;
    case 'u16':
      return `view.getUint16(${at}, ${le})`;
    case 'i16':
      return `view.getInt16(${at}, ${le})`;
    case 'u32':
      return `view.getUint32(${at}, ${le})`;
    case 'i32':
      return `view.getInt32(${at}, ${le})`;
    case 'u64':
      return `h.u64(view, ${at}, ${le})`;
    case 'i64':
      return `h.i64(view, ${at}, ${le})`;
    case 'f32':
      return `h.finite(view.getFloat32(${at}, ${le}), ${name})`;
    case 'f64':
      return `h.finite(view.getFloat64(${at}, ${le}), ${name})`;
    case 'bcd':
      return `h.bcd(bytes, ${at}, ${len}, ${name})`;
    case 'ascii':
      return `h.ascii(bytes, ${at}, ${len}, ${name})`;
    case 'hex':
      return `h.hex(bytes, ${at}, ${len})`;
  }
}

/** Bits `shift .. shift + width - 1` of the 64-bit value held as `hi`:`lo` (unsigned halves). */
function bitsExpr(shift: number, width: number): string {
  const mask = (w: number): string => (w >= 32 ? '' : ` & ${2 ** w - 1}`);
  if (shift >= 32) return `((hi >>> ${shift - 32})${mask(width)}) >>> 0`;
  if (shift + width <= 32) return `((lo >>> ${shift})${mask(width)}) >>> 0`;
  const low = 32 - shift;
  return `((hi${mask(width - low)}) >>> 0) * ${2 ** low} + (lo >>> ${shift})`;
}

/** Refuses a name that is not a valid field name (they are written into generated code). */
export function checkName(name: string): void {
  // `__proto__` matches the name pattern but would set the record's prototype instead of a field.
  if (!NAME.test(name) || name === '__proto__')
    throw new Error(`not a valid field name: ${JSON.stringify(name)}`);
}
