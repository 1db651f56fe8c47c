/**
 * The Cold layer's files in a local directory (the demo and single-machine runs). A put writes a temp
 * file in the warehouse's own temp folder, syncs it and renames it into place, so a reader or a crash
 * never leaves a partial object under its key.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { checkKey, type ObjectInfo, ObjectNotFoundError, type ObjectStore } from './objectStore.ts';

const TEMP_DIR = '.shardflow-tmp';

/** Configuration of a local-directory object store. */
export const localObjectStoreConfigSchema = z
  .object({
    kind: z.literal('local'),
    directory: z.string().min(1).describe('warehouse root directory (created when missing)'),
  })
  .strict();
/** See {@link localObjectStoreConfigSchema}. */
export type LocalObjectStoreConfig = z.output<typeof localObjectStoreConfigSchema>;

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

/** Opens a local-directory object store rooted at `config.directory`. */
export function localObjectStore(config: LocalObjectStoreConfig): ObjectStore {
  const root = resolve(config.directory);
  const pathOf = (key: string) => {
    checkKey(key);
    if (key === TEMP_DIR || key.startsWith(`${TEMP_DIR}/`)) throw new Error(`invalid object key "${key}"`);
    return join(root, ...key.split('/'));
  };

  async function* walk(dir: string): AsyncGenerator<string> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (dir !== root || entry.name !== TEMP_DIR) yield* walk(path);
      } else if (entry.isFile()) {
        yield relative(root, path).split(sep).join('/');
      }
    }
  }

  return {
    async put(key, bytes) {
      const path = pathOf(key);
      const tempDir = join(root, TEMP_DIR);
      await mkdir(tempDir, { recursive: true });
      const temp = join(tempDir, randomUUID());
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await mkdir(join(path, '..'), { recursive: true });
        await rename(temp, path);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    },

    async get(key) {
      try {
        const bytes = await readFile(pathOf(key));
        return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (error) {
        if (isMissing(error)) throw new ObjectNotFoundError(key);
        throw error;
      }
    },

    async head(key) {
      try {
        const s = await stat(pathOf(key));
        return s.isFile() ? s.size : undefined;
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },

    async *list(prefix): AsyncGenerator<ObjectInfo> {
      // Walk only below the prefix's directory part; the rest of the prefix filters names.
      const slash = prefix.lastIndexOf('/');
      const start = slash < 0 ? root : join(root, ...prefix.slice(0, slash).split('/'));
      for await (const key of walk(start)) {
        if (!key.startsWith(prefix)) continue;
        try {
          const s = await stat(join(root, ...key.split('/')));
          yield { key, size: s.size, lastModified: s.mtime };
        } catch (error) {
          if (!isMissing(error)) throw error; // deleted while listing
        }
      }
    },

    async delete(keys) {
      await Promise.all(keys.map((key) => rm(pathOf(key), { force: true })));
    },

    uri: (key) => pathToFileURL(pathOf(key)).href,

    keyOf(uri) {
      if (!uri.startsWith('file:')) return undefined;
      const path = fileURLToPath(uri);
      if (!path.startsWith(root + sep)) return undefined;
      return relative(root, path).split(sep).join('/');
    },

    close: async () => {},
  };
}
