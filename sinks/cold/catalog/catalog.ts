/**
 * The one catalog interface the Cold sink commits through: a table name → current metadata location
 * pointer, swapped atomically. Implementations: `jdbcCatalog.ts` (PostgreSQL, JdbcCatalog-compatible)
 * and `glueCatalog.ts` (AWS Glue, what Athena reads).
 */

/** A table in a catalog: `namespace.name`. */
export interface TableIdentifier {
  readonly namespace: string;
  readonly name: string;
}

/** What a compare-and-swap did. */
export type SwapOutcome = 'committed' | 'conflict';

/** A table catalog that holds a metadata location per table and swaps it atomically. */
export interface Catalog {
  /** The table's current metadata location, or `undefined` if the table does not exist. */
  load(table: TableIdentifier): Promise<string | undefined>;
  /** Registers a new table; `'conflict'` if it already exists. */
  create(table: TableIdentifier, metadataLocation: string): Promise<SwapOutcome>;
  /** Points the table at `newLocation` only if it still points at `oldLocation`. */
  compareAndSwap(table: TableIdentifier, oldLocation: string, newLocation: string): Promise<SwapOutcome>;
  close?(): Promise<void>;
}

/**
 * The swap may or may not have happened (a timeout, a lost connection after the request was sent).
 * The committer resolves it by reloading and looking for the new location.
 */
export class CommitStateUnknownError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'CommitStateUnknownError';
  }
}

/** `namespace.name`, for messages. */
export function tableName(table: TableIdentifier): string {
  return `${table.namespace}.${table.name}`;
}
