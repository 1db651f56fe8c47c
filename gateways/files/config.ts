/** The file gateway's configuration section (`gateway.files` in the configuration file). */
import { z } from 'zod';
import { framingSchema } from '../framing/deframer.ts';

const s3Schema = z
  .object({
    region: z.string().min(1).default('us-east-1').describe("the bucket's region"),
    endpoint: z
      .url()
      .optional()
      .describe("an S3-compatible endpoint (s3rver, MinIO); AWS's regional endpoint when absent"),
    forcePathStyle: z
      .boolean()
      .default(false)
      .describe('path-style addressing (http://host/bucket/key), which s3rver and MinIO need'),
    checksums: z
      .enum(['when-supported', 'when-required'])
      .default('when-supported')
      .describe('request checksums: "when-required" for servers that reject the SDK\'s default CRC32'),
  })
  .strict();

/** How the file gateway cuts files into records, which files it takes and where it keeps its progress. */
export const filesGatewayConfigSchema = z
  .object({
    productId: z
      .string()
      .min(1)
      .optional()
      .describe("the product of every file's records (the decode stage picks the spec by it)"),
    framing: framingSchema
      .prefault({ kind: 'lines' })
      .describe(
        'how a file is cut: lines for CSV and text logs, length-prefix, fixed or delimiter for binary dumps',
      ),
    header: z
      .enum(['none', 'repeat'])
      .default('none')
      .describe(
        "repeat: the first line is a CSV header, put before every record's lines so the spec decodes each record alone (lines framing only)",
      ),
    linesPerRecord: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(1)
      .describe('with header: repeat, the data lines in one record'),
    include: z
      .string()
      .min(1)
      .optional()
      .describe(
        'which files to take: a glob on the path under the source (*.csv, logs/**/*.bin; without a / it matches the file name) or a suffix (.csv); all when absent',
      ),
    progress: z
      .string()
      .min(1)
      .optional()
      .describe(
        'where progress is kept: a directory for a directory source (default <DIR>/.shardflow-progress), s3://bucket/prefix/ for an S3 source (default <prefix>/.shardflow-progress/)',
      ),
    concurrency: z.number().int().min(1).max(64).default(2).describe('files ingested at once'),
    progressIntervalMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(1_000)
      .describe('shortest time between two progress writes of a file (it is also written at its end)'),
    s3: s3Schema.prefault({}).describe('the S3 client of an s3:// source'),
  })
  .strict()
  .refine((c) => c.header === 'none' || c.framing.kind === 'lines', {
    message: 'header: repeat needs framing kind lines',
    path: ['header'],
  });

export type FilesGatewayConfig = z.output<typeof filesGatewayConfigSchema>;
export type FilesGatewayConfigInput = z.input<typeof filesGatewayConfigSchema>;
