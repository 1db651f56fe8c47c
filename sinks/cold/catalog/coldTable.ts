/**
 * The `cold` configuration section and what it opens: the warehouse storage, the table's location
 * and key prefix in it, and the catalog (PostgreSQL, the local default, or AWS Glue).
 */
import { GlueClient } from '@aws-sdk/client-glue';
import { z } from 'zod';
import type { Clock } from '../../../topology/index.ts';
import type { SqlClient } from '../../postgres/sql.ts';
import { coldSinkConfigSchema } from '../coldSink.ts';
import type { TableRef } from '../iceberg/commit.ts';
import type { TableFiles } from '../iceberg/tableFiles.ts';
import type { ObjectStore } from '../storage/objectStore.ts';
import { objectStoreConfigSchema, openObjectStore } from '../storage/openObjectStore.ts';
import type { Catalog } from './catalog.ts';
import { glueCalls, glueCatalog, glueCatalogConfigSchema } from './glueCatalog.ts';
import { jdbcCatalog, jdbcCatalogConfigSchema } from './jdbcCatalog.ts';

/** Which catalog holds the table pointer. */
const catalogConfigSchema = z
  .discriminatedUnion('kind', [
    jdbcCatalogConfigSchema.extend({ kind: z.literal('jdbc') }).strict(),
    glueCatalogConfigSchema.extend({ kind: z.literal('glue') }).strict(),
  ])
  .describe('the Iceberg catalog: jdbc (tables in the Warm PostgreSQL) or glue (AWS Glue, for Athena)');

/** The `cold` section: storage, catalog, table and sink settings. */
export const coldConfigSchema = z
  .object({
    storage: objectStoreConfigSchema,
    catalog: catalogConfigSchema.default({ kind: 'jdbc', catalogName: 'shardflow' }),
    tablePrefix: z
      .string()
      .regex(/^[^/].*[^/]$/, 'a key prefix without leading or trailing "/"')
      .optional()
      .describe('key prefix of the table in the storage (default: <namespace>/<table>)'),
    location: z
      .string()
      .optional()
      .describe('table location written in metadata (default: the storage URI of tablePrefix)'),
    sink: coldSinkConfigSchema.default(coldSinkConfigSchema.parse({})),
  })
  .strict();

/** Validated `cold` section. */
export type ColdConfig = z.infer<typeof coldConfigSchema>;

/** The opened Cold table: its files, catalog and a `TableRef` for commits and maintenance. */
export interface ColdTable {
  readonly store: ObjectStore;
  readonly files: TableFiles;
  readonly catalog: Catalog;
  readonly ref: TableRef;
  close(): Promise<void>;
}

/** Opens the configured table; the JDBC catalog needs the Warm store's write client. */
export function openColdTable(config: ColdConfig, clock: Clock, warm?: SqlClient): ColdTable {
  const store = openObjectStore(config.storage);
  const prefix = config.tablePrefix ?? `${config.sink.namespace}/${config.sink.table}`;
  const files: TableFiles = { store, prefix, location: config.location ?? store.uri(prefix) };
  let catalog: Catalog;
  let glue: GlueClient | undefined;
  if (config.catalog.kind === 'jdbc') {
    if (!warm) throw new Error('cold.catalog: kind jdbc keeps the catalog in the Warm store; configure warm');
    catalog = jdbcCatalog(warm, config.catalog);
  } else {
    glue = new GlueClient({ region: config.catalog.region });
    catalog = glueCatalog(glueCalls(glue, config.catalog.catalogId));
  }
  const ref: TableRef = {
    id: { namespace: config.sink.namespace, name: config.sink.table },
    catalog,
    files,
    clock,
    maxAttempts: config.sink.maxCommitAttempts,
    backoffMs: config.sink.commitBackoffMs,
  };
  return {
    store,
    files,
    catalog,
    ref,
    async close() {
      glue?.destroy();
      await store.close();
    },
  };
}
