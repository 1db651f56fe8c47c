/**
 * The demo's configuration: the same schema as `shardflow run`, pointed at an embedded Kinesis
 * (kinesalite) and an embedded Warm store (PGlite) unless a PostgreSQL URL is given.
 */
import { parseWorkerConfig, type WorkerConfig } from './config.ts';

/** Name of the stream the demo creates. */
export const DEMO_STREAM = 'shardflow-demo';
/** Shards of the demo stream. */
export const DEMO_SHARDS = 4;

/** Options of the demo that shape its configuration. */
export interface DemoConfigOptions {
  readonly kinesisEndpoint?: string;
  readonly postgresUrl?: string;
  readonly adminPort?: number;
  readonly pretty?: boolean;
}

/** The demo worker's configuration (also what `topology describe` shows without `--config`). */
export function demoConfig(options: DemoConfigOptions = {}): WorkerConfig {
  return parseWorkerConfig(
    {
      topology: { name: 'telemetry' },
      source: {
        kinesis: {
          streamName: DEMO_STREAM,
          endpoint: options.kinesisEndpoint ?? 'http://127.0.0.1:4567',
          idleTimeBetweenReadsMs: 50,
          maxIdleTimeMs: 250,
        },
      },
      warm: { writeUrl: options.postgresUrl ?? 'embedded' },
      // the dashboard (Hot store) sees running window values every second (a demo fleet is small)
      windows: { flushIntervalMs: 1000, customerFlushIntervalMs: 1000, deviceFlushIntervalMs: 1000 },
      runtime: { checkpointIntervalMs: 1000 },
      log: { level: 'info', pretty: options.pretty ?? Boolean(process.stderr.isTTY) },
      admin: { port: options.adminPort ?? 0, enabled: options.adminPort !== undefined },
    },
    {},
    'demo',
  );
}
