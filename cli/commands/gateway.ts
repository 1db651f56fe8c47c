/**
 * `shardflow gateway tcp|rest|mqtt-bridge|files`: the ingest gateways, each a process of its own
 * (`gateways/`). The first three run until SIGINT or SIGTERM, then stop taking messages, let what
 * they took become durable and acknowledge it; `files` runs once over a directory or an S3 prefix.
 */
import type { Command } from 'commander';
import { filesExitCode, progressRenderer, runFilesGateway } from '../../gateways/files/index.ts';
import { startMqttBridge } from '../../gateways/mqtt/index.ts';
import { startRestGateway } from '../../gateways/rest/gateway.ts';
import { startTcpGateway } from '../../gateways/tcp/index.ts';
import { type Logger, systemClock } from '../../topology/index.ts';
import { ConfigError } from '../config.ts';
import { EXIT } from '../exitCodes.ts';
import { type GatewayConfig, loadGatewayConfig } from '../gatewayConfig.ts';
import {
  type GatewayStream,
  openGatewayStream,
  type RunnableGateway,
  serveGatewayAdmin,
} from '../gatewayProcess.ts';
import { createLogger } from '../log.ts';
import { fail, onSignal } from './options.ts';

/** How long a stopping gateway waits for what it took to be put. */
const DRAIN_MS = 30_000;

type Section = 'tcp' | 'rest' | 'mqtt';

/** The gateway's section of the configuration, or a configuration error naming it. */
function section<S extends Section>(
  config: GatewayConfig,
  name: S,
  file: string,
): NonNullable<GatewayConfig[S]> {
  const value = config[name];
  if (value === undefined) throw new ConfigError([`${name}: is required by this gateway`], file);
  return value as NonNullable<GatewayConfig[S]>;
}

type Starter = (
  config: GatewayConfig,
  stream: GatewayStream,
  log: Logger,
  file: string,
) => Promise<RunnableGateway>;

const LONG_RUNNING: Record<string, { section: Section; start: Starter; description: string }> = {
  tcp: {
    section: 'tcp',
    description:
      'the TCP gateway: listeners per product, framed device messages acknowledged once in the stream',
    start: (config, stream, log, file) =>
      startTcpGateway({
        config: section(config, 'tcp', file),
        ingest: stream.ingest,
        clock: systemClock,
        log,
        ...(stream.keyFinder !== undefined ? { keyFinder: stream.keyFinder } : {}),
      }),
  },
  rest: {
    section: 'rest',
    description:
      'the REST gateway: POST /v1/devices/{id}/telemetry and /v1/telemetry:batch, 202 once in the stream',
    start: (config, stream, log, file) =>
      startRestGateway({
        config: section(config, 'rest', file),
        ingest: stream.ingest,
        clock: systemClock,
        log,
      }),
  },
  'mqtt-bridge': {
    section: 'mqtt',
    description:
      'the MQTT bridge: a persistent QoS 1 subscription, each PUBACK once the message is in the stream',
    start: async (config, stream, log, file) =>
      startMqttBridge({
        config: section(config, 'mqtt', file),
        ingest: stream.ingest,
        clock: systemClock,
        log,
      }),
  },
};

/** Runs one long-running gateway until a signal. */
async function runGateway(kind: string, opts: { config: string; pretty?: boolean }): Promise<void> {
  const entry = LONG_RUNNING[kind]!;
  const config = loadGatewayConfig(opts.config);
  section(config, entry.section, opts.config);
  const log = createLogger({ ...config.log, pretty: opts.pretty ?? config.log.pretty });
  const stream = await openGatewayStream(config, log);
  const gateway = await entry.start(config, stream, log, opts.config);
  const admin = await serveGatewayAdmin(config, kind, gateway, stream.ingest);
  log.info(
    { gateway: kind, stream: config.stream.streamName, admin: admin?.url, ...gateway.stats() },
    'gateway started',
  );
  const { signal } = onSignal();
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  log.info({ gateway: kind }, 'stopping: acknowledging what was taken');
  await gateway.close();
  await stream.close(DRAIN_MS);
  await admin?.close();
  log.info({ gateway: kind, ...stream.ingest.stats().durableLatency }, 'gateway stopped');
}

/**
 * Runs the file gateway once over `from`: a bar on stderr when it is a terminal, JSON lines of each
 * file's events otherwise; the summary as JSON on stdout; exit 0 when every file is in the stream.
 */
async function runFiles(opts: { config: string; from: string; pretty?: boolean }): Promise<void> {
  const config = loadGatewayConfig(opts.config);
  const files = config.files;
  if (files === undefined) throw new ConfigError(['files: is required by this gateway'], opts.config);
  const log = createLogger({ ...config.log, pretty: opts.pretty ?? config.log.pretty });
  const stream = await openGatewayStream(config, log);
  const { signal } = onSignal();
  const progress = progressRenderer();
  const summary = await runFilesGateway({
    config: files,
    from: opts.from,
    ingest: stream.ingest,
    clock: systemClock,
    log,
    signal,
    ...(stream.keyFinder !== undefined ? { keyFinder: stream.keyFinder } : {}),
    onProgress: progress.onProgress,
  });
  progress.finish();
  await stream.close(DRAIN_MS);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  // a failed file, or a run stopped before the end (run it again: it resumes), exits 1
  if (filesExitCode(summary) !== 0) process.exit(EXIT.failed);
}

/** Registers `gateway`. */
export function registerGatewayCommand(program: Command): void {
  const gateway = program
    .command('gateway')
    .description('ingest gateways: device messages onto the telemetry stream, acknowledged once durable');
  for (const [kind, entry] of Object.entries(LONG_RUNNING))
    gateway
      .command(kind)
      .description(entry.description)
      .requiredOption(
        '-c, --config <file>',
        'gateway configuration (YAML); SHARDFLOW_<SECTION>__<KEY> overrides',
      )
      .option('--pretty', 'human-readable logs instead of JSON lines')
      .action(async (opts: { config: string; pretty?: boolean }) => {
        try {
          await runGateway(kind, opts);
        } catch (error) {
          fail(error);
        }
      });
  gateway
    .command('files')
    .description('puts the records of the files under a directory or an S3 prefix on the stream, resumably')
    .requiredOption('-c, --config <file>', 'gateway configuration (YAML) with a files section')
    .requiredOption('--from <uri>', 's3://bucket/prefix or a directory')
    .option('--pretty', 'human-readable logs instead of JSON lines')
    .action(async (opts: { config: string; from: string; pretty?: boolean }) => {
      try {
        await runFiles(opts);
      } catch (error) {
        fail(error);
      }
    });
}
