/** Files in a local directory (and its subdirectories); progress in `<DIR>/.shardflow-progress/`. */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type FileProgress,
  type FileSource,
  includes,
  PROGRESS_FOLDER,
  parseProgress,
  progressNameOf,
  type SourceFile,
} from './fileSource.ts';

const READ_CHUNK_BYTES = 256 * 1024;

/** A directory source; `progress` overrides where progress is kept. */
export function directorySource(
  directory: string,
  options: { include?: string; progress?: string } = {},
): FileSource {
  const root = resolve(directory);
  const progressDir = resolve(options.progress ?? join(root, PROGRESS_FOLDER));

  async function walk(dir: string, into: SourceFile[]): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      // Hidden names are skipped: the progress folder, and files still being written by many uploaders.
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (path === progressDir) continue;
      if (entry.isDirectory()) await walk(path, into);
      else if (entry.isFile()) {
        const name = relative(root, path).split(sep).join('/');
        if (!includes(options.include, name)) continue;
        const info = await stat(path);
        into.push({
          uri: pathToFileURL(path).href,
          name,
          size: info.size,
          version: `${info.size}-${Math.trunc(info.mtimeMs)}`,
        });
      }
    }
  }

  const progressPath = (file: SourceFile) => join(progressDir, progressNameOf(file.name));

  return {
    location: root,
    progressLocation: progressDir,
    async list() {
      const files: SourceFile[] = [];
      await walk(root, files);
      return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async *read(file, offset) {
      if (offset >= file.size) return;
      const stream = createReadStream(join(root, ...file.name.split('/')), {
        start: offset,
        highWaterMark: READ_CHUNK_BYTES,
      });
      try {
        for await (const chunk of stream) yield chunk as Buffer;
      } finally {
        stream.destroy();
      }
    },
    async readProgress(file) {
      try {
        return parseProgress(await readFile(progressPath(file), 'utf8'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async writeProgress(file, progress: FileProgress) {
      await mkdir(progressDir, { recursive: true });
      const path = progressPath(file);
      const temp = `${path}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify(progress));
      await rename(temp, path);
    },
  };
}
