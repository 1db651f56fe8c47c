/**
 * What every gateway process shares: the stream checked at start (exit 3 when it cannot be
 * reached), the durable ingest onto it, the partition keys read with the product specs, the admin
 * port (`/healthz`; `/readyz` while the gateway takes messages and the stream answers; `/metrics`),
 * and the ending: on SIGINT or SIGTERM the gateway stops taking messages, what it took becomes
 * durable and is acknowledged, then the process exits.
 */
import { DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { ingestLimitsOf } from '../gateways/ingest/config.ts';
import { type DurableIngest, durableIngest } from '../gateways/ingest/durableIngest.ts';
import type { PayloadKeyFinder } from '../gateways/ingest/envelope.ts';
import { createKinesisClient } from '../sources/kinesis/client.ts';
import { type Logger, systemClock } from '../topology/index.ts';
import { type AdminServer, startPlainAdminServer } from './admin.ts';
import { resolveAdminToken } from './adminAuth.ts';
import { ServiceUnavailableError } from './exitCodes.ts';
import type { GatewayConfig } from './gatewayConfig.ts';
import { specKeyFinder } from './gatewayKeys.ts';

/** A gateway as the process runs it. */
export interface RunnableGateway {
  ready(): boolean;
  stats(): Readonly<Record<string, number>>;
  close(): Promise<void>;
}

/** The stream side of a gateway process. */
export interface GatewayStream {
  readonly client: KinesisClient;
  readonly ingest: DurableIngest;
  readonly keyFinder: PayloadKeyFinder | undefined;
  /** Waits (at most `drainMs`) for what the ingest holds to be put, then releases the client. */
  close(drainMs: number): Promise<void>;
}

/** Checks the stream, then opens the durable ingest onto it. */
export async function openGatewayStream(config: GatewayConfig, log: Logger): Promise<GatewayStream> {
  const { streamName, region, endpoint } = config.stream;
  const client = createKinesisClient({
    region,
    ...(endpoint !== undefined ? { endpoint } : {}),
    // the ingest retries failed requests itself, per key, in order
    maxAttempts: 1,
    requestTimeoutMs: config.producer.requestTimeoutMs,
  });
  try {
    await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
  } catch (error) {
    client.destroy();
    const address = endpoint ?? `the AWS Kinesis endpoint of ${region}`;
    const detail =
      (error as { name?: string }).name === 'ResourceNotFoundException'
        ? `stream "${streamName}" does not exist`
        : error;
    throw new ServiceUnavailableError('Kinesis', 'stream.streamName', address, detail);
  }
  const keyFinder = config.specs === undefined ? undefined : specKeyFinder(config.specs.dir, log);
  const ingest = durableIngest({
    client,
    streamName,
    clock: systemClock,
    log,
    limits: ingestLimitsOf(config.producer),
  });
  return {
    client,
    ingest,
    keyFinder,
    close: async (drainMs) => {
      await ingest.close(drainMs);
      client.destroy();
    },
  };
}

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Prometheus text of a gateway's counters and its ingest's figures. */
export function gatewayPrometheus(kind: string, gateway: RunnableGateway, ingest: DurableIngest): string {
  const label = `{gateway="${kind}"}`;
  const lines: string[] = [];
  for (const [name, value] of Object.entries(gateway.stats()))
    lines.push(`shardflow_gateway_${snake(name)}${label} ${value}`);
  const s = ingest.stats();
  const figures: [string, number][] = [
    ['buffered_records', s.bufferedRecords],
    ['buffered_bytes', s.bufferedBytes],
    ['in_flight_requests', s.inFlightRequests],
    ['records_put_total', s.recordsPut],
    ['requests_total', s.requests],
    ['entries_failed_total', s.entriesFailed],
    ['requests_failed_total', s.requestsFailed],
    ['refused_total', s.refused],
    ['stream_reachable', ingest.reachable ? 1 : 0],
  ];
  for (const [name, value] of figures) lines.push(`shardflow_gateway_ingest_${name}${label} ${value}`);
  lines.push(
    `shardflow_gateway_ingest_durable_latency_ms{gateway="${kind}",quantile="0.5"} ${s.durableLatency.p50.toFixed(1)}`,
    `shardflow_gateway_ingest_durable_latency_ms{gateway="${kind}",quantile="0.99"} ${s.durableLatency.p99.toFixed(1)}`,
  );
  return `${lines.join('\n')}\n`;
}

/** Serves the admin port of a running gateway (when `admin.enabled`). */
export async function serveGatewayAdmin(
  config: GatewayConfig,
  kind: string,
  gateway: RunnableGateway,
  ingest: DurableIngest,
): Promise<AdminServer | undefined> {
  if (!config.admin.enabled) return undefined;
  const token = resolveAdminToken(config.admin, process.env);
  return startPlainAdminServer(
    {
      prometheus: () => gatewayPrometheus(kind, gateway, ingest),
      json: () => ({
        gateway: kind,
        counters: gateway.stats(),
        ingest: ingest.stats(),
        reachable: ingest.reachable,
      }),
      ready: () => gateway.ready() && ingest.reachable,
    },
    config.admin.host,
    config.admin.port,
    { token },
  );
}
