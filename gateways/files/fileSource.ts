/**
 * Where the file gateway reads files and keeps its progress: a directory or an S3 prefix. Both list
 * files with a version (an S3 ETag, a local file's size and modification time), read a file from a
 * byte offset, and keep one small JSON progress record per file beside the files (no database: the
 * gateway can run as a scheduled task).
 */
import { createHash } from 'node:crypto';

/** A file to ingest. */
export interface SourceFile {
  /** `s3://bucket/key` or `file:///path`: what envelopes name in `source`. */
  readonly uri: string;
  /** The path under the source (the S3 key after the prefix, the path under the directory). */
  readonly name: string;
  readonly size: number;
  /** Changes when the file's content changes: the ETag, or size and modification time. */
  readonly version: string;
}

/** What the gateway remembers of a file. */
export interface FileProgress {
  readonly v: 1;
  readonly uri: string;
  readonly version: string;
  readonly size: number;
  /** Byte offset where the file resumes: every record before it is in the stream. */
  readonly offset: number;
  /** Line ends before `offset` (text framings), so resumed records keep their line numbers. */
  readonly line: number;
  /** Records in the stream before `offset`. */
  readonly records: number;
  /** The whole file is in the stream (or, with `failed`, up to where its framing broke). */
  readonly done: boolean;
  /** Why the file stopped: its framing broke. */
  readonly failed?: string;
  /** The CSV header line (base64), to repeat before the records of a resumed file. */
  readonly header?: string;
  /** Epoch ms of the write. */
  readonly updatedAt: number;
}

/** A directory or S3 prefix of files, and the progress kept for them. */
export interface FileSource {
  /** The source as given: `s3://bucket/prefix` or the directory. */
  readonly location: string;
  /** Where the progress records are kept. */
  readonly progressLocation: string;
  /** Every file under the source (not the progress records), in name order. */
  list(): Promise<SourceFile[]>;
  /** The file's bytes from `offset` to its end (stop early by leaving the loop). */
  read(file: SourceFile, offset: number): AsyncIterable<Uint8Array>;
  readProgress(file: SourceFile): Promise<FileProgress | undefined>;
  writeProgress(file: SourceFile, progress: FileProgress): Promise<void>;
}

export const PROGRESS_FOLDER = '.shardflow-progress';

/** The progress record's name for a file: its name made safe, or a hash for a long one. */
export function progressNameOf(name: string): string {
  const safe = encodeURIComponent(name);
  if (safe.length <= 180) return `${safe}.json`;
  return `${safe.slice(0, 100)}-${createHash('sha256').update(name).digest('hex').slice(0, 32)}.json`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

/**
 * Whether a file's name (its path under the source) passes the `include` filter: a glob (`*` within
 * a path segment, `**` across segments, `?` one character; without a `/` it matches the last
 * segment) or, with no wildcard, a suffix.
 */
export function includes(filter: string | undefined, name: string): boolean {
  if (filter === undefined) return true;
  if (!/[*?]/.test(filter)) return name.endsWith(filter);
  const subject = filter.includes('/') ? name : (name.split('/').at(-1) ?? name);
  const pattern = filter
    .split(/(\*\*\/?|\*|\?)/)
    .map((part) =>
      part === '**/'
        ? '(?:.*/)?'
        : part === '**'
          ? '.*'
          : part === '*'
            ? '[^/]*'
            : part === '?'
              ? '[^/]'
              : escapeRegExp(part),
    )
    .join('');
  return new RegExp(`^${pattern}$`).test(subject);
}

/** Parses a stored progress record; undefined when it is not one (then the file starts over). */
export function parseProgress(text: string): FileProgress | undefined {
  try {
    const value = JSON.parse(text) as Partial<FileProgress>;
    if (
      value.v !== 1 ||
      typeof value.version !== 'string' ||
      typeof value.offset !== 'number' ||
      typeof value.line !== 'number' ||
      typeof value.records !== 'number' ||
      typeof value.done !== 'boolean'
    )
      return undefined;
    return value as FileProgress;
  } catch {
    return undefined;
  }
}
