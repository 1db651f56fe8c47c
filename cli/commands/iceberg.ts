/**
 * `shardflow iceberg`: the Cold table.
 *   iceberg inspect   location, schema, partitioning, snapshots, files and each shard's committed position
 *   iceberg maintain  merge small manifests, expire snapshots older than the retention (keeping those
 *                     that hold a shard's committed position), remove orphan files (never committed)
 * Both read the `cold` section (and `warm`, for the PostgreSQL catalog) of the worker configuration.
 */
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { type ColdTable, coldConfigSchema, openColdTable } from '../../sinks/cold/catalog/coldTable.ts';
import { inspectTable, type TableDescription } from '../../sinks/cold/iceberg/inspect.ts';
import { expireSnapshots, mergeManifests, removeOrphans } from '../../sinks/cold/iceberg/maintain.ts';
import { openWarmStore, type WarmStore, warmStoreConfigSchema } from '../../sinks/postgres/store.ts';
import { systemClock } from '../../topology/index.ts';
import { applyEnvOverrides, ConfigError } from '../config.ts';
import { exitWithError, formatTable, UsageError } from './shared.ts';

const sectionsSchema = z.object({ warm: warmStoreConfigSchema.optional(), cold: coldConfigSchema }).loose();

function loadSections(file: string) {
  let raw: Record<string, unknown>;
  try {
    raw = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError([`cannot read the configuration: ${(error as Error).message}`], file);
  }
  const origins = applyEnvOverrides(raw, process.env);
  const result = sectionsSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => {
        const key = i.path.join('.');
        const origin = origins.get(key);
        return `${key}${origin ? ` (from ${origin})` : ''}: ${i.message}`;
      }),
      file,
    );
  }
  return result.data;
}

/** Opens the configured Cold table (and the Warm store for a JDBC catalog), runs `work`, exits on error. */
export async function withTable(file: string, work: (table: ColdTable) => Promise<void>): Promise<void> {
  let warm: WarmStore | undefined;
  let table: ColdTable | undefined;
  try {
    const config = loadSections(file);
    if (config.cold.catalog.kind === 'jdbc') {
      if (!config.warm) throw new ConfigError(['warm: is required by cold.catalog kind jdbc'], file);
      warm = openWarmStore(config.warm);
    }
    table = openColdTable(config.cold, systemClock, warm?.write);
    await work(table);
  } catch (error) {
    exitWithError(error);
  } finally {
    await table?.close();
    await warm?.close();
  }
}

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function duration(value: string): number {
  const match = DURATION.exec(value);
  if (!match) throw new InvalidArgumentError('expected a duration such as 90m, 12h or 7d');
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2) throw new InvalidArgumentError('expected an integer of at least 2');
  return n;
}

function printDescription(d: TableDescription): void {
  console.log(`table      ${d.location}`);
  console.log(`metadata   ${d.metadataLocation}`);
  console.log(`uuid       ${d.tableUuid}  schema ${d.schemaId}  partitioned by ${d.partitioning.join(', ')}`);
  console.log(
    `current    ${d.currentSnapshotId ?? '(no snapshot)'}: ${d.records} records in ${d.dataFiles} files (${d.bytes} bytes), ${d.manifests} manifests`,
  );
  console.log('\ncolumns');
  console.log(
    formatTable([
      ['id', 'name', 'type', 'required'],
      ...d.columns.map((c) => [String(c.id), c.name, c.type, String(c.required)]),
    ]),
  );
  console.log('\nsnapshots');
  console.log(
    formatTable([
      ['snapshot', 'seq', 'time', 'operation', 'writer', 'added', 'total', ''],
      ...d.snapshots.map((s) => [
        s.id,
        String(s.sequenceNumber),
        s.timestamp,
        s.operation,
        s.writer ?? '',
        s.addedRecords ?? '',
        s.totalRecords ?? '',
        s.current ? 'current' : '',
      ]),
    ]),
  );
  console.log('\ncommitted positions');
  const shards = Object.entries(d.checkpoints);
  console.log(shards.length === 0 ? '(none)' : formatTable([['shard', 'position'], ...shards]));
}

/** Registers `shardflow iceberg inspect|maintain`. */
export function registerIcebergCommand(program: Command): void {
  const iceberg = program.command('iceberg').description('inspect and maintain the Cold Iceberg table');

  iceberg
    .command('inspect')
    .description('the table: location, schema, snapshots, files, committed shard positions')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): cold, and warm for the jdbc catalog')
    .option('--json', 'one JSON document instead of text')
    .action((opts: { config: string; json?: boolean }) =>
      withTable(opts.config, async (table) => {
        const d = await inspectTable(table.ref);
        if (!d)
          throw new UsageError(`the catalog has no table ${table.ref.id.namespace}.${table.ref.id.name}`);
        if (opts.json) console.log(JSON.stringify(d, null, 2));
        else printDescription(d);
      }),
    );

  iceberg
    .command('maintain')
    .description('merge small manifests, expire old snapshots, remove orphan files')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): cold, and warm for the jdbc catalog')
    .option('--retention <duration>', 'expire snapshots older than this (e.g. 7d)', duration, 7 * UNIT_MS.d!)
    .option(
      '--orphan-age <duration>',
      'remove unreferenced files only when older than this',
      duration,
      UNIT_MS.d!,
    )
    .option('--min-manifests <n>', 'merge when at least this many small manifests', count, 10)
    .option('--small-manifest-bytes <n>', 'a manifest smaller than this is small', (v) => Number(v), 8 << 20)
    .action(
      (opts: {
        config: string;
        retention: number;
        orphanAge: number;
        minManifests: number;
        smallManifestBytes: number;
      }) =>
        withTable(opts.config, async (table) => {
          const now = systemClock.now();
          const merged = await mergeManifests(table.ref, opts.smallManifestBytes, opts.minManifests);
          console.log(
            merged.merged > 0
              ? `merged ${merged.merged} manifests into one (snapshot ${merged.snapshotId})`
              : 'manifests: nothing to merge',
          );
          const expired = await expireSnapshots(table.ref, now - opts.retention);
          console.log(
            `expired ${expired.expired} snapshots, deleted ${expired.deletedFiles} files they alone reached`,
          );
          const orphans = await removeOrphans(table.ref, now - opts.orphanAge);
          console.log(`removed ${orphans.deleted.length} orphan files`);
          for (const key of orphans.deleted) console.log(`  ${key}`);
        }),
    );
}
