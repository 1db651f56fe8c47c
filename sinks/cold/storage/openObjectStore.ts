/**
 * Opens the Cold layer's object store from configuration: `kind: local` (a directory) or `kind: s3`.
 */
import { z } from 'zod';
import { localObjectStore, localObjectStoreConfigSchema } from './localObjectStore.ts';
import type { ObjectStore } from './objectStore.ts';
import { type S3ObjectStoreOptions, s3ObjectStore, s3ObjectStoreConfigSchema } from './s3ObjectStore.ts';

/** Configuration of the Cold layer's storage: a local directory or an S3 bucket. */
export const objectStoreConfigSchema = z
  .discriminatedUnion('kind', [localObjectStoreConfigSchema, s3ObjectStoreConfigSchema])
  .describe('where the warehouse files live');
/** See {@link objectStoreConfigSchema}. */
export type ObjectStoreConfig = z.output<typeof objectStoreConfigSchema>;

/** Opens the configured object store. */
export function openObjectStore(config: ObjectStoreConfig, options: S3ObjectStoreOptions = {}): ObjectStore {
  return config.kind === 'local' ? localObjectStore(config) : s3ObjectStore(config, options);
}
