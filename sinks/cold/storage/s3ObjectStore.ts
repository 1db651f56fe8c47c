/**
 * The Cold layer's files in S3 (production) or an S3-compatible server (s3rver in tests), through
 * `@aws-sdk/client-s3` over HTTP/1.1. Keys live under an optional prefix in the bucket; URIs are
 * `s3://bucket/prefix/key`, the form Athena, Glue and Iceberg's S3FileIO read.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { z } from 'zod';
import { checkKey, type ObjectInfo, ObjectNotFoundError, type ObjectStore } from './objectStore.ts';

/** Configuration of an S3 object store. */
export const s3ObjectStoreConfigSchema = z
  .object({
    kind: z.literal('s3'),
    bucket: z.string().min(3).max(63).describe('bucket holding the warehouse'),
    prefix: z
      .string()
      .default('')
      .refine((p) => p === '' || (p.endsWith('/') && !p.startsWith('/')), {
        message: 'expected "" or a prefix like "warehouse/" (ends with "/", no leading "/")',
      })
      .describe('key prefix of the warehouse inside the bucket'),
    region: z.string().min(1).default('us-east-1').describe('AWS region of the bucket'),
    endpoint: z.url().optional().describe('endpoint of an S3-compatible server; AWS when absent'),
    forcePathStyle: z
      .boolean()
      .default(false)
      .describe('path-style URLs (needed by most S3-compatible servers)'),
    checksums: z
      .enum(['when-supported', 'when-required'])
      .default('when-supported')
      .describe('request checksums: "when-required" for servers that reject the SDK\'s default CRC32'),
    listPageSize: z.number().int().min(1).max(1000).default(1000).describe('keys per ListObjectsV2 page'),
  })
  .strict();
/** See {@link s3ObjectStoreConfigSchema}. */
export type S3ObjectStoreConfig = z.output<typeof s3ObjectStoreConfigSchema>;

/** Extra client settings that do not belong in a config file. */
export interface S3ObjectStoreOptions {
  /** Static credentials (local servers); the SDK's default chain when absent. */
  readonly credentials?: S3ClientConfig['credentials'];
}

const DELETE_BATCH = 1000;

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/** Opens an S3 object store on `config.bucket` under `config.prefix`. */
export function s3ObjectStore(config: S3ObjectStoreConfig, options: S3ObjectStoreOptions = {}): ObjectStore {
  const checksum = config.checksums === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const client = new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    // HTTP/1.1: S3-compatible servers such as s3rver do not speak the SDK's default for Node well.
    requestHandler: new NodeHttpHandler(),
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  const Bucket = config.bucket;
  const full = (key: string) => config.prefix + checkKey(key);
  const base = `s3://${Bucket}/${config.prefix}`;

  return {
    async put(key, bytes) {
      await client.send(
        new PutObjectCommand({ Bucket, Key: full(key), Body: bytes, ContentLength: bytes.byteLength }),
      );
    },

    async get(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket, Key: full(key) }));
        if (!out.Body) throw new Error(`s3://${Bucket}/${full(key)}: empty response body`);
        return await out.Body.transformToByteArray();
      } catch (error) {
        if (isNotFound(error)) throw new ObjectNotFoundError(key);
        throw error;
      }
    },

    async head(key) {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket, Key: full(key) }));
        return out.ContentLength ?? 0;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    async *list(prefix): AsyncGenerator<ObjectInfo> {
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket,
            Prefix: config.prefix + prefix,
            MaxKeys: config.listPageSize,
            ContinuationToken,
          }),
        );
        for (const o of page.Contents ?? []) {
          if (!o.Key) continue;
          yield {
            key: o.Key.slice(config.prefix.length),
            size: o.Size ?? 0,
            lastModified: o.LastModified ?? new Date(0),
          };
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    },

    async delete(keys) {
      for (let i = 0; i < keys.length; i += DELETE_BATCH) {
        const batch = keys.slice(i, i + DELETE_BATCH).map((key) => ({ Key: full(key) }));
        const out = await client.send(
          new DeleteObjectsCommand({ Bucket, Delete: { Objects: batch, Quiet: true } }),
        );
        const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) {
          const first = failed[0]!;
          throw new Error(
            `deleting ${failed.length} objects failed, first ${first.Key}: ${first.Code} ${first.Message}`,
          );
        }
      }
    },

    uri: (key) => base + checkKey(key),

    keyOf: (uri) => (uri.startsWith(base) && uri.length > base.length ? uri.slice(base.length) : undefined),

    close: async () => client.destroy(),
  };
}
