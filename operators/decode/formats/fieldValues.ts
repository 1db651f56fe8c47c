/**
 * A binary field's value from its raw value, as the spec's value options say (`na`, `boolean`,
 * `enum`, `scale`, `offset`, `decimals`; `specs/README.md`, "Field values"): the expression the
 * generated readers of `binaryFields.ts` use, and the function it calls for the options that are more
 * than arithmetic.
 */
import { INTEGER_TYPES } from '../../../specs/binaryFields.ts';
import { type BinaryField, TYPE_BYTES } from '../../../specs/schema.ts';

/** The integer types (the only ones a repeat count or bit fields may use). */
export { INTEGER_TYPES };

import type { FieldValue } from '../frame.ts';

/** What turns a field's raw value into its value (`specs/schema.ts`'s value options). */
export type FieldTransform = {
  scale?: number | undefined;
  offset?: number | undefined;
  decimals?: number | undefined;
  enum?: Record<string, string | number | boolean> | undefined;
  boolean?: boolean | undefined;
  na?: readonly (number | string)[] | undefined;
};

/** The types whose raw value is an integer (bit fields are read as `u32`). */
const INTEGRAL: ReadonlySet<string> = new Set([...INTEGER_TYPES, 'bcd']);

/** Digits after the point in the shortest form of `n` (`0.1` → 1, `1e-7` → 7, `2` → 0). */
function decimalsOf(n: number): number {
  const [mantissa, exponent] = String(n).split('e');
  const fraction = mantissa!.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent ?? 0));
}

/**
 * The decimals a field's value is rounded to: the spec's `decimals`, else, for an integer scaled or
 * offset, the decimals its scale and offset have (beyond 12, a scale such as 1/3, none).
 */
export function roundingOf(field: FieldTransform & { type: BinaryField['type'] }): number | undefined {
  if (field.decimals !== undefined) return field.decimals;
  if (!INTEGRAL.has(field.type) || (field.scale === undefined && field.offset === undefined))
    return undefined;
  const d = Math.max(decimalsOf(field.scale ?? 1), decimalsOf(field.offset ?? 0));
  return d > 12 ? undefined : d;
}

/** `value` rounded to `decimals` (a power of ten `factor`); strings (64-bit, BCD beyond 2^53) as they are. */
export function rounded(value: number | string, factor: number): number | string {
  return typeof value === 'number' ? Math.round(value * factor) / factor : value;
}

/**
 * The expression of a field's value from `raw` (an expression of its raw value): "not available"
 * values (absent), then a boolean, an enum label, or scale and offset, rounded (`roundingOf`).
 * `register` keeps a function the expression calls (`k.enums[i]`) and gives its index. A bit field
 * comes with `type: 'u32'` and its `width`.
 */
export function fieldValueCode(
  field: FieldTransform & { type: BinaryField['type']; width?: number },
  raw: string,
  register: (fn: (raw: number | string) => FieldValue | undefined) => number,
): string {
  const text = field.type === 'ascii' || field.type === 'hex';
  const decimals = text ? undefined : roundingOf(field);
  if (field.enum || field.boolean || field.na) {
    return `k.enums[${register(valueTransform(field, decimals))}](${raw})`;
  }
  const linear = field.scale !== undefined || field.offset !== undefined;
  if (text || (!linear && decimals === undefined)) return raw;
  const scale = literal(field.scale ?? 1);
  const offset = literal(field.offset ?? 0);
  const value =
    field.type === 'u64' || field.type === 'i64' || field.type === 'bcd'
      ? `h.linear(${raw}, ${scale}, ${offset})`
      : `(${raw}) * ${scale} + ${offset}`;
  if (decimals === undefined) return value;
  const f = 10 ** decimals;
  const factor = literal(f);
  if (value.startsWith('h.')) return `h.rounded(${value}, ${factor})`;
  // An integer of 32 bits or less scaled by the decimals its scale and offset have: (raw × scale × 10^d
  // + offset × 10^d), integers, is exact, and one division gives the decimal's nearest double (no
  // rounding call per value).
  const m = Math.round((field.scale ?? 1) * f);
  const o = Math.round((field.offset ?? 0) * f);
  const bits = field.width !== undefined ? field.width : TYPE_BYTES[field.type]! * 8;
  if (field.decimals === undefined && 2 ** bits * Math.abs(m) + Math.abs(o) <= Number.MAX_SAFE_INTEGER)
    return `((${raw}) * ${literal(m)} + ${literal(o)}) / ${factor}`;
  return `Math.round((${value}) * ${factor}) / ${factor}`;
}

/**
 * A field's value from its raw value, for fields with "not available" values, a boolean or an enum:
 * a raw value listed in `na` gives no value (the metric is absent); `boolean` gives `raw !== 0`; an
 * enum looks the raw value up (numeric keys such as "3" or "0x03" match numbers), else the value is
 * scaled (and rounded) as any other.
 */
function valueTransform(
  field: FieldTransform,
  decimals: number | undefined,
): (raw: number | string) => FieldValue | undefined {
  const na = new Set<number | string>(field.na ?? []);
  const scale = field.scale ?? 1;
  const offset = field.offset ?? 0;
  const factor = decimals === undefined ? undefined : 10 ** decimals;
  const byNumber = new Map<number, string | number | boolean>();
  const byString = new Map<string, string | number | boolean>();
  for (const [key, label] of Object.entries(field.enum ?? {})) {
    byString.set(key, label);
    if (/^-?\d+$/.test(key) || /^0x[0-9a-f]+$/i.test(key)) byNumber.set(Number(key), label);
  }
  const labelled = field.enum !== undefined;
  const boolean = field.boolean === true;
  return function fieldValue(raw) {
    if (na.has(raw)) return undefined;
    if (boolean) return typeof raw === 'number' ? raw !== 0 : /[^0]/.test(raw);
    if (labelled) {
      const label = typeof raw === 'number' ? byNumber.get(raw) : byString.get(raw);
      if (label !== undefined) return label;
    }
    if (typeof raw !== 'number') return raw;
    const value = raw * scale + offset;
    return factor === undefined ? value : rounded(value, factor);
  };
}

/** A finite number as generated code. */
export function literal(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  return `(${String(n)})`;
}
