/**
 * Which source table or collection feeds which master-data entity, and through which columns. One
 * source may feed several entities: a `devices` table usually feeds `device` (product, hub) and
 * `device-assignment` (its `site_id`) with two mappings.
 */
import { z } from 'zod';
import { ENTITY_FIELDS, MASTER_DATA_ENTITIES } from './change.ts';

const dmsSource = z
  .object({
    kind: z.literal('dms').describe('AWS DMS Kinesis JSON'),
    schema: z.string().min(1).describe('the source schema (`metadata.schema-name`)'),
    table: z.string().min(1).describe('the source table (`metadata.table-name`)'),
  })
  .strict();

const mongoSource = z
  .object({
    kind: z.literal('mongo').describe('MongoDB change-stream documents'),
    db: z.string().min(1).optional().describe('the database (`ns.db`); any when absent'),
    collection: z.string().min(1).describe('the collection (`ns.coll`)'),
  })
  .strict();

/** One source → entity mapping. */
export const cdcMappingSchema = z
  .object({
    source: z.discriminatedUnion('kind', [dmsSource, mongoSource]).describe('the table or collection'),
    entity: z.enum(MASTER_DATA_ENTITIES).describe('the master-data entity it feeds'),
    key: z
      .string()
      .min(1)
      .describe('the column (Mongo: field path, `_id` by default) holding the entity id')
      .optional(),
    fields: z
      .record(z.string(), z.string().min(1))
      .default({})
      .describe('target field → source column or dotted field path'),
    validFrom: z
      .string()
      .min(1)
      .optional()
      .describe('assignments: a column with the time the assignment starts (else the change time)'),
  })
  .strict()
  .superRefine((m, ctx) => {
    const allowed: readonly string[] = ENTITY_FIELDS[m.entity];
    for (const target of Object.keys(m.fields)) {
      if (!allowed.includes(target))
        ctx.addIssue({
          code: 'custom',
          path: ['fields', target],
          message: `"${target}" is not a field of ${m.entity} (fields: ${allowed.join(', ')})`,
        });
    }
    if (m.source.kind === 'dms' && m.key === undefined)
      ctx.addIssue({ code: 'custom', path: ['key'], message: 'is required for a DMS source' });
    if (m.validFrom !== undefined && !m.entity.endsWith('-assignment'))
      ctx.addIssue({ code: 'custom', path: ['validFrom'], message: 'applies to assignments only' });
  });
/** See {@link cdcMappingSchema}. */
export type CdcMapping = z.output<typeof cdcMappingSchema>;

/** Configuration of the CDC decoder. */
export const cdcDecodeConfigSchema = z
  .object({
    mappings: z.array(cdcMappingSchema).min(1).describe('source tables/collections → master-data entities'),
    unmapped: z
      .enum(['ignore', 'dead-letter'])
      .default('ignore')
      .describe('what to do with a change of a table or collection no mapping names'),
  })
  .strict();
/** See {@link cdcDecodeConfigSchema}. */
export type CdcDecodeConfig = z.output<typeof cdcDecodeConfigSchema>;

/** The value at a dotted path of a document. */
export function valueAt(doc: unknown, path: string): unknown {
  let current: unknown = doc;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** A source value as master-data text: Mongo's `{ $oid }`, `{ $date }` and numbers become strings. */
export function asText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.$oid === 'string') return o.$oid;
    if (o.$date !== undefined) return asText(dateValue(o.$date));
    if (o.$numberLong !== undefined) return String(o.$numberLong);
  }
  return JSON.stringify(value);
}

function dateValue(v: unknown): unknown {
  if (typeof v === 'object' && v !== null && '$numberLong' in v)
    return new Date(Number((v as { $numberLong: string }).$numberLong)).toISOString();
  return v;
}

/** A time value (ISO text, epoch ms number, Mongo `{ $date }`) as epoch ms, or undefined. */
export function asEpochMs(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (typeof value === 'object' && value !== null && '$date' in value) {
    const d = (value as { $date: unknown }).$date;
    if (typeof d === 'object' && d !== null && '$numberLong' in d)
      return Number((d as { $numberLong: string }).$numberLong);
    return asEpochMs(d);
  }
  return undefined;
}
