/**
 * The Cold telemetry table: the columns of joined telemetry, the configured typed metric columns,
 * a `metrics` map for every other metric, partitioned by `day(device_timestamp)` and
 * `identity(product_id)`. Adding a metric column to the configuration evolves the schema (new field
 * ids after `last-column-id`); columns are never dropped or renumbered. The rows of a commit are
 * collected for it by `telemetryBuffer.ts`.
 */

import { z } from 'zod';
import type { ColdField, ColdType, PartitionSpecJson, SchemaFieldJson, SchemaJson } from './types.ts';

/** A metric kept in a typed column of its own. */
export const metricColumnSchema = z.object({
  name: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/i, 'a column name: letters, digits and underscores')
    .describe('metric name, also the column name'),
  type: z.enum(['double', 'long', 'int', 'boolean', 'string']).describe('Iceberg type of the column'),
});

/** A typed metric column. */
export type MetricColumn = z.infer<typeof metricColumnSchema>;

const BASE: readonly SchemaFieldJson[] = [
  { id: 1, name: 'device_id', required: true, type: 'string' },
  { id: 2, name: 'device_timestamp', required: true, type: 'timestamptz' },
  { id: 3, name: 'product_id', required: true, type: 'string' },
  { id: 4, name: 'hub_id', required: false, type: 'string' },
  { id: 5, name: 'child_device_id', required: false, type: 'string' },
  { id: 6, name: 'site_id', required: false, type: 'string' },
  { id: 7, name: 'customer_id', required: false, type: 'string' },
  { id: 8, name: 'ingest_timestamp', required: true, type: 'timestamptz' },
  { id: 9, name: 'stream', required: true, type: 'string' },
  { id: 10, name: 'shard_id', required: true, type: 'string' },
  { id: 11, name: 'sequence_number', required: true, type: 'string' },
  { id: 12, name: 'sub_sequence_number', required: false, type: 'int' },
  { id: 13, name: 'spec_id', required: false, type: 'string' },
  { id: 14, name: 'spec_version', required: false, type: 'int' },
  {
    id: 15,
    name: 'metrics',
    required: false,
    type: {
      type: 'map',
      'key-id': 16,
      key: 'string',
      'value-id': 17,
      value: 'string',
      'value-required': false,
    },
  },
];
export const FIRST_METRIC_ID = 18;

/** The partition spec: `device_timestamp_day` (day) and `product_id` (identity). */
export const TELEMETRY_SPEC: PartitionSpecJson = {
  'spec-id': 0,
  fields: [
    { 'source-id': 2, 'field-id': 1000, name: 'device_timestamp_day', transform: 'day' },
    { 'source-id': 3, 'field-id': 1001, name: 'product_id', transform: 'identity' },
  ],
};

function checkMetricColumns(columns: readonly MetricColumn[]): void {
  const seen = new Set<string>();
  for (const c of columns) {
    if (BASE.some((f) => f.name === c.name))
      throw new Error(`metric column "${c.name}" has the name of a telemetry column`);
    if (seen.has(c.name)) throw new Error(`metric column "${c.name}" is configured twice`);
    seen.add(c.name);
  }
}

/** The schema of a new telemetry table. */
export function telemetrySchema(metricColumns: readonly MetricColumn[]): SchemaJson {
  checkMetricColumns(metricColumns);
  return {
    type: 'struct',
    'schema-id': 0,
    fields: [
      ...BASE,
      ...metricColumns.map((c, i) => ({
        id: FIRST_METRIC_ID + i,
        name: c.name,
        required: false,
        type: c.type,
      })),
    ],
  };
}

/**
 * The next schema when configured metric columns are missing from `current` (new ids from
 * `lastColumnId + 1`), or `undefined` when nothing changes. A configured column whose existing type
 * differs is an error: Iceberg allows only widening, which the sink does not do behind your back.
 */
export function evolvedTelemetrySchema(
  current: SchemaJson,
  lastColumnId: number,
  metricColumns: readonly MetricColumn[],
): SchemaJson | undefined {
  checkMetricColumns(metricColumns);
  const added: SchemaFieldJson[] = [];
  for (const c of metricColumns) {
    const existing = current.fields.find((f) => f.name === c.name);
    if (existing && existing.type !== c.type) {
      throw new Error(
        `metric column "${c.name}" is ${String(existing.type)} in the table, configured as ${c.type}`,
      );
    }
    if (!existing)
      added.push({ id: lastColumnId + added.length + 1, name: c.name, required: false, type: c.type });
  }
  if (added.length === 0) return undefined;
  return { type: 'struct', 'schema-id': current['schema-id'] + 1, fields: [...current.fields, ...added] };
}

/** The Parquet writer's view of a schema. */
export function coldFields(schema: SchemaJson): ColdField[] {
  return schema.fields.map((f) => ({
    id: f.id,
    name: f.name,
    required: f.required,
    type:
      typeof f.type === 'string'
        ? (f.type as ColdType)
        : {
            kind: 'map',
            keyId: f.type['key-id'],
            valueId: f.type['value-id'],
            value: f.type.value as ColdType,
          },
  }));
}
