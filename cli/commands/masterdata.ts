/**
 * `shardflow masterdata import`: loads master data from a file (CSV with a header, or JSON lines)
 * into the Warm store. Rows are checked one by one: a bad row is reported with its line number and
 * skipped, the others are upserted in chunks, one transaction and a few multi-row statements each,
 * through the same code as CDC changes (so workers' enrich caches are invalidated too). Importing the
 * same file again leaves the same data. Progress goes to stderr; exit 1 when any row was rejected.
 */
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type Command, InvalidArgumentError } from 'commander';
import { parse } from 'csv-parse';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { describeEndpoint, openWarmStore } from '../../sinks/postgres/store.ts';
import type { MasterDataRowChange } from '../../sinks/warm/masterdata/change.ts';
import {
  IMPORT_ENTITIES,
  type ImportEntity,
  type ImportRow,
  importChanges,
  importColumns,
  type RowError,
  rowChange,
} from '../../sinks/warm/masterdata/import.ts';
import { loadWorkerConfig } from '../config.ts';
import { EXIT, ServiceUnavailableError } from '../exitCodes.ts';
import { exitWithError, UsageError } from './shared.ts';

const CHUNK = 2_000;
const MAX_PRINTED_ERRORS = 100;

function entityName(value: string): ImportEntity {
  if (!(value in IMPORT_ENTITIES))
    throw new InvalidArgumentError(`expected one of ${Object.keys(IMPORT_ENTITIES).join(', ')}`);
  return value as ImportEntity;
}

/** The rows of a CSV (with a header) or JSON-lines file, with their line numbers. */
async function* readRows(
  file: string,
  entity: ImportEntity,
  onBytes: (n: number) => void,
): AsyncGenerator<ImportRow | RowError> {
  const input = createReadStream(file);
  input.on('data', (chunk) => onBytes(chunk.length));
  if (file.endsWith('.csv')) {
    const allowed = importColumns(entity);
    const parser = input.pipe(
      parse({
        columns: (header: string[]) => {
          const unknown = header.filter((h) => !allowed.includes(h));
          if (unknown.length > 0)
            throw new UsageError(
              `${file}: unknown column ${unknown.join(', ')} for ${entity} (columns: ${allowed.join(', ')})`,
            );
          return header;
        },
        info: true,
        skip_empty_lines: true,
        trim: true,
        relax_column_count: true,
      }),
    );
    for await (const { record, info } of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number };
    }>)
      yield { line: info.lines, values: record };
    return;
  }
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (text.trim() === '') continue;
    try {
      const values: unknown = JSON.parse(text);
      if (typeof values !== 'object' || values === null || Array.isArray(values))
        yield { line, message: 'not a JSON object' };
      else yield { line, values: values as Record<string, unknown> };
    } catch (error) {
      yield { line, message: `invalid JSON: ${(error as Error).message}` };
    }
  }
}

/** A progress bar on stderr: redrawn in place on a terminal, a line per tenth otherwise. */
function progressBar(total: number) {
  const tty = process.stderr.isTTY === true;
  let done = 0;
  let lastTenth = -1;
  const draw = (rows: number, errors: number, final = false) => {
    const share = total === 0 ? 1 : Math.min(1, done / total);
    const filled = Math.round(share * 30);
    const text = `[${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${String(Math.round(share * 100)).padStart(3)}%  ${rows.toLocaleString('en-US')} rows  ${errors} rejected`;
    if (tty) process.stderr.write(`\r${text}${final ? '\n' : ''}`);
    else if (final || Math.floor(share * 10) > lastTenth) {
      lastTenth = Math.floor(share * 10);
      process.stderr.write(`${text}\n`);
    }
  };
  return {
    bytes: (n: number) => {
      done += n;
    },
    draw,
    clearLine: () => {
      if (tty) process.stderr.write('\r\x1b[2K');
    },
  };
}

/** Adds `masterdata import`. */
export function registerMasterdataCommand(program: Command): void {
  const masterdata = program
    .command('masterdata')
    .description('master data (customers, sites, products, devices)');
  masterdata
    .command('import')
    .description('upsert master data from a CSV (with a header) or JSON-lines file')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): warm')
    .requiredOption(
      '--entity <entity>',
      `what the file holds: ${Object.keys(IMPORT_ENTITIES).join(' | ')}`,
      entityName,
    )
    .requiredOption('--file <file>', 'the data: .csv (header row) or .jsonl (one object a line)')
    .action(async (opts: { config: string; entity: ImportEntity; file: string }) => {
      try {
        if (!/\.(csv|jsonl|ndjson)$/.test(opts.file))
          throw new UsageError(`${opts.file}: expected a .csv or .jsonl file`);
        let size: number;
        try {
          size = statSync(opts.file).size;
        } catch {
          throw new UsageError(`${opts.file}: no such file`);
        }
        const config = loadWorkerConfig(opts.config);
        const store = openWarmStore(config.warm);
        try {
          await migrateWarm(store.write).catch((error: unknown) => {
            throw new ServiceUnavailableError(
              'PostgreSQL',
              'warm.writeUrl',
              describeEndpoint(config.warm.writeUrl),
              error,
            );
          });
          const result = await importFile(store.write, opts.entity, opts.file, size);
          console.log(
            `imported ${result.imported.toLocaleString('en-US')} ${opts.entity} rows from ${opts.file}` +
              (result.rejected > 0
                ? `; ${result.rejected.toLocaleString('en-US')} rejected (see the lines above)`
                : ''),
          );
          if (result.rejected > 0) process.exitCode = EXIT.failed;
        } finally {
          await store.close();
        }
      } catch (error) {
        exitWithError(error);
      }
    });
}

async function importFile(
  write: Parameters<typeof importChanges>[0],
  entity: ImportEntity,
  file: string,
  size: number,
): Promise<{ imported: number; rejected: number }> {
  const importedAt = Date.now();
  const bar = progressBar(size);
  let imported = 0;
  let rejected = 0;
  let chunk: MasterDataRowChange[] = [];
  const reject = (line: number, message: string) => {
    rejected++;
    if (rejected > MAX_PRINTED_ERRORS) return;
    bar.clearLine();
    process.stderr.write(`${file}:${line}: ${message}\n`);
    if (rejected === MAX_PRINTED_ERRORS)
      process.stderr.write(`${file}: further rejected rows are counted, not listed\n`);
  };
  const flush = async () => {
    if (chunk.length === 0) return;
    await importChanges(write, chunk);
    imported += chunk.length;
    chunk = [];
    bar.draw(imported, rejected);
  };
  for await (const row of readRows(file, entity, bar.bytes)) {
    if ('message' in row) {
      reject(row.line, row.message);
      continue;
    }
    const change = rowChange(entity, row, importedAt);
    if (typeof change === 'string') reject(row.line, change);
    else chunk.push(change);
    if (chunk.length >= CHUNK) await flush();
  }
  await flush();
  bar.draw(imported, rejected, true);
  return { imported, rejected };
}
