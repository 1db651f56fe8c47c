/**
 * Builds the Kinesis client every shardflow component uses. Two local-stack facts shape it
 * (architecture page, section 8): kinesalite only speaks HTTP/1.1, so the Node HTTP handler is
 * forced, and it accepts any credentials, so a local endpoint needs none configured.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** Where the client connects. */
export interface KinesisClientOptions {
  readonly region: string;
  /** A Kinesis-compatible endpoint (kinesalite, LocalStack); AWS's regional endpoint when absent. */
  readonly endpoint?: string;
  /** Attempts per call the SDK itself makes on transient errors; SDK default (3) when absent. */
  readonly maxAttempts?: number;
  /** A request unanswered this long (ms) fails (a stalled endpoint); none when absent. */
  readonly requestTimeoutMs?: number;
}

/** Credentials kinesalite accepts; used only for an explicit endpoint with none in the environment. */
const LOCAL_CREDENTIALS = { accessKeyId: 'shardflow-local', secretAccessKey: 'shardflow-local' };

function environmentHasCredentials(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
}

/** A Kinesis client over HTTP/1.1, with dummy credentials for a local endpoint when none are set. */
export function createKinesisClient(options: KinesisClientOptions): KinesisClient {
  const local = options.endpoint !== undefined && !environmentHasCredentials(process.env);
  return new KinesisClient({
    region: options.region,
    requestHandler: new NodeHttpHandler(
      options.requestTimeoutMs !== undefined
        ? {
            requestTimeout: options.requestTimeoutMs,
            connectionTimeout: options.requestTimeoutMs,
            throwOnRequestTimeout: true,
          }
        : {},
    ),
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    ...(local ? { credentials: LOCAL_CREDENTIALS } : {}),
  });
}
