/**
 * Database credentials come from the environment or from AWS Secrets Manager, never from the
 * configuration file: an endpoint URL that carries a password is refused when the configuration is
 * validated, naming the key. Secrets Manager secrets are read in the RDS format
 * (`{ username, password, host, port, dbname }`), as RDS and Aurora write them.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';

/** Where an endpoint's user name and password come from. */
export const credentialsConfigSchema = z
  .object({
    secretArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, {
        message: 'expected a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)',
      })
      .optional()
      .describe('AWS Secrets Manager secret (RDS format JSON) holding username and password'),
    usernameEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional()
      .describe('environment variable holding the user name'),
    passwordEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional()
      .describe('environment variable holding the password'),
  })
  .strict()
  .refine((c) => c.secretArn === undefined || (c.usernameEnv === undefined && c.passwordEnv === undefined), {
    message: 'give either secretArn or usernameEnv/passwordEnv, not both',
  });
/** See {@link credentialsConfigSchema}. */
export type CredentialsConfig = z.output<typeof credentialsConfigSchema>;

/** True when a URL carries a password (`scheme://user:PASSWORD@host`). */
export function urlHasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    // Multi-host MongoDB URLs are not WHATWG URLs; look at the user-info part directly.
    return /^[a-z+]+:\/\/[^/@]*:[^/@]*@/i.test(url);
  }
}

/** A URL refinement for config schemas: refuses a password in the URL. */
export const PASSWORD_IN_URL = {
  check: (url: string | undefined) => url === undefined || !urlHasPassword(url),
  message:
    'holds a password: credentials come from the environment (credentials.passwordEnv) or AWS Secrets Manager (credentials.secretArn), never from the configuration',
} as const;

/** What an endpoint logs in with; absent fields keep what the URL (or the driver's defaults) say. */
export interface ResolvedCredentials {
  readonly username?: string;
  readonly password?: string;
  /** From a Secrets Manager secret's `dbname`, used when the URL names no database. */
  readonly database?: string;
}

/** The one call of Secrets Manager this needs (a fake stands in for it in tests). */
export type SecretsReader = Pick<SecretsManagerClient, 'send'>;

interface RdsSecret {
  username?: unknown;
  password?: unknown;
  dbname?: unknown;
}

/**
 * Resolves an endpoint's credentials: from the secret `credentials.secretArn` (read with
 * `secrets`), or from the environment variables `credentials.usernameEnv`/`passwordEnv`.
 * `key` names the configuration section in error messages.
 */
export async function resolveCredentials(
  config: { readonly key: string; readonly credentials?: CredentialsConfig },
  env: NodeJS.ProcessEnv,
  secrets: SecretsReader | (() => SecretsReader) | undefined,
): Promise<ResolvedCredentials> {
  const c = config.credentials;
  if (c === undefined) return {};
  if (c.secretArn !== undefined) {
    const client = typeof secrets === 'function' ? secrets() : secrets;
    if (client === undefined)
      throw new Error(`${config.key}.credentials.secretArn: no Secrets Manager client`);
    const answer = await client.send(new GetSecretValueCommand({ SecretId: c.secretArn }));
    if (answer.SecretString === undefined)
      throw new Error(`${config.key}.credentials.secretArn: the secret holds no SecretString`);
    let secret: RdsSecret;
    try {
      secret = JSON.parse(answer.SecretString) as RdsSecret;
    } catch {
      throw new Error(`${config.key}.credentials.secretArn: the secret is not JSON in the RDS format`);
    }
    if (typeof secret.username !== 'string' || typeof secret.password !== 'string')
      throw new Error(`${config.key}.credentials.secretArn: the secret has no username and password strings`);
    return {
      username: secret.username,
      password: secret.password,
      ...(typeof secret.dbname === 'string' ? { database: secret.dbname } : {}),
    };
  }
  const fromEnv = (name: string | undefined, field: string): string | undefined => {
    if (name === undefined) return undefined;
    const value = env[name];
    if (value === undefined || value === '')
      throw new Error(`${config.key}.credentials.${field}: the environment variable ${name} is not set`);
    return value;
  };
  const username = fromEnv(c.usernameEnv, 'usernameEnv');
  const password = fromEnv(c.passwordEnv, 'passwordEnv');
  return {
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

/** A PostgreSQL URL with the resolved credentials filled in (for `pg`, which reads them from it). */
export function withCredentials(url: string, credentials: ResolvedCredentials): string {
  if (credentials.username === undefined && credentials.password === undefined && !credentials.database)
    return url;
  const parsed = new URL(url);
  if (credentials.username !== undefined) parsed.username = encodeURIComponent(credentials.username);
  if (credentials.password !== undefined) parsed.password = encodeURIComponent(credentials.password);
  if (credentials.database !== undefined && (parsed.pathname === '' || parsed.pathname === '/'))
    parsed.pathname = `/${encodeURIComponent(credentials.database)}`;
  return parsed.toString();
}
