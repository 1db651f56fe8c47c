/**
 * The `json` format: a UTF-8 JSON document whose fields are found by dotted paths (`a.b.c`,
 * `readings.0.v`). With `records`, the array at that path holds one reading per element (a hub
 * sending its children's readings), `fields` are read from each element and `shared` from the root.
 * A path that leads nowhere leaves its field out, because whether a field may be absent is the
 * contract's call, not the decoder's.
 *
 * The reader is generated once per spec (`new Function`): every path becomes a short chain of
 * property reads into a local, and a record is one object literal when every field is present
 * (else built field by field). The generated text holds only keys and indexes from the spec's
 * paths, emitted through `JSON.stringify`, and field names that pass the spec's name pattern.
 */
import type { JsonFormat } from '../../../specs/schema.ts';
import { DecodeError } from '../errors.ts';
import type { DecodedFields, FieldValue, FrameDecoder } from '../frame.ts';
import type { Projection } from './binaryFields.ts';

// One decoder for every payload: `decode` without `stream` keeps no state between calls.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One segment of a dotted path: an object key and the array index it spells (or -1). */
interface Segment {
  readonly key: string;
  readonly index: number;
  /** The key names something every object inherits as a non-function (`__proto__`). */
  readonly inherited: boolean;
}

type RecordsReader = (root: unknown, aux: FieldValue[]) => DecodedFields[];

/**
 * Compiles a `json` format into a decoder. With a projection, records hold only the kept fields
 * (see {@link Projection}).
 *
 * @example
 * const decode = compileJson({ type: 'json', fields: { t: 'reading.t' }, shared: {} });
 * decode(new TextEncoder().encode('{"reading":{"t":21.5}}')); // [{ t: 21.5 }]
 */
export function compileJson(format: JsonFormat, projection?: Projection): FrameDecoder {
  const fields = Object.entries(format.fields);
  const records = format.records === undefined ? undefined : compilePath(format.records);
  // shared fields belong to readings: without `records` there are none
  const shared = records === undefined ? [] : Object.entries(format.shared);
  const needsContainerRoot = records !== undefined || fields.length > 0 || shared.length > 0;
  // `__proto__` passes the name pattern, but storing it sets a prototype, not a field
  const names = [...new Set([...shared, ...fields].map(([name]) => name))].filter((n) => n !== '__proto__');
  const keep = (projection?.keep ?? names).filter((n) => names.includes(n));
  const auxNames = projection?.aux ?? [];
  const paths = [...shared, ...fields].map(([field, path]) => ({ field, path: compilePath(path) }));

  const body: string[] = ['let x;'];
  // shared fields are read from the root once; a field of the same name in the reading wins
  const sharedReads = shared.flatMap(([, path], i) => [
    `let s${i};`,
    ...readCode(`s${i}`, 'root', compilePath(path), i),
  ]);
  const sourceOf = (name: string) => {
    const f = fields.findIndex(([n]) => n === name);
    const s = shared.findIndex(([n]) => n === name);
    if (f >= 0 && s >= 0) return `(f${f} !== undefined ? f${f} : s${s})`;
    return f >= 0 ? `f${f}` : s >= 0 ? `s${s}` : 'undefined';
  };
  const recordCode = (auxAt: string) => {
    const key = (n: string) => JSON.stringify(n);
    const lines = keep.map((n, i) => `const r${i} = ${sourceOf(n)};`);
    lines.push(
      ...auxNames.map((n, j) => `aux[${auxAt} + ${j}] = ${names.includes(n) ? sourceOf(n) : 'undefined'};`),
    );
    const all = keep.map((_, i) => `r${i} !== undefined`).join(' && ') || 'true';
    lines.push(`let rec;\nif (${all}) rec = { ${keep.map((n, i) => `${key(n)}: r${i}`).join(', ')} };`);
    lines.push(
      `else { rec = {}; ${keep.map((n, i) => `if (r${i} !== undefined) rec[${key(n)}] = r${i};`).join(' ')} }`,
    );
    return lines;
  };
  const fieldReads = (from: string) =>
    fields.flatMap(([, path], i) => [
      `let f${i};`,
      ...readCode(`f${i}`, from, compilePath(path), shared.length + i),
    ]);
  if (records === undefined) {
    body.push(...fieldReads('root'), ...recordCode('0'), 'return [rec];');
  } else {
    body.push(
      ...readCode('const readings', 'root', records, -1),
      'if (!Array.isArray(readings)) k.notArray(readings);',
      ...sharedReads,
      'const out = new Array(readings.length);',
      'for (let i = 0; i < readings.length; i++) {',
      'const reading = readings[i];',
      "if (typeof reading !== 'object' || reading === null) k.notReading(i, reading);",
      ...fieldReads('reading'),
      ...recordCode(`i * ${auxNames.length}`),
      'out[i] = rec;',
      '}',
      'return out;',
    );
  }
  const helpers = {
    notScalar(i: number, value: unknown): never {
      const { field, path } = paths[i]!;
      throw new DecodeError(
        'bad-value',
        `field ${field} (${path.map((s) => s.key).join('.')}) is ${describe(value)}, not a number, string, boolean or null`,
      );
    },
    notArray(readings: unknown): never {
      throw new DecodeError(
        'missing-field',
        `records path "${format.records}" is ${readings === undefined ? 'absent' : describe(readings)}, not an array`,
      );
    },
    notReading(i: number, reading: unknown): never {
      throw new DecodeError('bad-value', `${format.records}.${i} is ${describe(reading)}, not an object`);
    },
  };
  const source = `return function readRecords(root, aux) {\n${body.join('\n')}\n};`;
  const readRecords = new Function('k', source)(helpers) as RecordsReader;
  const aux: FieldValue[] = [];

  const decode: FrameDecoder = function decodeJson(payload: Uint8Array): DecodedFields[] {
    const root = parseJson(payload);
    if (needsContainerRoot && (typeof root !== 'object' || root === null)) {
      throw new DecodeError('invalid-json', `the payload is JSON ${describe(root)}, not an object or array`);
    }
    return readRecords(root, aux);
  };
  decode.aux = aux;
  return decode;
}

function parseJson(payload: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    throw new DecodeError('invalid-utf8', 'the payload is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DecodeError('invalid-json', err instanceof Error ? err.message : String(err));
  }
}

/**
 * Statements that leave the value at `path` below `from` in `target` (`undefined` when the path
 * leads nowhere); `check` ≥ 0 refuses an object or array there, naming field `check`.
 */
function readCode(target: string, from: string, path: readonly Segment[], check: number): string[] {
  const lines = [`x = ${from};`];
  for (const { key, index, inherited } of path) {
    const k = JSON.stringify(key);
    lines.push(
      "if (typeof x !== 'object' || x === null) x = undefined;",
      // Only a canonical index: `length` or `01` is not an element of the array.
      `else if (Array.isArray(x)) x = ${index >= 0 ? `x[${index}]` : 'undefined'};`,
      // `__proto__` and friends would otherwise read Object.prototype rather than the payload.
      inherited
        ? `else if (!Object.hasOwn(x, ${k})) x = undefined; else x = x[${k}];`
        : `else { x = x[${k}]; if (typeof x === 'function') x = undefined; }`,
    );
  }
  // Parsed JSON holds no functions: a function is an inherited method (`toString`), not data.
  if (check >= 0) lines.push(`if (typeof x === 'object' && x !== null) k.notScalar(${check}, x);`);
  lines.push(`${target} = x;`);
  return lines;
}

/** Splits a dotted path once; the empty path is the root itself. */
function compilePath(path: string): Segment[] {
  if (path === '') return [];
  return path.split('.').map((key) => ({
    key,
    index: /^(0|[1-9][0-9]{0,14})$/.test(key) ? Number(key) : -1,
    inherited:
      key in Object.prototype && typeof (Object.prototype as Record<string, unknown>)[key] !== 'function',
  }));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
