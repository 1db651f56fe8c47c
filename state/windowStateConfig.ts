/**
 * The `state:` section of a worker's configuration and the backend it selects: Redis in production,
 * the in-process backend for the embedded demo.
 */
import { z } from 'zod';
import { embeddedWindowState } from './embeddedWindowState.ts';
import { redisWindowState, redisWindowStateConfigSchema } from './redisWindowState.ts';
import type { WindowStateBackend } from './windowState.ts';

/** Which window state backend a worker uses. */
export const windowStateConfigSchema = z.discriminatedUnion('backend', [
  redisWindowStateConfigSchema.extend({
    backend: z.literal('redis').describe('Redis (production; shared by every worker)'),
  }),
  z
    .object({ backend: z.literal('embedded').describe('in-process (the embedded demo; one worker only)') })
    .strict(),
]);
/** See {@link windowStateConfigSchema}. */
export type WindowStateConfig = z.output<typeof windowStateConfigSchema>;

/** The backend a validated `state:` section names; `namespace` defaults per window node. */
export function windowStateBackend(config: WindowStateConfig, namespace?: string): WindowStateBackend {
  if (config.backend === 'embedded') return embeddedWindowState();
  return redisWindowState({ redisUrl: config.redisUrl, namespace: namespace ?? config.namespace });
}
