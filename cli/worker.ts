/**
 * Wires a validated configuration into a running worker: checks that each service answers (and says
 * which one, at what address, when it does not), prepares the Warm schema, builds the telemetry
 * topology, runs it, and serves the admin port.
 */

import { fileURLToPath } from 'node:url';
import { DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { SpecRegistry } from '../operators/decode/registry.ts';
import { decodeBySpec } from '../operators/decodeBySpec.ts';
import { deadLetterSink } from '../sinks/warm/deadLetterSink.ts';
import { hourlyCountSink } from '../sinks/warm/hourlyCountSink.ts';
import { migrateWarm } from '../sinks/warm/migrate.ts';
import { describeEndpoint, openWarmStore, type WarmStore } from '../sinks/warm/store.ts';
import { kinesisAllShardsSource } from '../sources/kinesis/allShardsSource.ts';
import { createKinesisClient } from '../sources/kinesis/client.ts';
import { kclSource } from '../sources/kinesis/kclSource.ts';
import {
  type Clock,
  errorMessage,
  type Logger,
  systemClock,
  type TopologyDescription,
  TopologyRuntime,
} from '../topology/index.ts';
import { type AdminServer, startAdminServer } from './admin.ts';
import { ConfigError, type WorkerConfig } from './config.ts';
import { buildTelemetryTopology, type TelemetryTopology } from './telemetryTopology.ts';

/** A service the worker needs did not answer. */
export class ServiceUnavailableError extends Error {
  override readonly name = 'ServiceUnavailableError';
  constructor(service: string, key: string, address: string, cause: unknown) {
    super(`cannot reach ${service} (${key}) at ${address}: ${errorMessage(cause)}`, { cause });
  }
}

/** A running worker. */
export interface Worker {
  readonly runtime: TopologyRuntime;
  readonly telemetry: TelemetryTopology;
  readonly description: TopologyDescription;
  readonly warm: WarmStore;
  readonly admin: AdminServer | undefined;
  /** Settles when the runtime has stopped (rejects with the error that stopped it). */
  readonly done: Promise<void>;
  /** Drains, checkpoints and closes everything. */
  stop(): Promise<void>;
}

/** What the worker is given besides its configuration. */
export interface WorkerDeps {
  readonly log: Logger;
  /** Already-loaded specs; loaded from `decode.specDir` when absent. */
  readonly specs?: SpecRegistry;
  readonly clock?: Clock;
  /** An already-open Warm store (the demo's embedded one); opened from the config when absent. */
  readonly warm?: WarmStore;
}

async function checkKinesis(config: WorkerConfig): Promise<void> {
  const { streamName, region, endpoint } = config.source.kinesis;
  const probe: KinesisClient = createKinesisClient({ region, endpoint, maxAttempts: 1 });
  const address = endpoint ?? `the AWS Kinesis endpoint of ${region}`;
  try {
    await probe.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw new ServiceUnavailableError(
        'Kinesis stream',
        'source.kinesis.streamName',
        address,
        `stream "${streamName}" does not exist`,
      );
    }
    throw new ServiceUnavailableError('Kinesis', 'source.kinesis.endpoint', address, error);
  } finally {
    probe.destroy();
  }
}

async function checkPostgres(warm: WarmStore, config: WorkerConfig): Promise<void> {
  const endpoints: Array<[string, string, typeof warm.write]> = [
    ['warm.writeUrl', config.warm.writeUrl, warm.write],
  ];
  if (config.warm.readUrl !== undefined) endpoints.push(['warm.readUrl', config.warm.readUrl, warm.read]);
  for (const [key, url, client] of endpoints) {
    try {
      await client.query('SELECT 1');
    } catch (error) {
      throw new ServiceUnavailableError('PostgreSQL', key, describeEndpoint(url), error);
    }
  }
}

/** The specs shipped with shardflow (the demo fleet and one example of each format). */
export const BUNDLED_SPECS = fileURLToPath(new URL('../specs/examples', import.meta.url));

/** Loads the decode stage's specs; a directory with no valid spec is a configuration error. */
export function loadSpecs(config: WorkerConfig, log: Logger): SpecRegistry {
  const dir = config.decode.specDir ?? BUNDLED_SPECS;
  const registry = new SpecRegistry(dir, log);
  let problems: ReturnType<SpecRegistry['load']>;
  try {
    problems = registry.load();
  } catch (error) {
    throw new ConfigError([`decode.specDir: cannot read ${dir}: ${errorMessage(error)}`], 'configuration');
  }
  if (registry.specs.length === 0) {
    const why = problems.map((p) => `${p.file}:${p.line} ${p.message}`).join('; ');
    throw new ConfigError(
      [`decode.specDir: no valid spec in ${dir}${why ? ` (${why})` : ''}`],
      'configuration',
    );
  }
  return registry;
}

/** Builds the topology described by a configuration without connecting to anything. */
export function telemetryTopologyFor(
  config: WorkerConfig,
  deps: WorkerDeps,
  warm: WarmStore,
): TelemetryTopology {
  const clock = deps.clock ?? systemClock;
  return buildTelemetryTopology(config.topology.name, {
    source: config.source.leases
      ? kclSource(config.source.kinesis, config.source.leases, { clock, log: deps.log })
      : kinesisAllShardsSource(config.source.kinesis, { clock, log: deps.log }),
    decode: decodeBySpec(deps.specs ?? loadSpecs(config, deps.log), {
      reloadIntervalMs: config.decode.reloadIntervalMs,
    }),
    hourlyCounts: hourlyCountSink(warm.write),
    deadLetters: () => deadLetterSink(warm.write),
  });
}

/** Checks the services, prepares the schema and starts processing. */
export async function startWorker(config: WorkerConfig, deps: WorkerDeps): Promise<Worker> {
  const { log } = deps;
  const warm = deps.warm ?? openWarmStore(config.warm);
  try {
    await checkPostgres(warm, config);
    await checkKinesis(config);
    await migrateWarm(warm.write);
  } catch (error) {
    await warm.close().catch(() => {});
    throw error;
  }

  const telemetry = telemetryTopologyFor(config, deps, warm);
  const runtime = new TopologyRuntime(telemetry.topology, { ...config.runtime, clock: deps.clock, log });
  runtime.events.subscribe((event) => {
    if (event.type === 'shard-opened' || event.type === 'shard-released') log.info(event, event.type);
  });
  const description = telemetry.topology.describe();
  let running = true;
  const done = runtime.run().finally(() => {
    running = false;
  });
  done.catch(() => {});
  const admin = config.admin.enabled
    ? await startAdminServer(
        { description, metrics: () => runtime.metrics(), ready: () => running },
        config.admin.host,
        config.admin.port,
      )
    : undefined;
  if (admin) log.info({ url: admin.url }, 'admin server listening');

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      try {
        await runtime.stop();
      } finally {
        await admin?.close();
        await warm.close();
      }
    })();
    return stopping;
  };
  return { runtime, telemetry, description, warm, admin, done, stop };
}
