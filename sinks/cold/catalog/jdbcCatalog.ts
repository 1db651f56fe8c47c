/**
 * An Iceberg catalog in PostgreSQL with the exact tables of Iceberg's `JdbcCatalog` and PyIceberg's
 * `SqlCatalog` (`iceberg_tables`, `iceberg_namespace_properties`, migration 400), so Spark, Trino or
 * PyIceberg pointed at the same database see shardflow's tables. A commit is one conditional UPDATE.
 */
import { z } from 'zod';
import type { SqlClient } from '../../postgres/sql.ts';
import { type Catalog, CommitStateUnknownError, type SwapOutcome, type TableIdentifier } from './catalog.ts';

/** Configuration of the PostgreSQL (JDBC-compatible) catalog. */
export const jdbcCatalogConfigSchema = z.object({
  catalogName: z
    .string()
    .min(1)
    .default('shardflow')
    .describe('catalog_name column value; other engines must use the same catalog name'),
});

/** Validated JDBC catalog configuration. */
export type JdbcCatalogConfig = z.infer<typeof jdbcCatalogConfigSchema>;

const CONNECTION_LOST = /(terminat|connection|ECONNRESET|EPIPE|timeout)/i;

/** A `Catalog` over the `iceberg_tables` table of a PostgreSQL database. */
export function jdbcCatalog(client: SqlClient, config: JdbcCatalogConfig): Catalog {
  const unknownOnLostConnection = (error: unknown): never => {
    if (error instanceof Error && CONNECTION_LOST.test(error.message)) {
      throw new CommitStateUnknownError(`catalog swap outcome unknown: ${error.message}`, error);
    }
    throw error;
  };
  return {
    async load(table: TableIdentifier) {
      const { rows } = await client.query<{ metadata_location: string | null }>(
        `SELECT metadata_location FROM iceberg_tables
          WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3
            AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)`,
        [config.catalogName, table.namespace, table.name],
      );
      return rows[0]?.metadata_location ?? undefined;
    },
    async create(table: TableIdentifier, metadataLocation: string): Promise<SwapOutcome> {
      return client.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO iceberg_namespace_properties (catalog_name, namespace, property_key, property_value)
           VALUES ($1, $2, 'exists', 'true') ON CONFLICT DO NOTHING`,
          [config.catalogName, table.namespace],
        );
        const { rows } = await tx.query(
          `INSERT INTO iceberg_tables
             (catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location, iceberg_type)
           VALUES ($1, $2, $3, $4, NULL, 'TABLE') ON CONFLICT DO NOTHING RETURNING table_name`,
          [config.catalogName, table.namespace, table.name, metadataLocation],
        );
        return rows.length === 1 ? 'committed' : 'conflict';
      });
    },
    async compareAndSwap(
      table: TableIdentifier,
      oldLocation: string,
      newLocation: string,
    ): Promise<SwapOutcome> {
      const { rows } = await client
        .query(
          `UPDATE iceberg_tables SET metadata_location = $4, previous_metadata_location = $5
            WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 AND metadata_location = $5
           RETURNING table_name`,
          [config.catalogName, table.namespace, table.name, newLocation, oldLocation],
        )
        .catch(unknownOnLostConnection);
      return rows.length === 1 ? 'committed' : 'conflict';
    },
  };
}
