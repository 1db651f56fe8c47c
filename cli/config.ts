/**
 * A worker's configuration: YAML, then `SHARDFLOW_*` environment overrides, validated by one zod
 * schema composed from the components' own schemas. Every error names the key and the problem.
 *
 * Environment overrides address a key by its path, sections joined by `__`, words by `_`:
 * `SHARDFLOW_SOURCE__KINESIS__STREAM_NAME=telemetry` sets `source.kinesis.streamName`. Values are
 * read as YAML scalars (`4` is a number, `true` a boolean). Variables without `__` are not config.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { actionsConfigSchema } from '../actions/config.ts';
import { cdcDecodeConfigSchema } from '../operators/cdc/mapping.ts';
import { decodeConfigSchema } from '../operators/decodeBySpec.ts';
import { enrichConfigSchema } from '../operators/enrich.ts';
import { rulesSectionSchema } from '../operators/rules/config.ts';
import { windowAggregateConfigSchema } from '../operators/windows/index.ts';
import { coldConfigSchema } from '../sinks/cold/catalog/coldTable.ts';
import { deadLettersConfigSchema } from '../sinks/deadletter/config.ts';
import { hotStoreConfigSchema } from '../sinks/hot/openHotStore.ts';
import { urlHasPassword } from '../sinks/postgres/credentials.ts';
import { warmStoreConfigSchema } from '../sinks/postgres/store.ts';
import { kinesisSourceConfigSchema } from '../sources/kinesis/config.ts';
import { leaseConfigSchema } from '../sources/kinesis/kclSource.ts';
import { runtimeConfigSchema } from '../topology/index.ts';
import { stateConfigSchema } from './stateConfig.ts';

/** Sections whose own schemas refuse a password in their URLs, pointing at their `credentials`. */
const CHECKED_BY_SECTION = new Set(['warm', 'hot', 'state']);

/** The path of every string in `node` that is a URL holding a password. */
export function urlsHoldingPasswords(node: unknown, path: PropertyKey[] = []): PropertyKey[][] {
  if (typeof node === 'string') return urlHasPassword(node) ? [path] : [];
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) => urlsHoldingPasswords(value, [...path, key]));
}

/** The `log:` section, of workers and gateways alike. */
export const logConfigSchema = z
  .object({
    level: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('lowest level logged'),
    pretty: z.boolean().default(false).describe('human-readable logs instead of JSON lines'),
  })
  .strict()
  .default({ level: 'info', pretty: false });

/** The `admin:` section: the admin HTTP port of workers and gateways alike. */
export const adminConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65_535).default(9400).describe('admin HTTP port; 0 = any free port'),
    host: z
      .string()
      .default('127.0.0.1')
      .describe(
        "admin HTTP address: the default 127.0.0.1 serves the task itself only; an ECS task binds 0.0.0.0 so that the load balancer's /readyz health check and Prometheus reach the task's IP, and should then set admin.tokenEnv",
      ),
    enabled: z.boolean().default(true).describe('serve /healthz, /metrics, /topology'),
    tokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'expected an environment variable name' })
      .optional()
      .describe(
        'environment variable holding a bearer token every admin path but /healthz and /readyz then needs (Authorization: Bearer TOKEN; a browser opens /?token=TOKEN once); never the token itself',
      ),
  })
  .strict()
  .default({ port: 9400, host: '127.0.0.1', enabled: true });

/** The configuration of one worker (`shardflow run --config FILE`). */
export const workerConfigSchema = z
  .object({
    topology: z
      .object({
        name: z
          .string()
          .default('telemetry')
          .describe('name of the topology (metrics; window state keys when state.namespace is absent)'),
      })
      .strict()
      .default({ name: 'telemetry' }),
    source: z
      .object({
        kinesis: kinesisSourceConfigSchema.describe('the telemetry stream'),
        leases: leaseConfigSchema
          .optional()
          .describe(
            'share the shards with other workers through a KCL lease table; without it one worker reads every shard',
          ),
        cdc: z
          .object({
            kinesis: kinesisSourceConfigSchema.describe('the CDC stream (AWS DMS, MongoDB change streams)'),
            leases: leaseConfigSchema
              .optional()
              .describe("the CDC stream's own lease table (a KCL application per stream)"),
            decode: cdcDecodeConfigSchema.describe('which source tables and columns feed which entity'),
          })
          .strict()
          .optional()
          .describe('master-data changes to apply to the Warm store; no CDC branch when absent'),
      })
      .strict(),
    decode: decodeConfigSchema.default(decodeConfigSchema.parse({})),
    enrich: enrichConfigSchema.default(enrichConfigSchema.parse({})),
    windows: windowAggregateConfigSchema.default(windowAggregateConfigSchema.parse({})),
    rules: rulesSectionSchema
      .optional()
      .describe(
        'threshold rules on enriched telemetry, alarm events to Warm and Hot; no rules stage when absent',
      ),
    formulas: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            'evaluate the formulas in the Warm store (`shardflow formulas import`) when a day becomes final; no formula-results sink when false',
          ),
      })
      .strict()
      .default({ enabled: true }),
    actions: actionsConfigSchema
      .optional()
      .describe(
        'actions that follow alarms (notifications, escalation, remote fixes, dispatch) through the outbox; none when absent',
      ),
    state: stateConfigSchema
      .default({ backend: 'embedded' })
      .describe('window state: redis (shared by all workers) or embedded (one worker)'),
    warm: warmStoreConfigSchema.describe('the Warm store (PostgreSQL / Aurora)'),
    hot: hotStoreConfigSchema
      .optional()
      .describe('the Hot store; its tables live in the Warm PostgreSQL when absent'),
    deadLetters: deadLettersConfigSchema.default({ kind: 'postgres' }),
    cold: coldConfigSchema.optional().describe('the Cold Iceberg table; no Cold sink when absent'),
    runtime: runtimeConfigSchema.default(runtimeConfigSchema.parse({})),
    log: logConfigSchema,
    admin: adminConfigSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    // Every other URL-valued key (AWS endpoints, SQS queues, any added later): refused here once.
    for (const path of urlsHoldingPasswords(c))
      if (!CHECKED_BY_SECTION.has(String(path[0])))
        ctx.addIssue({
          code: 'custom',
          path,
          message:
            "holds a password: no credentials are kept in the configuration (AWS endpoints sign with the SDK's credentials: environment, profile or role)",
        });
    if (c.source.leases !== undefined && c.state.backend === 'embedded')
      ctx.addIssue({
        code: 'custom',
        path: ['state', 'backend'],
        message:
          'embedded keeps window state inside one process; workers sharing shards through source.leases need redis',
      });
  });
/** The configuration as written. */
export type WorkerConfigInput = z.input<typeof workerConfigSchema>;
/** The validated configuration, defaults applied. */
export type WorkerConfig = z.output<typeof workerConfigSchema>;

/** A configuration that cannot be used; `message` lists every problem with its key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly problems: readonly string[],
    readonly source: string,
  ) {
    super(`invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const ENV_PREFIX = 'SHARDFLOW_';

function camel(word: string): string {
  return word.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Applies `SHARDFLOW_A__B_C=v` overrides to a raw config; returns which env var set which path. */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const origins = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || !name.includes('__') || value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).split('__').map(camel);
    let node: Record<string, unknown> = raw;
    for (const key of path.slice(0, -1)) {
      const child = node[key];
      if (child === undefined) node[key] = {};
      else if (child === null || typeof child !== 'object') {
        throw new ConfigError(
          [`${path.join('.')}: ${name} sets a key inside "${key}", which is not a section`],
          'environment',
        );
      }
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] = parseYaml(value);
    origins.set(path.join('.'), name);
  }
  return origins;
}

function formatIssue(issue: z.core.$ZodIssue, origins: Map<string, string>): string[] {
  const path = issue.path.map(String);
  const where = (p: string[]) => {
    const key = p.length === 0 ? '(top level)' : p.join('.');
    const origin = origins.get(key);
    return origin ? `${key} (from ${origin})` : key;
  };
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${where([...path, k])}: unknown key`);
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) return [`${where(path)}: is required`];
  return [`${where(path)}: ${issue.message}`];
}

/** Validates a raw configuration object against `schema`, applying environment overrides first. */
export function parseConfigWith<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
  source = 'configuration',
): z.output<S> {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(['(top level): expected a mapping of sections'], source);
  const copy = structuredClone(raw) as Record<string, unknown>;
  const origins = applyEnvOverrides(copy, env);
  const result = schema.safeParse(copy, { reportInput: true });
  if (!result.success)
    throw new ConfigError(
      result.error.issues.flatMap((i) => formatIssue(i, origins)),
      source,
    );
  return result.data;
}

/** Reads a YAML configuration file and validates it against `schema` (with environment overrides). */
export function loadConfigFileWith<S extends z.ZodType>(
  schema: S,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`cannot read the file: ${(error as Error).message}`], file);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    if (error instanceof YAMLParseError) throw new ConfigError([`not valid YAML: ${error.message}`], file);
    throw error;
  }
  return parseConfigWith(schema, raw, env, file);
}

/** Validates a raw worker configuration, applying environment overrides first. */
export function parseWorkerConfig(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
  source = 'configuration',
): WorkerConfig {
  return parseConfigWith(workerConfigSchema, raw, env, source);
}

/** Reads a YAML worker configuration file and validates it (with environment overrides). */
export function loadWorkerConfig(file: string, env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return loadConfigFileWith(workerConfigSchema, file, env);
}
