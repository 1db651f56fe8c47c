/**
 * The remote mode's configuration: real AWS endpoints for use outside these machines. The stream
 * and the stores must exist; the harness produces the workload onto the stream (unless told not
 * to), runs one worker against it, and reads the Warm store for the markers.
 */
import { readFileSync } from 'node:fs';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** Configuration of `bench run --mode remote --remote-config FILE`. */
export const remoteConfigSchema = z
  .object({
    region: z.string().min(1).describe('AWS region of the stream and the lease table'),
    kinesis: z
      .object({
        streamName: z.string().min(1).max(128).describe('an existing stream, used only by the benchmark'),
        endpoint: z.url().optional().describe('Kinesis endpoint; the region’s when absent'),
      })
      .strict(),
    leases: z
      .object({
        tableName: z.string().min(3).max(255).describe('lease table (created when missing)'),
        endpoint: z.url().optional().describe('DynamoDB endpoint; the region’s when absent'),
      })
      .strict(),
    warm: z
      .object({
        writeUrl: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
          .describe('Aurora write endpoint'),
        readUrl: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
          .optional()
          .describe('Aurora read endpoint'),
      })
      .strict(),
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL')
      .optional()
      .describe('ElastiCache, for state'),
    produce: z.boolean().default(true).describe('put the workload on the stream from this machine'),
  })
  .strict();
/** See {@link remoteConfigSchema}. */
export type RemoteConfig = z.output<typeof remoteConfigSchema>;

/** A remote configuration that cannot be used; the message lists each problem with its key. */
export class RemoteConfigError extends Error {
  override readonly name = 'RemoteConfigError';
}

/** Validates a parsed remote configuration. */
export function parseRemoteConfig(raw: unknown, source = 'remote configuration'): RemoteConfig {
  const result = remoteConfigSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => {
    const key = i.path.map(String).join('.') || '(top level)';
    if (i.code === 'unrecognized_keys')
      return i.keys.map((k) => `${key === '(top level)' ? k : `${key}.${k}`}: unknown key`).join('\n  - ');
    if (i.code === 'invalid_type' && i.input === undefined) return `${key}: is required`;
    return `${key}: ${i.message}`;
  });
  throw new RemoteConfigError(`invalid ${source}:\n  - ${problems.join('\n  - ')}`);
}

/** Reads and validates the file `--remote-config` names; the mode needs one. */
export function loadRemoteConfig(file: string | undefined): RemoteConfig {
  if (file === undefined)
    throw new RemoteConfigError('--mode remote needs --remote-config FILE (region, kinesis, leases, warm)');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RemoteConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new RemoteConfigError(`${file} is not valid YAML: ${(error as Error).message}`);
  }
  return parseRemoteConfig(raw, file);
}

/** Resolves AWS credentials the way the SDK clients will; throws when there are none. */
export type CredentialsCheck = () => Promise<unknown>;

/** The SDK's default credential chain, for `config.region`. */
function sdkCredentials(config: RemoteConfig): CredentialsCheck {
  return async () => {
    const client = new KinesisClient({ region: config.region });
    try {
      return await client.config.credentials();
    } finally {
      client.destroy();
    }
  };
}

/**
 * Refuses to start the remote mode without AWS credentials: with an explicit endpoint the Kinesis
 * client would otherwise fall back to the local emulators' dummy keys and fail later, less clearly.
 */
export async function checkRemoteCredentials(
  config: RemoteConfig,
  resolve: CredentialsCheck = sdkCredentials(config),
): Promise<void> {
  try {
    await resolve();
  } catch (error) {
    throw new RemoteConfigError(
      `--mode remote needs AWS credentials for region ${config.region}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with a role (${(error as Error).message})`,
    );
  }
}
