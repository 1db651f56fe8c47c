/** The file gateway: what the CLI wires (`shardflow gateway files`). */
export { type FilesGatewayConfig, type FilesGatewayConfigInput, filesGatewayConfigSchema } from './config.ts';
export type { FileProgress, FileSource, SourceFile } from './fileSource.ts';
export {
  type FilesProgress,
  type FilesSummary,
  filePartitionKey,
  filesExitCode,
  openFileSource,
  type RunFilesGatewayOptions,
  runFilesGateway,
} from './filesGateway.ts';
export { type ProgressOutput, progressLine, progressRenderer } from './progressBar.ts';
export { createS3Client } from './s3Source.ts';
