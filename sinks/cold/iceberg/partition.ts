/**
 * Partition transforms (`day`, `identity`), partition paths (`name=value/…`), and the partition
 * summaries of manifest lists (bounds in the single-value binary form of `parquet/bounds.ts`).
 */
import { encodeBound } from '../parquet/bounds.ts';
import type {
  ColdType,
  DataFile,
  PartitionFieldJson,
  PartitionSpecJson,
  PartitionSummary,
  PartitionValues,
  SchemaJson,
} from './types.ts';

const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of an epoch-millisecond time (floor division, as the spec's `day`). */
export function dayOf(epochMs: number): number {
  return Math.floor(epochMs / DAY_MS);
}

/** `2024-01-01` for a day number. */
function dayText(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** The Iceberg type a partition field's transform produces. */
export function partitionResultType(field: PartitionFieldJson, schema: SchemaJson): ColdType {
  if (field.transform === 'day') return 'date';
  const source = schema.fields.find((f) => f.id === field['source-id']);
  if (!source || typeof source.type !== 'string') {
    throw new Error(
      `partition field ${field.name}: source column ${field['source-id']} is not a primitive column`,
    );
  }
  return source.type as ColdType;
}

/** The data-file folder of a partition: `device_timestamp_day=2024-01-01/product_id=abc`. */
export function partitionPath(spec: PartitionSpecJson, values: PartitionValues): string {
  return spec.fields
    .map((f) => {
      const v = values[f.name];
      const text =
        v === null || v === undefined ? 'null' : f.transform === 'day' ? dayText(Number(v)) : String(v);
      return `${encodeURIComponent(f.name)}=${encodeURIComponent(text)}`;
    })
    .join('/');
}

/** The manifest-list summary of each partition field over a manifest's files. */
export function summarisePartitions(
  spec: PartitionSpecJson,
  schema: SchemaJson,
  files: readonly DataFile[],
): PartitionSummary[] {
  return spec.fields.map((f) => {
    const type = partitionResultType(f, schema);
    let containsNull = false;
    let lower: string | number | undefined;
    let upper: string | number | undefined;
    for (const file of files) {
      const v = file.partition[f.name];
      if (v === null || v === undefined) {
        containsNull = true;
        continue;
      }
      if (lower === undefined || v < lower) lower = v;
      if (upper === undefined || v > upper) upper = v;
    }
    return {
      containsNull,
      containsNan: false,
      lowerBound: lower === undefined ? undefined : encodeBound(type, lower),
      upperBound: upper === undefined ? undefined : encodeBound(type, upper),
    };
  });
}
