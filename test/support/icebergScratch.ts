/**
 * A scratch Iceberg warehouse for tests without servers: a temporary directory for the table files
 * and an embedded PGlite database (Warm migrations applied) for the JDBC catalog. Registers its own
 * `beforeAll`/`afterAll`; read `sql` inside tests, after setup has run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll } from 'vitest';
import type { TableFiles } from '../../sinks/cold/iceberg/tableFiles.ts';
import { localObjectStore } from '../../sinks/cold/storage/localObjectStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgliteSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';

/** The scratch warehouse of one test file. */
export interface IcebergScratch {
  /** The catalog database (set once `beforeAll` has run). */
  readonly sql: SqlClient;
  /** Files of table `name` under the scratch directory. */
  filesAt(name: string): TableFiles;
}

/** Sets up a scratch warehouse for the calling test file; `label` names its directory. */
export function icebergScratch(label: string): IcebergScratch {
  let dir: string | undefined;
  let sql: SqlClient | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `${label}-`));
    sql = pgliteSqlClient(await PGlite.create());
    await migrateWarm(sql);
  }, 60_000);
  afterAll(async () => {
    await sql?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return {
    get sql() {
      if (!sql) throw new Error('icebergScratch: used before its beforeAll ran');
      return sql;
    },
    filesAt(name) {
      const store = localObjectStore({ kind: 'local', directory: dir! });
      return { store, prefix: `wh/${name}`, location: store.uri(`wh/${name}`) };
    },
  };
}
