/**
 * The worker's `state:` section: the state component's schema plus the Redis credentials, which come
 * from the environment or AWS Secrets Manager exactly as the databases' do (`sinks/postgres/credentials.ts`).
 * The CLI joins the two because components do not import each other.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import {
  credentialsConfigSchema,
  PASSWORD_IN_URL,
  resolveCredentials,
  type SecretsReader,
} from '../sinks/postgres/credentials.ts';
import type { RedisAuth } from '../state/redisConnection.ts';
import {
  embeddedStateConfigSchema,
  keyedStateStore,
  redisStateConfigSchema,
  type StateDeps,
} from '../state/stateConfig.ts';
import type { Clock, Logger, StateStore } from '../topology/index.ts';

/** The `state:` section: Redis (with its credentials) or the embedded backend. */
export const stateConfigSchema = z.discriminatedUnion('backend', [
  redisStateConfigSchema.extend({
    redisUrl: redisStateConfigSchema.shape.redisUrl
      .refine(PASSWORD_IN_URL.check, { message: PASSWORD_IN_URL.message })
      .describe('Redis URL, e.g. redis://127.0.0.1:6379; rediss://… connects with TLS'),
    credentials: credentialsConfigSchema
      .optional()
      .describe(
        'AUTH password (ElastiCache AUTH token) or ACL user from the environment or AWS Secrets Manager (a secret holding username and password; username "default" for an AUTH token)',
      ),
  }),
  embeddedStateConfigSchema,
]);
/** See {@link stateConfigSchema}. */
export type StateConfig = z.output<typeof stateConfigSchema>;
/** The `state:` section of a Redis backend. */
export type RedisStateConfig = Extract<StateConfig, { backend: 'redis' }>;

/** Where Redis credentials are looked up; the process environment and a default client when absent. */
export interface RedisAuthDeps {
  readonly env?: NodeJS.ProcessEnv;
  readonly secrets?: () => SecretsReader;
}

/** The credentials of the worker's Redis, read each time a client connects (errors name `state.credentials.*`). */
export function redisAuth(state: RedisStateConfig, deps: RedisAuthDeps = {}): () => Promise<RedisAuth> {
  return async function readRedisCredentials() {
    const { username, password } = await resolveCredentials(
      { key: 'state', credentials: state.credentials },
      deps.env ?? process.env,
      deps.secrets ?? (() => new SecretsManagerClient({})),
    );
    return {
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
    };
  };
}

/** What a worker's state stores are given: its topology's name, its logger and clock, where credentials are. */
export type WorkerStateDeps = RedisAuthDeps & {
  readonly topologyName: string;
  readonly log: Logger;
  readonly clock?: Clock;
};

/**
 * What every state store of a worker is given: its keys live under `state.namespace`, or under
 * `<topology name>.windows` when the section names none (the namespace every worker used before it
 * could be configured, so existing state is found again), and its credentials are read at each
 * connection.
 */
function workerStateDeps(state: StateConfig, deps: WorkerStateDeps): StateDeps {
  return {
    defaultNamespace: `${deps.topologyName}.windows`,
    log: deps.log,
    clock: deps.clock,
    auth: state.backend === 'redis' ? redisAuth(state, deps) : undefined,
  };
}

/** The keyed state store of a worker (keys `sf:{namespace}:ks:…`): the window operator's state too. */
export function workerKeyedStateStore(state: StateConfig, deps: WorkerStateDeps): StateStore {
  return keyedStateStore(state, workerStateDeps(state, deps));
}
