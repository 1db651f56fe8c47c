/**
 * The `state:` section of a worker's configuration and the keyed state store it selects (the window
 * operator's state is keyed state): Redis in production (one connection section, one namespace, the
 * keyed state's keys under `ks:` inside it), in-process for the embedded demo.
 */
import { z } from 'zod';
import type { Clock, Logger, StateStore } from '../topology/index.ts';
import { embeddedStateStore } from './keyed/embeddedStateStore.ts';
import { redisStateStore } from './keyed/redisStateStore.ts';
import {
  type RedisAuth,
  type RedisConnection,
  type RedisStoreDeps,
  redisConnectionConfigSchema,
} from './redisConnection.ts';

/** The `state:` section's redis variant (the CLI adds `credentials`: `cli/stateConfig.ts`). */
export const redisStateConfigSchema = redisConnectionConfigSchema
  .extend({
    backend: z.literal('redis').describe('Redis (production; shared by every worker)'),
    namespace: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .optional()
      .describe(
        "key prefix of this topology's keyed state (sf:{NAMESPACE}:ks:…); `<topology.name>.windows` when absent",
      ),
  })
  .strict();

/** The `state:` section's embedded variant. */
export const embeddedStateConfigSchema = z
  .object({ backend: z.literal('embedded').describe('in-process (the embedded demo; one worker only)') })
  .strict();

/** A validated `state:` section: where a worker keeps its window and keyed state. */
export type StateSection =
  | z.output<typeof redisStateConfigSchema>
  | z.output<typeof embeddedStateConfigSchema>;

/** What a store is given besides its configuration. */
export interface StateDeps {
  /** The key namespace when the section names none (a worker passes `<topology.name>.windows`). */
  readonly defaultNamespace: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Redis credentials, resolved when the store opens. */
  readonly auth?: () => Promise<RedisAuth>;
}

/** A redis section's connection with its namespace settled, and what its client is given. */
function redisTarget(
  config: z.output<typeof redisStateConfigSchema>,
  deps: StateDeps,
): { config: RedisConnection & { readonly namespace: string }; deps: RedisStoreDeps } {
  const { defaultNamespace, ...storeDeps } = deps;
  return { config: { ...config, namespace: config.namespace ?? defaultNamespace }, deps: storeDeps };
}

/** The keyed state store a validated `state:` section names (Redis keys `sf:{NAMESPACE}:ks:…`). */
export function keyedStateStore(config: StateSection, deps: StateDeps): StateStore {
  if (config.backend === 'embedded') return embeddedStateStore();
  const target = redisTarget(config, deps);
  return redisStateStore(target.config, target.deps);
}
