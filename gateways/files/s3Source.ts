/**
 * Files under an S3 prefix; progress under `<prefix>/.shardflow-progress/` (or another
 * `s3://bucket/prefix/`). A file is read with GetObject from a byte range, pinned to the ETag it was
 * listed with, so a file replaced while it is read fails instead of mixing two versions.
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { FilesGatewayConfig } from './config.ts';
import {
  type FileSource,
  includes,
  PROGRESS_FOLDER,
  parseProgress,
  progressNameOf,
  type SourceFile,
} from './fileSource.ts';

/** A bucket and a key prefix, from `s3://bucket/prefix`. */
export interface S3Location {
  readonly bucket: string;
  readonly prefix: string;
}

/** Splits `s3://bucket/prefix` (the prefix may be empty); undefined when it is not an s3 URI. */
export function parseS3Uri(uri: string): S3Location | undefined {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) return undefined;
  return { bucket: match[1]!, prefix: match[2]! };
}

/** A prefix as a folder: empty, or ending in `/`. */
function asFolder(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'shardflow-local', secretAccessKey: 'shardflow-local' };

/** The S3 client of the config's `s3` section (dummy credentials for a local endpoint without any). */
export function createS3Client(s3: FilesGatewayConfig['s3']): S3Client {
  const env = process.env;
  const local =
    s3.endpoint !== undefined &&
    !(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
  const checksum = s3.checksums === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  return new S3Client({
    region: s3.region,
    requestHandler: new NodeHttpHandler(),
    forcePathStyle: s3.forcePathStyle,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    ...(s3.endpoint !== undefined ? { endpoint: s3.endpoint } : {}),
    ...(local ? { credentials: LOCAL_CREDENTIALS } : {}),
  });
}

/** An S3 source: `from` is `s3://bucket/prefix`, `progress` an optional `s3://bucket/prefix/`. */
export function s3Source(
  client: S3Client,
  from: string,
  options: { include?: string; progress?: string } = {},
): FileSource {
  const source = parseS3Uri(from);
  if (source === undefined) throw new Error(`not an s3://bucket/prefix location: ${from}`);
  const prefix = source.prefix;
  const folder = asFolder(prefix);
  const progress =
    options.progress !== undefined
      ? parseS3Uri(options.progress)
      : { bucket: source.bucket, prefix: `${folder}${PROGRESS_FOLDER}/` };
  if (progress === undefined)
    throw new Error(`progress of an S3 source must be s3://bucket/prefix/: ${options.progress}`);
  const progressPrefix = asFolder(progress.prefix);
  const progressKey = (file: SourceFile) => `${progressPrefix}${progressNameOf(file.name)}`;

  return {
    location: from,
    progressLocation: `s3://${progress.bucket}/${progressPrefix}`,
    async list() {
      const files: SourceFile[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: source.bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const object of page.Contents ?? []) {
          const key = object.Key;
          if (key === undefined || key.endsWith('/')) continue;
          if (progress.bucket === source.bucket && key.startsWith(progressPrefix)) continue;
          const name = key.startsWith(folder) ? key.slice(folder.length) : key.slice(prefix.length);
          if (name.split('/').some((part) => part.startsWith('.'))) continue;
          if (!includes(options.include, name)) continue;
          files.push({
            uri: `s3://${source.bucket}/${key}`,
            name,
            size: object.Size ?? 0,
            version: object.ETag ?? `${object.Size}-${object.LastModified?.getTime()}`,
          });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async *read(file, offset) {
      if (offset >= file.size) return;
      const key = file.uri.slice(`s3://${source.bucket}/`.length);
      const out = await client.send(
        new GetObjectCommand({
          Bucket: source.bucket,
          Key: key,
          ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
          ...(file.version.startsWith('"') ? { IfMatch: file.version } : {}),
        }),
      );
      const body = out.Body as AsyncIterable<Uint8Array> & { destroy?: () => void };
      try {
        for await (const chunk of body) yield chunk;
      } finally {
        body.destroy?.();
      }
    },
    async readProgress(file) {
      try {
        const out = await client.send(
          new GetObjectCommand({ Bucket: progress.bucket, Key: progressKey(file) }),
        );
        return parseProgress(await out.Body!.transformToString('utf8'));
      } catch (error) {
        if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
        throw error;
      }
    },
    async writeProgress(file, record) {
      await client.send(
        new PutObjectCommand({
          Bucket: progress.bucket,
          Key: progressKey(file),
          Body: JSON.stringify(record),
          ContentType: 'application/json',
        }),
      );
    },
  };
}
