/**
 * The `json` format: a UTF-8 JSON document whose fields are found by dotted paths (`a.b.c`,
 * `readings.0.v`). With `records`, the array at that path holds one reading per element (a hub
 * sending its children's readings), `fields` are read from each element and `shared` from the root.
 * Paths are split once at compile time; a path that leads nowhere leaves its field out, because
 * whether a field may be absent is the contract's call, not the decoder's.
 */
import type { JsonFormat } from '../../../specs/schema.ts';
import { DecodeError } from '../errors.ts';
import type { DecodedFields, FieldValue, FrameDecoder } from '../frame.ts';

// One decoder for every payload: `decode` without `stream` keeps no state between calls.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One segment of a dotted path: an object key and the array index it spells (or -1). */
interface Segment {
  readonly key: string;
  readonly index: number;
  /** The key names something every object inherits as a non-function (`__proto__`). */
  readonly inherited: boolean;
}

/** A field and the path it is read from. */
interface FieldPath {
  readonly field: string;
  readonly path: readonly Segment[];
}

/**
 * Compiles a `json` format into a decoder.
 *
 * @example
 * const decode = compileJson({ type: 'json', fields: { t: 'reading.t' }, shared: {} });
 * decode(new TextEncoder().encode('{"reading":{"t":21.5}}')); // [{ t: 21.5 }]
 */
export function compileJson(format: JsonFormat): FrameDecoder {
  const fields = compileFields(format.fields);
  const shared = compileFields(format.shared);
  const records = format.records === undefined ? undefined : compilePath(format.records);
  const needsContainerRoot = records !== undefined || fields.length > 0 || shared.length > 0;

  return function decodeJson(payload: Uint8Array): DecodedFields[] {
    const root = parseJson(payload);
    if (needsContainerRoot && (typeof root !== 'object' || root === null)) {
      throw new DecodeError('invalid-json', `the payload is JSON ${describe(root)}, not an object or array`);
    }
    if (records === undefined) return [readFields(root, fields, {})];

    const readings = resolve(root, records);
    if (!Array.isArray(readings)) {
      throw new DecodeError(
        'missing-field',
        `records path "${format.records}" is ${readings === undefined ? 'absent' : describe(readings)}, not an array`,
      );
    }
    const common = readFields(root, shared, {});
    const out: DecodedFields[] = new Array(readings.length);
    for (let i = 0; i < readings.length; i++) {
      const reading: unknown = readings[i];
      if (typeof reading !== 'object' || reading === null) {
        throw new DecodeError('bad-value', `${format.records}.${i} is ${describe(reading)}, not an object`);
      }
      out[i] = readFields(reading, fields, { ...common });
    }
    return out;
  };
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

/** Reads every field found under `from` into `into`; absent paths are left out. */
function readFields(from: unknown, fields: readonly FieldPath[], into: DecodedFields): DecodedFields {
  for (const { field, path } of fields) {
    const value = resolve(from, path);
    if (value === undefined) continue;
    if (typeof value === 'object' && value !== null) {
      throw new DecodeError(
        'bad-value',
        `field ${field} (${joinPath(path)}) is ${describe(value)}, not a number, string, boolean or null`,
      );
    }
    into[field] = value as FieldValue;
  }
  return into;
}

/** The value at `path` below `from`, or `undefined` when the path leads nowhere. */
function resolve(from: unknown, path: readonly Segment[]): unknown {
  let at = from;
  for (let i = 0; i < path.length; i++) {
    const { key, index, inherited } = path[i] as Segment;
    if (typeof at !== 'object' || at === null) return undefined;
    if (Array.isArray(at)) {
      // Only a canonical index: `length` or `01` is not an element of the array.
      if (index < 0) return undefined;
      at = at[index];
    } else if (inherited && !Object.hasOwn(at, key)) {
      // `__proto__` and friends would otherwise read Object.prototype rather than the payload.
      return undefined;
    } else {
      at = (at as Record<string, unknown>)[key];
      // Parsed JSON holds no functions: a function is an inherited method (`toString`), not data.
      if (typeof at === 'function') return undefined;
    }
  }
  return at;
}

function compileFields(fields: Record<string, string>): FieldPath[] {
  return Object.entries(fields).map(([field, path]) => ({ field, path: compilePath(path) }));
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

function joinPath(path: readonly Segment[]): string {
  return path.map((s) => s.key).join('.');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
