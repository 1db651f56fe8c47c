/**
 * The one-call form of the Cold sink's `TelemetryBuffer`, for the benchmarks that write a data file
 * from a list of records at once.
 */

import { TelemetryBuffer } from '../sinks/cold/iceberg/telemetryBuffer.ts';
import type { SchemaJson } from '../sinks/cold/iceberg/types.ts';
import type { ColumnarRows } from '../sinks/cold/parquet/types.ts';
import type { Enriched } from '../topology/index.ts';

/**
 * Enriched records as the Parquet writer's columns for `schema` (timestamps in epoch ms), through a
 * {@link TelemetryBuffer}.
 */
export function telemetryColumns(records: readonly Enriched[], schema: SchemaJson): ColumnarRows {
  const buffer = new TelemetryBuffer(schema, records.length + 1);
  for (const r of records) buffer.append(r);
  return buffer.columns();
}
