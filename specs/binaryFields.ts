/**
 * The fields of a binary frame (hex frames, key-value values, vendor extension values, a hybrid
 * frame's binary part): their types and byte counts, the value transforms (scale, offset, enum,
 * boolean, "not available" values, decimals), bit fields, checksums, and the checks of lengths taken
 * from earlier fields. `schema.ts` composes them into a spec.
 */
import { z } from 'zod';

export const name = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a field name: letters, digits and _, not starting with a digit');
export const hexBytes = z.string().regex(/^([0-9A-Fa-f]{2})+$/, 'hex bytes, e.g. "F3899AC2"');

/** Types of a field in a binary frame. */
export const BINARY_TYPES = [
  'u8',
  'u16',
  'u32',
  'u64',
  'i8',
  'i16',
  'i32',
  'i64',
  'f32',
  'f64',
  'bcd',
  'ascii',
  'hex',
] as const;

/** Bytes a numeric type takes (`bcd`, `ascii`, `hex` need an explicit length). */
export const TYPE_BYTES: Partial<Record<(typeof BINARY_TYPES)[number], number>> = {
  u8: 1,
  u16: 2,
  u32: 4,
  u64: 8,
  i8: 1,
  i16: 2,
  i32: 4,
  i64: 8,
  f32: 4,
  f64: 8,
};

const valueTransform = {
  scale: z
    .number()
    .optional()
    .describe(
      'multiply the raw value; the result of an integer is rounded to the decimals scale and offset have (×0.1 of 634 is 63.4)',
    ),
  offset: z.number().optional().describe('then add this'),
  decimals: z
    .number()
    .int()
    .min(0)
    .max(12)
    .optional()
    .describe('round the value to this many decimals (instead of those scale and offset imply)'),
  enum: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .optional()
    .describe('raw value → label (a string, number or boolean)'),
  boolean: z
    .boolean()
    .optional()
    .describe('the value is a boolean: false when the raw value is 0, else true'),
  na: z
    .array(z.union([z.number(), z.string()]))
    .optional()
    .describe('raw values that mean "not available" (e.g. 0xFFFF): the metric is then absent'),
};

/** A boolean value has nothing to scale or label. */
const booleanAlone = (f: { boolean?: boolean | undefined; scale?: number; offset?: number; enum?: object }) =>
  !f.boolean || (f.scale === undefined && f.offset === undefined && f.enum === undefined);
const BOOLEAN_ALONE = { message: 'a boolean field has no scale, offset or enum', path: ['boolean'] };

/** A bit field inside an integer field (bit 0 is the least significant). */
const bitFieldSchema = z
  .object({
    name,
    shift: z.number().int().min(0).max(63).describe('the lowest bit taken; bit 0 is the least significant'),
    width: z.number().int().min(1).max(53).describe('how many bits, from shift upwards'),
    ...valueTransform,
  })
  .strict()
  .refine(booleanAlone, BOOLEAN_ALONE);

/** One field of a binary frame, in order. */
export const binaryFieldSchema = z
  .object({
    name,
    type: z.enum(BINARY_TYPES).describe('how the bytes are read (the table of binary types)'),
    length: z.number().int().min(1).max(65_535).optional().describe('bytes; required for bcd, ascii and hex'),
    lengthFrom: name
      .optional()
      .describe(
        'bcd, ascii and hex in a hex frame’s fields: the earlier u8, u16 or u32 field whose raw value is this field’s length in bytes',
      ),
    endian: z
      .enum(['big', 'little'])
      .default('big')
      .describe('byte order of a multi-byte number: big, most significant byte first'),
    ...valueTransform,
    bits: z.array(bitFieldSchema).optional().describe('split an integer into named bit fields'),
    skip: z.boolean().default(false).describe('reserved bytes: read past, not emitted'),
  })
  .strict()
  .refine((f) => TYPE_BYTES[f.type] !== undefined || f.length !== undefined || f.lengthFrom !== undefined, {
    message: 'bcd, ascii and hex fields need a length (or lengthFrom)',
    path: ['length'],
  })
  .refine((f) => f.lengthFrom === undefined || (TYPE_BYTES[f.type] === undefined && f.length === undefined), {
    message: 'lengthFrom is for bcd, ascii and hex fields without a length',
    path: ['lengthFrom'],
  })
  .refine(booleanAlone, BOOLEAN_ALONE);
/** See {@link binaryFieldSchema}. */
export type BinaryField = z.output<typeof binaryFieldSchema>;

/** A checksum over a byte range, checked before anything is emitted. */
export const checksumSchema = z
  .object({
    algorithm: z
      .enum(['sum8', 'xor', 'crc16-modbus', 'crc32'])
      .describe('sum8 and xor: 1 byte; crc16-modbus: 2 bytes; crc32 (IEEE): 4 bytes'),
    from: z.number().int().default(0).describe('first byte covered'),
    to: z
      .number()
      .int()
      .optional()
      .describe(
        'end of the covered range (exclusive; negative counts from the end); default: up to the checksum',
      ),
    at: z.number().int().describe('offset of the checksum (negative counts from the end)'),
    endian: z.enum(['big', 'little']).default('big').describe('byte order of the stored checksum'),
  })
  .strict();

/** The integer types a length may come from: never negative, always an exact double. */
const LENGTH_TYPES: ReadonlySet<string> = new Set(['u8', 'u16', 'u32']);
/** The integer types (the only ones a repeat count or bit fields may use). */
export const INTEGER_TYPES: ReadonlySet<string> = new Set([
  'u8',
  'u16',
  'u32',
  'u64',
  'i8',
  'i16',
  'i32',
  'i64',
]);
type Issues = z.core.$RefinementCtx;

/** Each `lengthFrom` of a field list names an earlier u8, u16 or u32 field without bits. */
export function checkLengthsFrom(
  fields: readonly BinaryField[],
  path: (string | number)[],
  ctx: Issues,
): void {
  fields.forEach((field, i) => {
    if (field.lengthFrom === undefined) return;
    const from = fields.slice(0, i).find((f) => f.name === field.lengthFrom);
    const problem =
      from === undefined
        ? fields.some((f) => f.name === field.lengthFrom)
          ? `field ${field.lengthFrom} comes after ${field.name}: a length is read before its field`
          : `no field ${field.lengthFrom} before ${field.name}`
        : !LENGTH_TYPES.has(from.type) || from.bits?.length
          ? `field ${field.lengthFrom} is a ${from.type}${from.bits?.length ? ' with bits' : ''}; a length comes from a u8, u16 or u32`
          : undefined;
    if (problem) ctx.addIssue({ code: 'custom', path: [...path, i, 'lengthFrom'], message: problem });
  });
}

/** Field lists whose offsets are fixed: `lengthFrom` is read only in a hex frame's fields. */
export function noLengthsFrom(fields: readonly BinaryField[], path: (string | number)[], ctx: Issues): void {
  fields.forEach((field, i) => {
    noLengthFrom(field, [...path, i], ctx);
  });
}

export function noLengthFrom(field: BinaryField, path: (string | number)[], ctx: Issues): void {
  if (field.lengthFrom !== undefined)
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'lengthFrom'],
      message: 'lengthFrom is read only in a hex frame’s fields (not here)',
    });
}

/** See {@link checksumSchema}. */
export type Checksum = z.output<typeof checksumSchema>;
