/**
 * Wires a validated configuration into a running worker: checks that each service answers (and says
 * which one, at what address, when it does not), prepares the Warm schema, builds the telemetry
 * topology, runs it, and serves the admin port.
 */

import { fileURLToPath } from 'node:url';
import { type OutboxWriter, outboxWriter } from '../actions/outbox/outboxWriter.ts';
import { cdcDecode } from '../operators/cdc/cdcDecode.ts';
import { SpecRegistry } from '../operators/decode/registry.ts';
import { decodeBySpec } from '../operators/decodeBySpec.ts';
import { enrich } from '../operators/enrich.ts';
import { windowAggregate } from '../operators/windows/index.ts';
import { alarmEventSink } from '../sinks/alarms/alarmEventSink.ts';
import { coldSink } from '../sinks/cold/coldSink.ts';
import { threadedDataFiles } from '../sinks/cold/parquet/threadWriter.ts';
import { deadLetterStoreSink } from '../sinks/deadletter/deadLetterStore.ts';
import { FormulasInForce, formulaFeed, formulaSink } from '../sinks/formulas/index.ts';
import { hotAggregateSink } from '../sinks/hot/hotAggregateSink.ts';
import { hotTelemetrySink } from '../sinks/hot/hotTelemetrySink.ts';
import type { PgChannelFeed } from '../sinks/postgres/channelFeed.ts';
import { migrateWarm } from '../sinks/postgres/migrate.ts';
import type { WarmStore } from '../sinks/postgres/store.ts';
import { warmDailyAggregateSink } from '../sinks/warm/dailyAggregateSink.ts';
import { masterDataApplySink } from '../sinks/warm/masterdata/applier.ts';
import { pgDeviceDirectory } from '../sinks/warm/masterdata/deviceDirectory.ts';
import { type DeviceProducts, pgDeviceProducts } from '../sinks/warm/masterdata/deviceProducts.ts';
import { type PgInvalidationFeed, pgInvalidationFeed } from '../sinks/warm/masterdata/invalidationFeed.ts';
import { pgSiteZones, type SiteZones } from '../sinks/warm/masterdata/siteZones.ts';
import { rulesetFeed } from '../sinks/warm/rulesets.ts';
import { kinesisAllShardsSource } from '../sources/kinesis/allShardsSource.ts';
import { kclSource } from '../sources/kinesis/kclSource.ts';
import {
  type Clock,
  errorMessage,
  type Logger,
  type RawRecord,
  type Source,
  systemClock,
  type TopologyDescription,
  TopologyRuntime,
} from '../topology/index.ts';
import { type ActionsStage, openActionsStage } from './actionsStage.ts';
import { type AdminServer, startAdminServer } from './admin.ts';
import { resolveAdminToken } from './adminAuth.ts';
import { ConfigError, type WorkerConfig } from './config.ts';
import { RulesetCatalog } from './rulesetCatalog.ts';
import { rulesStage, specsByProduct } from './rulesStage.ts';
import { checkKinesis, checkPostgres, checkRedis, prepareHot } from './serviceChecks.ts';
import { workerKeyedStateStore } from './stateConfig.ts';
import { openWorkerStores, type WorkerStores } from './stores.ts';
import { buildTelemetryTopology, type TelemetryTopology } from './telemetryTopology.ts';

/** A running worker. */
export interface Worker {
  readonly runtime: TopologyRuntime;
  readonly telemetry: TelemetryTopology;
  readonly description: TopologyDescription;
  readonly warm: WarmStore;
  readonly stores: WorkerStores;
  readonly admin: AdminServer | undefined;
  /** The policies, outbox writer and deliverer, with an `actions:` section. */
  readonly actions: ActionsStage | undefined;
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

/** What a topology is built from besides its configuration. */
interface TopologyResources {
  readonly stores: WorkerStores;
  /** The master-data invalidations (PostgreSQL LISTEN); none for an embedded Warm store. */
  readonly invalidations?: PgInvalidationFeed;
  /** Device → product, for specs matched through the device registry. */
  readonly deviceProducts?: DeviceProducts;
  /** The rulesets stored in the Warm store, for a `rules:` section without `dir`. */
  readonly rulesets?: RulesetCatalog;
  /** The sites' time zones, for a `rules:` section. */
  readonly siteZones?: SiteZones;
  /** The formulas stored in the Warm store, when `formulas.enabled`. */
  readonly formulas?: FormulasInForce;
  /** The outbox rows of alarm events, when an `actions:` section is given. */
  readonly outbox?: OutboxWriter;
}

function kinesisSource(
  kinesis: WorkerConfig['source']['kinesis'],
  leases: WorkerConfig['source']['leases'],
  deps: { clock: Clock; log: Logger },
): Source<RawRecord> {
  return leases ? kclSource(kinesis, leases, deps) : kinesisAllShardsSource(kinesis, deps);
}

/** Builds the topology described by a configuration without connecting to anything. */
function telemetryTopologyFor(
  config: WorkerConfig,
  deps: WorkerDeps,
  { stores, invalidations, deviceProducts, rulesets, siteZones, formulas, outbox }: TopologyResources,
): TelemetryTopology {
  const clock = deps.clock ?? systemClock;
  const { warm, hot, cold } = stores;
  const name = config.topology.name;
  const cdc = config.source.cdc;
  return buildTelemetryTopology(name, {
    source: kinesisSource(config.source.kinesis, config.source.leases, { clock, log: deps.log }),
    decode: decodeBySpec(deps.specs ?? loadSpecs(config, deps.log), {
      reloadIntervalMs: config.decode.reloadIntervalMs,
      devices: deviceProducts,
      admission: config.decode.admission,
    }),
    enrich: enrich(config.enrich, pgDeviceDirectory(warm.read), invalidations),
    windows: windowAggregate(config.windows),
    hotTelemetry: hotTelemetrySink(hot),
    hotAggregates: hotAggregateSink(hot),
    dailyAggregates: warmDailyAggregateSink(warm.write),
    formulas: config.formulas.enabled
      ? formulaSink({
          warm: warm.write,
          hot,
          formulas: formulas ?? new FormulasInForce(warm.write, deps.log),
        })
      : undefined,
    cold:
      cold && config.cold
        ? coldSink(config.cold.sink, {
            catalog: cold.catalog,
            files: cold.files,
            ...threadedDataFiles(),
            log: deps.log,
          })
        : undefined,
    deadLetters: () => deadLetterStoreSink(stores.deadLetters),
    cdc: cdc && {
      source: kinesisSource(cdc.kinesis, cdc.leases, { clock, log: deps.log }),
      decode: cdcDecode(cdc.decode),
      apply: masterDataApplySink(warm.write),
    },
    rules: config.rules && {
      operator: rulesStage(config.rules, config.decode.specDir ?? BUNDLED_SPECS, {
        log: deps.log,
        catalog: rulesets,
        siteZone: siteZones?.zoneOf,
        windowZone: config.windows.zone,
      }),
      alarms: alarmEventSink(warm.write, hot, outbox),
    },
  });
}

/** The topology of a configuration, built with stores that are never connected (`describe`). */
export async function describeTopologyFor(
  config: WorkerConfig,
  deps: WorkerDeps,
): Promise<TopologyDescription> {
  const stores = await openWorkerStores(config, deps.clock ?? systemClock);
  try {
    // the outbox writer is part of the alarm sink's transaction: shown, never run, here
    const outbox = config.actions
      ? outboxWriter({ policyFor: () => undefined, maxEventAgeMs: config.actions.maxEventAgeMs })
      : undefined;
    return telemetryTopologyFor(config, deps, { stores, outbox }).topology.describe();
  } finally {
    await stores.close();
  }
}

/** Checks the services, prepares the schema and starts processing. */
export async function startWorker(config: WorkerConfig, deps: WorkerDeps): Promise<Worker> {
  const { log } = deps;
  const clock = deps.clock ?? systemClock;
  // before anything opens: a missing token stops the start instead of leaving the port open
  const adminToken = config.admin.enabled ? resolveAdminToken(config.admin, process.env) : undefined;
  const stores = await openWorkerStores(config, clock, deps.warm);
  const { warm } = stores;
  let invalidations: PgInvalidationFeed | undefined;
  let rulesets: RulesetCatalog | undefined;
  let rulesetChanges: PgChannelFeed | undefined;
  let formulas: FormulasInForce | undefined;
  let formulaChanges: PgChannelFeed | undefined;
  let actions: ActionsStage | undefined;
  const deviceProducts = pgDeviceProducts(warm.read, clock, log);
  const siteZones = config.rules ? pgSiteZones(warm.read, clock, log) : undefined;
  const background = new AbortController();
  try {
    await checkPostgres(warm, config);
    await checkRedis(config, log, clock);
    await checkKinesis(config);
    await migrateWarm(warm.write);
    await prepareHot(stores, config);
    await deviceProducts.refresh();
    await siteZones?.refresh();
    // Embedded PGlite has no server to LISTEN on; its cache entries expire by TTL instead.
    if (warm.writeEndpoint) invalidations = pgInvalidationFeed(warm.writeEndpoint, { clock, log });
    if (config.rules && config.rules.dir === undefined) {
      const specDir = config.rules.specDir ?? config.decode.specDir ?? BUNDLED_SPECS;
      rulesets = new RulesetCatalog(warm.write, specsByProduct(specDir), log);
      // listening before the first read: no change falls between the two
      if (warm.writeEndpoint) {
        rulesetChanges = rulesetFeed(warm.writeEndpoint, { clock, log });
        rulesets.follow(rulesetChanges);
        // (a feed that cannot connect yet keeps trying: reloads then follow its first listening)
        await Promise.race([rulesetChanges.ready(), clock.sleep(5_000)]);
      }
      await rulesets.loadAll();
    }
    if (config.formulas.enabled) {
      formulas = new FormulasInForce(warm.write, log);
      // listening before the first read, as for rulesets; an embedded store has no NOTIFY and keeps
      // the formulas it read at the start
      if (warm.writeEndpoint) {
        formulaChanges = formulaFeed(warm.writeEndpoint, { clock, log });
        formulas.follow(formulaChanges);
        await Promise.race([formulaChanges.ready(), clock.sleep(5_000)]);
      }
      await formulas.loadAll();
    }
    if (config.actions)
      actions = await openActionsStage(config.actions, {
        warm: warm.write,
        ...(warm.writeEndpoint ? { writeEndpoint: warm.writeEndpoint } : {}),
        ...(config.rules?.dir === undefined ? {} : { rulesDir: config.rules.dir }),
        clock,
        log,
      });
  } catch (error) {
    await actions?.close().catch(() => {});
    await formulaChanges?.close().catch(() => {});
    await rulesetChanges?.close().catch(() => {});
    await stores.close().catch(() => {});
    throw error;
  }

  const telemetry = telemetryTopologyFor(config, deps, {
    stores,
    invalidations,
    deviceProducts,
    rulesets,
    siteZones,
    formulas,
    outbox: actions?.writer,
  });
  void deviceProducts.watch(config.decode.registryRefreshMs, background.signal);
  if (config.rules) void siteZones?.watch(config.rules.siteZonesRefreshMs, background.signal);
  const runtime = new TopologyRuntime(telemetry.topology, {
    ...config.runtime,
    clock: deps.clock,
    log,
    // operators' keyed state: opened only when an operator of the topology declares some
    stateStore: workerKeyedStateStore(config.state, { topologyName: config.topology.name, log, clock }),
  });
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
        {
          description,
          metrics: () => {
            const snapshot = runtime.metrics();
            const outbox = (actions?.deliverer?.gauges() ?? []).map((g) => ({ source: 'outbox', ...g }));
            return outbox.length === 0 ? snapshot : { ...snapshot, gauges: [...snapshot.gauges, ...outbox] };
          },
          ready: () => running,
        },
        config.admin.host,
        config.admin.port,
        { token: adminToken },
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
        await actions?.close();
        background.abort();
        await invalidations?.close();
        await rulesetChanges?.close();
        await formulaChanges?.close();
        await stores.close();
      }
    })();
    return stopping;
  };
  return { runtime, telemetry, description, warm, stores, admin, actions, done, stop };
}
