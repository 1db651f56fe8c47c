/**
 * The language of product specs: one YAML file per product and version says how to recognise its
 * records, how to decode them (hex length-based, key-value, hybrid, JSON, CSV), how to build the
 * standard telemetry from the decoded fields, and what the data contract is. This zod schema is the
 * single source for validation and for the JSON Schema editors use (`specJsonSchema`).
 */
import { z } from 'zod';
import {
  binaryFieldSchema,
  checkLengthsFrom,
  checksumSchema,
  hexBytes,
  INTEGER_TYPES,
  name,
  noLengthFrom,
  noLengthsFrom,
} from './binaryFields.ts';

export {
  BINARY_TYPES,
  type BinaryField,
  binaryFieldSchema,
  type Checksum,
  checksumSchema,
  TYPE_BYTES,
} from './binaryFields.ts';

const groupSchema = z
  .object({
    count: name.describe('the field holding how many times the group repeats'),
    fields: z.array(binaryFieldSchema).min(1),
  })
  .strict();

const hexFormat = z
  .object({
    type: z.literal('hex'),
    fields: z.array(binaryFieldSchema).min(1),
    repeat: groupSchema.optional().describe('a repeated group after the fields: one record per entry'),
    checksum: checksumSchema.optional(),
  })
  .strict()
  .superRefine((format, ctx) => {
    checkLengthsFrom(format.fields, ['fields'], ctx);
    if (format.repeat === undefined) return;
    noLengthsFrom(format.repeat.fields, ['repeat', 'fields'], ctx);
    const count = format.fields.find((f) => f.name === format.repeat!.count);
    if (count === undefined || count.skip || !INTEGER_TYPES.has(count.type) || count.bits?.length)
      ctx.addIssue({
        code: 'custom',
        path: ['repeat', 'count'],
        message: `${format.repeat.count} must name an integer field of the fields before the group (not skipped, no bits)`,
      });
  });

const kvFormat = z
  .object({
    type: z.literal('kv'),
    header: z.array(binaryFieldSchema).default([]).describe('fixed fields before the key-value pairs'),
    keys: z.record(z.string().regex(/^[0-9A-Fa-f]{4}$/, 'a 2-byte key as 4 hex digits'), binaryFieldSchema),
    lengthByte: z.boolean().default(false).describe('every value is preceded by a 1-byte length'),
    unknownKeys: z.enum(['skip', 'reject']).default('reject').describe('skip needs lengthByte'),
    extensions: z
      .array(
        z
          .object({
            keys: z
              .string()
              .regex(
                /^[0-9A-Fa-f]{4}(-[0-9A-Fa-f]{4})?$/,
                'a key (4 hex digits) or a range of keys (FF00-FFFF)',
              )
              .describe('the vendor keys: one key, or a range of keys, both ends included'),
            length: z
              .enum(['byte', 'word'])
              .default('byte')
              .describe(
                'the length (bytes) that follows each such key: 1 byte, or 2 big-endian; with lengthByte, its byte',
              ),
            hex: name.optional().describe('keep the value: a text field of this name holding its hex digits'),
            fields: z
              .array(binaryFieldSchema)
              .min(1)
              .optional()
              .describe('decode the value: fields read back to back from its first byte, within its length'),
          })
          .strict()
          .refine((e) => e.hex === undefined || e.fields === undefined, {
            message: 'give hex or fields, not both',
            path: ['hex'],
          }),
      )
      .default([])
      .describe(
        'vendor extensions: keys whose value carries its own length, wherever they come between the spec’s keys; skipped, kept as hex or decoded by fields',
      ),
    checksum: checksumSchema.optional(),
  })
  .strict()
  .superRefine((format, ctx) => {
    noLengthsFrom(format.header, ['header'], ctx);
    for (const [key, field] of Object.entries(format.keys)) noLengthFrom(field, ['keys', key], ctx);
    format.extensions.forEach((e, i) => {
      noLengthsFrom(e.fields ?? [], ['extensions', i, 'fields'], ctx);
    });
  });

const hybridFormat = z
  .object({
    type: z.literal('hybrid'),
    separator: z.union([hexBytes, z.string().min(1)]).describe('segment separator: hex bytes or text'),
    separatorIsHex: z.boolean().default(false).describe('the separator is given as hex bytes'),
    segments: z.array(z.object({ fields: z.array(binaryFieldSchema).min(1) }).strict()).min(1),
    checksum: checksumSchema.optional(),
  })
  .strict()
  .superRefine((format, ctx) => {
    format.segments.forEach((segment, i) => {
      noLengthsFrom(segment.fields, ['segments', i, 'fields'], ctx);
    });
  });

const jsonFormat = z
  .object({
    type: z.literal('json'),
    fields: z
      .record(name, z.string().min(1))
      .describe('field → dotted path (in a reading when `records` is set)'),
    records: z.string().optional().describe('dotted path of an array: one record per element'),
    shared: z
      .record(name, z.string().min(1))
      .default({})
      .describe('field → dotted path from the root, copied into every record'),
  })
  .strict();

const csvFormat = z
  .object({
    type: z.literal('csv'),
    delimiter: z.string().length(1).default(',').describe('one character between columns'),
    header: z.boolean().default(true).describe('first row names the columns'),
    columns: z
      .record(name, z.union([z.string(), z.number().int().min(0)]))
      .describe('field → column name or index'),
    numeric: z.array(name).default([]).describe('fields parsed as numbers'),
  })
  .strict();

/** How the payload is decoded. */
export const formatSchema = z.discriminatedUnion('type', [
  hexFormat,
  kvFormat,
  hybridFormat,
  jsonFormat,
  csvFormat,
]);
/** See {@link formatSchema}. */
export type Format = z.output<typeof formatSchema>;
export type HexFormat = z.output<typeof hexFormat>;
export type KvFormat = z.output<typeof kvFormat>;
export type HybridFormat = z.output<typeof hybridFormat>;
export type JsonFormat = z.output<typeof jsonFormat>;
export type CsvFormat = z.output<typeof csvFormat>;

/** Where an id comes from. */
const idSource = z
  .union([
    z.object({ from: z.literal('topic'), part: z.enum(['device', 'hub']).default('device') }).strict(),
    z.object({ from: z.literal('field'), field: name }).strict(),
    z
      .object({ from: z.literal('envelope') })
      .strict()
      .describe('the envelope’s `source`'),
  ])
  .describe(
    'where the id comes from: { from: topic, part: device|hub } (the topic pattern’s {device} or {hub}), { from: field, field: NAME } (a decoded field) or { from: envelope } (the envelope’s source)',
  );

/** How a timestamp is read. */
export const timestampSchema = z
  .union([
    z
      .object({
        field: name,
        kind: z.enum(['epoch-s', 'epoch-ms', 'epoch-us', 'iso8601', 'bcd', 'local']),
        zone: z.string().optional().describe('IANA zone for bcd/local device time; UTC when absent'),
      })
      .strict(),
    z
      .object({ from: z.literal('ingest') })
      .strict()
      .describe('the gateway’s receive time'),
  ])
  .describe(
    'either { field: NAME, kind: epoch-s|epoch-ms|epoch-us|iso8601|bcd|local, zone: IANA zone } (a decoded field) or { from: ingest } (the gateway’s receive time)',
  );

const metricContract = z
  .object({
    type: z.enum(['number', 'string', 'boolean']).default('number').describe('the type the value must have'),
    unit: z.string().optional().describe('the unit, for people and the stores'),
    required: z.boolean().default(false).describe('a record without the metric violates the contract'),
    min: z.number().optional().describe('the lowest value allowed (included)'),
    max: z.number().optional().describe('the highest value allowed (included)'),
    allowed: z
      .array(z.union([z.string(), z.number(), z.boolean()]))
      .optional()
      .describe('the only values allowed'),
    onViolation: z
      .enum(['reject', 'drop-metric'])
      .default('reject')
      .describe('reject: the record is a dead letter; drop-metric: the record is kept without the metric'),
  })
  .strict();

/** What a product's device ids look like; an id that is not so is a `contract-id` dead letter. */
const deviceIdContract = z
  .object({
    pattern: z
      .string()
      .refine(
        (p) => {
          try {
            new RegExp(p, 'u');
            return true;
          } catch {
            return false;
          }
        },
        { message: 'is not a valid regular expression' },
      )
      .optional()
      .describe('a regular expression the id matches (anchor it: ^[0-9a-f]{8}$)'),
    minLength: z.number().int().min(1).optional().describe('fewest characters'),
    maxLength: z.number().int().min(1).optional().describe('most characters'),
  })
  .strict()
  .refine((c) => c.minLength === undefined || c.maxLength === undefined || c.minLength <= c.maxLength, {
    message: 'minLength is above maxLength',
    path: ['minLength'],
  });
/** See {@link deviceIdContract}. */
export type DeviceIdContract = z.output<typeof deviceIdContract>;

/** The contract's default limit on how far an event time may lie ahead of the clock: 5 minutes. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;
/** The contract's default limit on an event time's age: 30 days. */
export const MAX_AGE_MS = 30 * 24 * 3_600_000;

/**
 * A limit of the contract on the event time, in ms, or `off`: no limit, read as `Infinity` so that
 * every comparison with it holds without a special case.
 */
const timeLimit = (fallback: number) =>
  z
    .union([z.number().int().min(0), z.literal('off').transform(() => Number.POSITIVE_INFINITY)], {
      error: 'milliseconds (a whole number, 0 or more) or off (no limit)',
    })
    .default(fallback);

/** One product spec (one version). */
export const specSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes')
      .describe('the spec’s stable id; with the version, it goes into every record’s rawRef'),
    version: z.number().int().min(1).describe('the spec’s version; one file per version'),
    productId: z.string().min(1).describe('the product the records are of'),
    description: z.string().optional().describe('for people'),
    match: z
      .object({
        productId: z.string().optional().describe('the envelope names this product'),
        topic: z
          .string()
          .optional()
          .describe('topic pattern with {hub} and {device}, e.g. devices/{hub}/child/{device}/telemetry'),
        prefix: hexBytes.optional().describe('the payload starts with these bytes (magic)'),
        registry: z
          .boolean()
          .optional()
          .describe(
            'also recognised when the device registry says the device of the record’s topic is of this productId; consulted only when no spec’s own conditions hold',
          ),
      })
      .strict()
      .refine(
        (m) => m.productId || m.topic || m.prefix || m.registry,
        'give at least one of productId, topic, prefix, registry',
      ),
    payload: z
      .object({
        encoding: z
          .enum(['envelope', 'hex-text'])
          .default('envelope')
          .describe('hex-text: the decoded payload is hex digits'),
        maxBytes: z
          .number()
          .int()
          .min(1)
          .max(16 * 1024 * 1024)
          .default(64 * 1024)
          .describe('a larger payload is a dead letter'),
      })
      .strict()
      .default({ encoding: 'envelope', maxBytes: 64 * 1024 }),
    format: formatSchema,
    telemetry: z
      .object({
        deviceId: idSource,
        hubId: idSource.optional(),
        timestamp: timestampSchema,
        hubTimestamp: timestampSchema.optional(),
        metrics: z
          .array(name)
          .optional()
          .describe('fields that are metrics; default: every field not used above'),
      })
      .strict(),
    contract: z
      .object({
        metrics: z.record(name, metricContract).default({}),
        deviceId: deviceIdContract
          .optional()
          .describe('what a device id looks like (pattern, length): else a contract-id dead letter'),
        maxFutureSkewMs: timeLimit(MAX_FUTURE_SKEW_MS).describe(
          `how far (ms) an event time may lie ahead of the decoder's clock before the record is a clock-skew dead letter; default ${MAX_FUTURE_SKEW_MS} (5 minutes); off: no limit`,
        ),
        maxAgeMs: timeLimit(MAX_AGE_MS).describe(
          `how old (ms) an event time may be before the record is a clock-skew dead letter; default ${MAX_AGE_MS} (30 days); off: no limit (loggers that upload their history, backfills)`,
        ),
      })
      .strict()
      .default({ metrics: {}, maxFutureSkewMs: MAX_FUTURE_SKEW_MS, maxAgeMs: MAX_AGE_MS }),
  })
  .strict();
/** A validated spec. */
export type Spec = z.output<typeof specSchema>;
export type TimestampSpec = z.output<typeof timestampSchema>;
export type MetricContract = z.output<typeof metricContract>;

/** The JSON Schema of a spec file, for editors. */
export function specJsonSchema(): object {
  return z.toJSONSchema(specSchema, { io: 'input', unrepresentable: 'any' });
}
