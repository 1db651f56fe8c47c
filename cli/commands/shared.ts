/**
 * What the operator commands (`replay`, `savepoint`, `scale-advice`) share: the worker
 * configuration with a `--stream` override, the lease table it names, and one mapping of errors to
 * exit codes (2 usage or configuration, 3 a service did not answer, 1 anything else). The commands
 * over the Warm store (`rules`, `formulas`) open it here, migrated, with `withWarmStore`.
 */
import { writeFileSync } from 'node:fs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type Command, InvalidArgumentError } from 'commander';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import type { SqlClient } from '../../sinks/postgres/sql.ts';
import { describeEndpoint, openWarmStore, type WarmStore } from '../../sinks/postgres/store.ts';
import { createDynamoClient } from '../../sources/kinesis/dynamodb.ts';
import { LeaseRefresher } from '../../sources/kinesis/leases/leaseRefresher.ts';
import { DrainTimeoutError, errorMessage } from '../../topology/index.ts';
import { ConfigError, loadWorkerConfig, type WorkerConfig } from '../config.ts';
import { EXIT, ServiceUnavailableError } from '../exitCodes.ts';

/** A request that cannot be carried out as asked (exit 2); the message says what to change. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The options every operator command takes. */
export interface CommonOptions {
  readonly config: string;
  readonly stream?: string;
}

/** Adds `-c, --config FILE` and `--stream S` to a command. */
export function withCommonOptions(command: Command): Command {
  return command
    .requiredOption(
      '-c, --config <file>',
      'worker configuration (YAML): stream, region, endpoints, lease table',
    )
    .option('--stream <name>', "the stream; the configuration's source.kinesis.streamName when absent");
}

/** The configuration with `--stream` applied. */
export function loadCommandConfig(opts: CommonOptions): WorkerConfig {
  const config = loadWorkerConfig(opts.config);
  if (opts.stream === undefined) return config;
  return {
    ...config,
    source: { ...config.source, kinesis: { ...config.source.kinesis, streamName: opts.stream } },
  };
}

/**
 * Opens and migrates the Warm store of a worker configuration, runs `work` with it and the
 * configuration, closes it. A store that does not answer is a {@link ServiceUnavailableError}.
 */
export async function withWarmStore<T>(
  configFile: string,
  work: (store: WarmStore, config: WorkerConfig) => Promise<T>,
): Promise<T> {
  const config = loadWorkerConfig(configFile);
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
    return await work(store, config);
  } finally {
    await store.close();
  }
}

/** A commander parser of a whole number ≥ 1 (a version, a count). */
export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

/** The lease table of a configuration that must name one. */
export interface LeaseTableAccess {
  readonly refresher: LeaseRefresher;
  readonly dynamodb: DynamoDBClient;
  /** Runs a DynamoDB call, turning "no answer" and "no such table" into {@link ServiceUnavailableError}. */
  call<T>(fn: () => Promise<T>): Promise<T>;
}

/** Opens the lease table `source.leases` names; a configuration without it is a {@link ConfigError}. */
export function openLeaseTable(config: WorkerConfig, file: string, command: string): LeaseTableAccess {
  const leases = config.source.leases;
  if (leases === undefined)
    throw new ConfigError([`source.leases: is required by ${command} (it names the lease table)`], file);
  const region = leases.region ?? config.source.kinesis.region;
  const dynamodb = createDynamoClient(region, leases.endpoint);
  const address = leases.endpoint ?? `the AWS DynamoDB endpoint of ${region}`;
  return {
    refresher: new LeaseRefresher(dynamodb, leases.tableName),
    dynamodb,
    call: (fn) =>
      serviceCall(fn, (error, missing) =>
        missing
          ? new ServiceUnavailableError(
              'DynamoDB lease table',
              'source.leases.tableName',
              address,
              `table "${leases.tableName}" does not exist (has a worker run with this configuration?)`,
            )
          : new ServiceUnavailableError('DynamoDB', 'source.leases.endpoint', address, error),
      ),
  };
}

/**
 * Runs an AWS call; an error with no HTTP answer (refused, timed out) or a missing resource becomes
 * the error `unavailable` builds. Errors the service answered with are rethrown as they are.
 */
export async function serviceCall<T>(
  fn: () => Promise<T>,
  unavailable: (error: unknown, missing: boolean) => Error,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    // Only the SDK's own errors carry $metadata; errors of shardflow's code pass through.
    const metadata = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
    if (metadata === undefined) throw error;
    if ((error as { name?: string }).name === 'ResourceNotFoundException') throw unavailable(error, true);
    const status = metadata.httpStatusCode;
    if (status === undefined || status >= 500) throw unavailable(error, false);
    throw error;
  }
}

/** The exit code an error ends a command with: 2 usage or configuration, 3 a service, 1 otherwise. */
function exitCodeOf(error: unknown): number {
  if (error instanceof ConfigError || error instanceof UsageError) return EXIT.usage;
  if (error instanceof ServiceUnavailableError) return EXIT.service;
  return EXIT.failed;
}

/**
 * Prints the error and exits with {@link exitCodeOf}. An error shardflow explains (configuration,
 * usage, a service, a drain that ran out of time) prints its message; any other prints its stack
 * with `stack`, for the worker, where such an error is a bug to report.
 */
export function exitWithError(error: unknown, options: { readonly stack?: boolean } = {}): never {
  const explained =
    error instanceof ConfigError ||
    error instanceof UsageError ||
    error instanceof ServiceUnavailableError ||
    error instanceof DrainTimeoutError;
  const text =
    options.stack && !explained && error instanceof Error
      ? (error.stack ?? error.message)
      : errorMessage(error);
  console.error(`shardflow: ${text}`);
  process.exit(exitCodeOf(error));
}

/** Rows as aligned columns, the first row the header. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** What `addVersionExport` needs to know of a kind of stored, versioned YAML document. */
export interface VersionedDocument {
  /** How the command names one, e.g. `ruleset`, `policy set`. */
  readonly noun: string;
  /** The description of the `export` command. */
  readonly description: string;
  /** The stored version (the newest when `version` is undefined) as YAML, or undefined. */
  read(
    client: SqlClient,
    id: string,
    version: number | undefined,
  ): Promise<{ readonly yaml: string } | undefined>;
}

/** Adds `export --id ID [--version N] [--out FILE] -c CONFIG` to `parent`. */
export function addVersionExport(parent: Command, doc: VersionedDocument): void {
  parent
    .command('export')
    .description(doc.description)
    .requiredOption('--id <id>', `the ${doc.noun} id`)
    .option('--version <n>', 'the version (default: the newest)', positiveInteger)
    .option('--out <file>', 'write to this file instead of stdout')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): warm')
    .action(async (opts: { id: string; version?: number; out?: string; config: string }) => {
      try {
        const exported = await withWarmStore(opts.config, (store) =>
          doc.read(store.read, opts.id, opts.version),
        );
        if (exported === undefined)
          throw new UsageError(
            `no ${doc.noun} ${opts.id}${opts.version === undefined ? '' : ` version ${opts.version}`} is stored`,
          );
        if (opts.out === undefined) process.stdout.write(exported.yaml);
        else writeFileSync(opts.out, exported.yaml);
      } catch (error) {
        exitWithError(error);
      }
    });
}
