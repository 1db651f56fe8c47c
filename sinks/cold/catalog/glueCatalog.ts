/**
 * The AWS Glue catalog, which Athena reads: an Iceberg table is a Glue table with parameters
 * `table_type=ICEBERG`, `metadata_location` and `previous_metadata_location`. A swap is `UpdateTable`
 * with the `VersionId` read by `GetTable` (Glue's optimistic lock): a concurrent change answers
 * `ConcurrentModificationException` (a conflict), a lost answer is an unknown outcome that the
 * committer resolves from the metadata log.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  GetTableCommand,
  type GlueClient,
  type Table,
  UpdateTableCommand,
  type UpdateTableCommandInput,
} from '@aws-sdk/client-glue';
import { z } from 'zod';
import {
  type Catalog,
  CommitStateUnknownError,
  type SwapOutcome,
  type TableIdentifier,
  tableName,
} from './catalog.ts';

/** Configuration of the Glue catalog. */
export const glueCatalogConfigSchema = z.object({
  catalogId: z
    .string()
    .optional()
    .describe('AWS account id of the Glue Data Catalog (default: the caller’s)'),
  region: z.string().optional().describe('AWS region of the Glue Data Catalog'),
});

/** The three Glue calls the catalog makes; `glueCalls(client)` gives them over a real `GlueClient`. */
export interface GlueCalls {
  getTable(databaseName: string, name: string): Promise<Table | undefined>;
  createTable(input: CreateTableCommandInput): Promise<void>;
  updateTable(input: UpdateTableCommandInput): Promise<void>;
}

const errorName = (error: unknown) => (error as { name?: string } | undefined)?.name ?? '';

/** `GlueCalls` over the AWS SDK client. */
export function glueCalls(client: GlueClient, catalogId?: string): GlueCalls {
  return {
    async getTable(databaseName, name) {
      try {
        const out = await client.send(
          new GetTableCommand({ CatalogId: catalogId, DatabaseName: databaseName, Name: name }),
        );
        return out.Table;
      } catch (error) {
        if (errorName(error) === 'EntityNotFoundException') return undefined;
        throw error;
      }
    },
    async createTable(input) {
      await client.send(new CreateTableCommand({ ...input, CatalogId: catalogId }));
    },
    async updateTable(input) {
      await client.send(new UpdateTableCommand({ ...input, CatalogId: catalogId }));
    },
  };
}

/** A `Catalog` over AWS Glue. */
export function glueCatalog(glue: GlueCalls): Catalog {
  const icebergTable = async (table: TableIdentifier) => {
    const found = await glue.getTable(table.namespace, table.name);
    if (found && found.Parameters?.table_type?.toUpperCase() !== 'ICEBERG') {
      throw new Error(`Glue table ${tableName(table)} is not an Iceberg table (table_type is not ICEBERG)`);
    }
    return found;
  };
  return {
    async load(table) {
      return (await icebergTable(table))?.Parameters?.metadata_location;
    },
    async create(table, metadataLocation): Promise<SwapOutcome> {
      try {
        await glue.createTable({
          DatabaseName: table.namespace,
          TableInput: {
            Name: table.name,
            TableType: 'EXTERNAL_TABLE',
            Parameters: { table_type: 'ICEBERG', metadata_location: metadataLocation, EXTERNAL: 'TRUE' },
          },
        });
        return 'committed';
      } catch (error) {
        if (errorName(error) === 'AlreadyExistsException') return 'conflict';
        throw error;
      }
    },
    async compareAndSwap(table, oldLocation, newLocation): Promise<SwapOutcome> {
      const current = await icebergTable(table);
      if (!current) throw new Error(`Glue table ${tableName(table)} does not exist`);
      if (current.Parameters?.metadata_location !== oldLocation) return 'conflict';
      try {
        await glue.updateTable({
          DatabaseName: table.namespace,
          SkipArchive: true,
          VersionId: current.VersionId,
          TableInput: {
            Name: current.Name ?? table.name,
            Description: current.Description,
            Owner: current.Owner,
            Retention: current.Retention,
            StorageDescriptor: current.StorageDescriptor,
            PartitionKeys: current.PartitionKeys,
            TableType: current.TableType ?? 'EXTERNAL_TABLE',
            Parameters: {
              ...current.Parameters,
              metadata_location: newLocation,
              previous_metadata_location: oldLocation,
            },
          },
        });
        return 'committed';
      } catch (error) {
        const name = errorName(error);
        if (name === 'ConcurrentModificationException') return 'conflict';
        if (
          name === 'EntityNotFoundException' ||
          name === 'InvalidInputException' ||
          name === 'AccessDeniedException'
        ) {
          throw error;
        }
        // A timeout, a dropped connection or a service error: Glue may have applied the update.
        throw new CommitStateUnknownError(`Glue UpdateTable outcome unknown for ${tableName(table)}`, error);
      }
    },
  };
}
