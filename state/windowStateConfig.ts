/**
 * The `state:` section of a worker's configuration and the backend it selects: Redis in production,
 * the in-process backend for the embedded demo.
 */
import { z } from 'zod';
import type { Clock, Logger } from '../topology/index.ts';
import { embeddedWindowState } from './embeddedWindowState.ts';
import type { RedisAuth } from './redisConnection.ts';
import { redisWindowState, redisWindowStateConfigSchema } from './redisWindowState.ts';
import type { WindowStateBackend } from './windowState.ts';

/** The `state:` section's redis variant (the CLI adds `credentials`: `cli/stateConfig.ts`). */
export const redisStateConfigSchema = redisWindowStateConfigSchema.extend({
  backend: z.literal('redis').describe('Redis (production; shared by every worker)'),
});

/** The `state:` section's embedded variant. */
export const embeddedStateConfigSchema = z
  .object({ backend: z.literal('embedded').describe('in-process (the embedded demo; one worker only)') })
  .strict();

/** A validated `state:` section: which window state backend a worker uses. */
export type WindowStateConfig =
  | z.output<typeof redisStateConfigSchema>
  | z.output<typeof embeddedStateConfigSchema>;

/** What a backend is given besides its configuration. */
export interface WindowStateDeps {
  /** The key namespace when the section names none (a worker passes `<topology.name>.windows`). */
  readonly defaultNamespace: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Redis credentials, resolved when the backend opens. */
  readonly auth?: () => Promise<RedisAuth>;
}

/** The backend a validated `state:` section names. */
export function windowStateBackend(config: WindowStateConfig, deps: WindowStateDeps): WindowStateBackend {
  if (config.backend === 'embedded') return embeddedWindowState();
  const { defaultNamespace, ...backendDeps } = deps;
  return redisWindowState({ ...config, namespace: config.namespace ?? defaultNamespace }, backendDeps);
}
