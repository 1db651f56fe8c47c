/**
 * Versioned Warm-store migrations with postgrator: plain SQL files in `migrations/`, named
 * `NNN.do.<what>.sql`, applied in version order at start-up and recorded in `schema_migrations`
 * (with checksums, so an edited applied migration is refused).
 *
 * All pending migrations run in one transaction behind an advisory lock, so workers starting together
 * migrate once and a failed migration leaves nothing half applied. Version ranges by area keep
 * independent work from colliding: 001–099 core (dead letters), 100–199 master data,
 * 200–299 Hot store on PostgreSQL, 300–399 windows and aggregates, 400–499 the Iceberg catalog,
 * 500–599 changes to tables that exist already, 600–699 rules and alarms,
 * 700–799 formulas, 800–899 actions (response policies, the outbox, dispatch). A database at version N
 * never runs a migration numbered below N, so whatever comes after a release (a change or a new
 * area) is numbered above every migration released: the ranges only say where to look.
 */
import { fileURLToPath } from 'node:url';
import Postgrator from 'postgrator';
import type { SqlClient } from './sql.ts';

const MIGRATIONS = fileURLToPath(new URL('./migrations/*.sql', import.meta.url));
// Any constant shared by every shardflow worker; `hashtext('shardflow.migrate')` would do as well.
const ADVISORY_LOCK = 7_140_101;

/** What a migration run did. */
export interface MigrationResult {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly string[];
}

/** Brings the Warm schema to the newest migration (idempotent). */
export async function migrateWarm(client: SqlClient): Promise<MigrationResult> {
  return client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCK]);
    const postgrator = new Postgrator({
      migrationPattern: MIGRATIONS,
      driver: 'pg',
      schemaTable: 'schema_migrations',
      execQuery: (query: string) => tx.query(query),
    });
    const from = Number(await postgrator.getDatabaseVersion());
    const applied = await postgrator.migrate();
    const to = Number(await postgrator.getDatabaseVersion());
    return { from, to, applied: applied.map((m) => m.filename) };
  });
}
