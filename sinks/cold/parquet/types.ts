/**
 * The Cold layer's Parquet contract: the columns of a data file described by Iceberg field ids and
 * types, the columnar rows handed to the writer, and the Iceberg `data_file` metrics it returns.
 */
import { z } from 'zod';

/** Iceberg primitive types the Cold layer writes. */
export type ColdType = 'string' | 'long' | 'int' | 'double' | 'boolean' | 'timestamptz' | 'date';

/** `map<string, value>`: written three-level, with field ids on the key and the value. */
export interface ColdMapType {
  readonly kind: 'map';
  readonly keyId: number;
  readonly valueId: number;
  readonly value: ColdType;
}

/** One column of the table schema, as Iceberg numbers and types it. */
export interface ColdField {
  readonly id: number;
  readonly name: string;
  readonly type: ColdType | ColdMapType;
  readonly required: boolean;
}

/** One value of a primitive column; `null` and `undefined` both mean null. */
export type ColdValue = string | number | bigint | boolean | null | undefined;

/** One value of a map column: a plain object or a `Map` of key to value, or null. */
export type ColdMapValue =
  | Readonly<Record<string, ColdValue>>
  | ReadonlyMap<string, ColdValue>
  | null
  | undefined;

/**
 * A numeric column in a typed array, the fast form (no boxed numbers): `Float64Array` for `double`,
 * `timestamptz` (epoch ms) and `long` (safe integers); `Int32Array` for `int` and `date`. `present[i]`
 * is 0 where row `i` is null; without `present` no value is null. Only the first `length` rows count.
 */
export interface TypedColumn {
  readonly values: Float64Array | Int32Array;
  readonly present?: Uint8Array;
}

/**
 * The rows of one data file, column by column, keyed by field id (arrays or typed arrays, each
 * `length` long). Values per type: `string` strings; `int` 32-bit integers; `long` safe-integer numbers
 * or bigints; `double` numbers (a `Float64Array` when there are no nulls is fastest); `boolean`
 * booleans; `timestamptz` epoch milliseconds (fractions kept to the microsecond); `date` days since
 * 1970-01-01; numeric columns may also be a {@link TypedColumn}. A column absent from the map is all
 * null (an error for a required field).
 */
export interface ColumnarRows {
  readonly length: number;
  readonly columns: ReadonlyMap<number, ColumnValues>;
}

/**
 * A `string` column as codes into a list of distinct values: row `i` is `dictionary[codes[i]]`, null
 * where the code is negative. The form a buffer that collects rows over time keeps (each distinct
 * string once, an `Int32Array` per column): it crosses to an encoding thread as a copy of the codes
 * and the list, not of one string per row. The dictionary may hold values no row uses; a file's
 * bounds and dictionary are taken from the values its rows use.
 */
export interface DictionaryColumn {
  readonly kind: 'dictionary';
  readonly codes: Int32Array;
  readonly dictionary: readonly string[];
}

/**
 * A `string` column given as numbers, each written as `String(n)` (so a buffer keeps numbers, not a
 * string each); a row in `text` is written as that string, or null, instead.
 */
export interface NumberTextColumn {
  readonly kind: 'number-text';
  readonly numbers: Float64Array;
  readonly text?: ReadonlyMap<number, string | null>;
}

/**
 * A map column as its entries: row `i`'s entries are `offsets[i]` to `offsets[i + 1]` (`offsets[0]`
 * is 0) of `keys` and `values`; `present[i]` 0 makes the row's map null (without `present`, a row
 * without entries holds an empty map).
 */
export interface MapEntriesColumn {
  readonly kind: 'map-entries';
  readonly offsets: Int32Array;
  readonly present?: Uint8Array;
  readonly keys: DictionaryColumn;
  readonly values: ColumnValues;
}

/**
 * The values of one column: an array of values, a typed array for numeric columns, or one of the
 * compact forms above.
 */
export type ColumnValues =
  | ArrayLike<ColdValue>
  | ArrayLike<ColdMapValue>
  | TypedColumn
  | DictionaryColumn
  | NumberTextColumn
  | MapEntriesColumn;

/** Iceberg `data_file` metrics of one written file, keyed by field id (leaf columns only). */
export interface DataFileStats {
  readonly recordCount: number;
  readonly fileSizeInBytes: number;
  readonly columnSizes: ReadonlyMap<number, number>;
  readonly valueCounts: ReadonlyMap<number, number>;
  readonly nullValueCounts: ReadonlyMap<number, number>;
  readonly nanValueCounts: ReadonlyMap<number, number>;
  /** Iceberg single-value binary form; none for map keys and values. */
  readonly lowerBounds: ReadonlyMap<number, Uint8Array>;
  readonly upperBounds: ReadonlyMap<number, Uint8Array>;
  /** Start offset of each row group, ascending. */
  readonly splitOffsets: readonly number[];
}

/** How a data file is written. */
export const parquetOptionsSchema = z
  .object({
    compression: z.enum(['zstd', 'snappy']).default('zstd').describe('page compression codec'),
    rowGroupRows: z
      .number()
      .int()
      .min(1)
      .default(1_000_000)
      .describe('rows per row group (the last one may hold fewer)'),
    keyValueMetadata: z
      .record(z.string(), z.string())
      .optional()
      .describe('extra footer key/value metadata, e.g. "iceberg.schema"'),
  })
  .strict();
/** See {@link parquetOptionsSchema}. */
export type ParquetOptions = z.input<typeof parquetOptionsSchema>;
