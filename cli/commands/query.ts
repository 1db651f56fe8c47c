/**
 * `shardflow query "SQL"`: Athena-like questions of the Cold table, answered by DuckDB. shardflow
 * resolves the current snapshot's data files with its own manifest reader and gives DuckDB a view
 * named after the table (`telemetry` by default) over exactly those files, so a query sees what
 * Athena would: committed rows only, once each, columns added by schema evolution included.
 *
 * Files in a local warehouse are read in place; files in S3 are first copied to a temporary directory
 * (DuckDB's S3 support is an extension it would download), so this is meant for small tables.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Command } from 'commander';
import type { ColdTable } from '../../sinks/cold/catalog/coldTable.ts';
import { scanCurrent } from '../../sinks/cold/iceberg/scan.ts';
import { keyOf } from '../../sinks/cold/iceberg/tableFiles.ts';
import { withTable } from './iceberg.ts';
import { formatTable, UsageError } from './shared.ts';

/** Local paths of the current snapshot's data files, copying remote ones into `scratch`. */
async function localDataFiles(table: ColdTable, scratch: () => string): Promise<string[]> {
  const scan = await scanCurrent(table.ref);
  const { namespace, name } = table.ref.id;
  if (!scan) throw new UsageError(`the catalog has no table ${namespace}.${name}`);
  const paths: string[] = [];
  for (const file of scan.dataFiles) {
    const key = keyOf(table.files, file.filePath);
    const uri = table.store.uri(key);
    if (uri.startsWith('file:')) {
      paths.push(fileURLToPath(uri));
      continue;
    }
    const path = join(scratch(), key);
    await mkdir(dirname(path), { recursive: true });
    writeFileSync(path, await table.store.get(key));
    paths.push(path);
  }
  return paths;
}

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Registers `shardflow query`. */
export function registerQueryCommand(program: Command): void {
  program
    .command('query')
    .description(
      "run SQL (DuckDB) over the Cold table's current snapshot; the table is a view named after it",
    )
    .argument('<sql>', 'the query, e.g. "SELECT productId, count(*) FROM telemetry GROUP BY 1"')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): cold, and warm for the jdbc catalog')
    .option('--json', 'one JSON object per row instead of a table')
    .action((sql: string, opts: { config: string; json?: boolean }) =>
      withTable(opts.config, async (table) => {
        let scratchDir: string | undefined;
        const scratch = () => {
          scratchDir ??= mkdtempSync(join(tmpdir(), 'shardflow-query-'));
          return scratchDir;
        };
        const duck = await DuckDBInstance.create(':memory:');
        const connection = await duck.connect();
        try {
          const paths = await localDataFiles(table, scratch);
          const view = table.ref.id.name;
          if (paths.length === 0) {
            throw new UsageError(`the table ${table.ref.id.namespace}.${view} has no committed data yet`);
          }
          const files = `[${paths.map(sqlString).join(', ')}]`;
          await connection.run(
            `CREATE VIEW "${view.replaceAll('"', '""')}" AS SELECT * FROM read_parquet(${files}, union_by_name = true)`,
          );
          const result = await connection.runAndReadAll(sql);
          if (opts.json) {
            for (const row of result.getRowObjectsJson()) console.log(JSON.stringify(row));
            return;
          }
          const rows = result
            .getRowsJson()
            .map((row) => row.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))));
          console.log(formatTable([result.columnNames(), ...rows]));
          console.log(`(${rows.length} row${rows.length === 1 ? '' : 's'} from ${paths.length} data files)`);
        } finally {
          connection.closeSync();
          duck.closeSync();
          if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
        }
      }),
    );
}
