/**
 * Real `shardflow run` worker processes sharing one configuration, for the tests that lose workers:
 * start N of them (each its own OS process with its own lease-owner id), `kill -9` one, start a
 * replacement, watch the shards' checkpoints in the lease table move to the stream's end, and stop the
 * survivors gracefully (SIGTERM: drain, checkpoint, give the leases back).
 *
 * The configuration is the worker's own (`WorkerConfigInput`), written once to a file every process
 * reads; only the lease owner id (and an ephemeral admin port) differ between processes, set through
 * the `SHARDFLOW_*` overrides a deployment would use.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkerConfigInput } from '../../cli/config.ts';
import type { Lease } from '../../sources/kinesis/leases/lease.ts';
import { LeaseRefresher } from '../../sources/kinesis/leases/leaseRefresher.ts';
import type { Position } from '../../topology/index.ts';
import { type CliResult, type RunningCli, startCli } from './cli.ts';
import { testDynamoClient, uniqueTable } from './dynamodb.ts';
import { testEnv, waitFor } from './wait.ts';

/** One JSON log line of a worker (pino). */
export interface WorkerLogLine {
  readonly msg: string;
  readonly level?: number;
  readonly [key: string]: unknown;
}

/** One running (or exited) worker process. */
export interface WorkerProcess {
  readonly id: string;
  readonly pid: number;
  readonly cli: RunningCli;
  /** Its JSON log lines so far. */
  logs(): WorkerLogLine[];
  /** Resolves once it logged `worker started` (services checked, topology running). */
  started(timeoutMs?: number): Promise<void>;
  /** Its Prometheus text from `/metrics`. */
  metrics(): Promise<string>;
  /** `kill -9`: no drain, no checkpoint, leases left to expire. Resolves when it is gone. */
  kill(): Promise<CliResult>;
  /** SIGTERM: drains, checkpoints, gives its leases back. Resolves with how it exited. */
  stop(): Promise<CliResult>;
}

/** Workers started from one configuration. */
export interface WorkerFleet {
  readonly configFile: string;
  /** Every process started so far, killed ones included. */
  readonly workers: readonly WorkerProcess[];
  /** Starts one more worker process with lease owner `id`. */
  start(id: string): WorkerProcess;
  /** Every lease of the configuration's lease table (empty until the first worker created it). */
  leases(): Promise<Lease[]>;
  /** Each shard's checkpointed position (shards checkpointed at a sentinel are left out). */
  checkpoints(): Promise<Map<string, Position>>;
  /** Waits until every shard in `ends` is checkpointed at or beyond the given position. */
  waitForCheckpoints(ends: ReadonlyMap<string, Position>, timeoutMs: number): Promise<void>;
  /** Stops the workers still running (SIGTERM), then releases the lease table client. */
  close(): Promise<void>;
}

const parseLogs = (stderr: string): WorkerLogLine[] =>
  stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as WorkerLogLine];
      } catch {
        return []; // a line cut by kill -9
      }
    });

/** Orders positions as Kinesis does (decimal sequence numbers, then sub-sequence). */
export function comparePositions(a: Position, b: Position): number {
  if (a.sequenceNumber.length !== b.sequenceNumber.length)
    return a.sequenceNumber.length - b.sequenceNumber.length;
  if (a.sequenceNumber !== b.sequenceNumber) return a.sequenceNumber < b.sequenceNumber ? -1 : 1;
  return a.subSequenceNumber - b.subSequenceNumber;
}

function workerProcess(id: string, configFile: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  const cli = startCli(
    ['run', '--config', configFile],
    {
      ...env,
      SHARDFLOW_SOURCE__LEASES__WORKER_ID: id,
      SHARDFLOW_ADMIN__PORT: '0',
      SHARDFLOW_ADMIN__ENABLED: 'true',
    },
    timeoutMs,
  );
  const logs = () => parseLogs(cli.stderr());
  const failedEarly = () => {
    if (cli.child.exitCode !== null || cli.child.signalCode !== null)
      throw new Error(`worker ${id} exited (${cli.child.exitCode ?? cli.child.signalCode}): ${cli.stderr()}`);
  };
  const adminUrl = async () => {
    let url: string | undefined;
    await waitFor(`worker ${id}'s admin server`, () => {
      failedEarly();
      url = logs().find((l) => l.msg === 'admin server listening')?.url as string | undefined;
      return url !== undefined;
    });
    return url!;
  };
  const handle: WorkerProcess = {
    id,
    pid: cli.child.pid!,
    cli,
    logs,
    started: (ms = 60_000) =>
      waitFor(
        `worker ${id} to start`,
        () => {
          failedEarly();
          return logs().some((l) => l.msg === 'worker started');
        },
        ms,
      ),
    metrics: async () => (await fetch(`${await adminUrl()}metrics`)).text(),
    kill: () => {
      cli.child.kill('SIGKILL');
      return cli.exited;
    },
    stop: () => {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGTERM');
      return cli.exited;
    },
  };
  return handle;
}

/**
 * Writes `config` to a file and returns a fleet of workers over it. The configuration needs
 * `source.leases` (the processes share the shards through the lease table); `env` is added to every
 * process's environment; a process still running after `timeoutMs` is killed.
 */
export function workerFleet(
  config: WorkerConfigInput,
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {},
): WorkerFleet {
  const table = config.source.leases?.tableName;
  if (table === undefined) throw new Error('workerFleet: the configuration needs source.leases');
  const configFile = join(mkdtempSync(join(tmpdir(), 'shardflow-workers-')), 'shardflow.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2)); // JSON is YAML
  const dynamo = testDynamoClient();
  const refresher = new LeaseRefresher(dynamo, table);
  const workers: WorkerProcess[] = [];
  const leases = () => refresher.listLeases().catch(() => [] as Lease[]);
  const checkpoints = async () => {
    const out = new Map<string, Position>();
    for (const lease of await leases())
      if ('position' in lease.checkpoint) out.set(lease.leaseKey, lease.checkpoint.position);
    return out;
  };
  return {
    configFile,
    workers,
    start(id) {
      const w = workerProcess(id, configFile, options.env ?? {}, options.timeoutMs ?? 15 * 60_000);
      workers.push(w);
      return w;
    },
    leases,
    checkpoints,
    async waitForCheckpoints(ends, timeoutMs) {
      await waitFor(
        `checkpoints at ${[...ends].map(([s, p]) => `${s}@${p.sequenceNumber}`).join(', ')}`,
        async () => {
          await new Promise((r) => setTimeout(r, 500)); // a scan of the lease table per poll
          const at = await checkpoints();
          return [...ends].every(([shard, end]) => {
            const p = at.get(shard);
            return p !== undefined && comparePositions(p, end) >= 0;
          });
        },
        timeoutMs,
      );
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      dynamo.destroy();
    },
  };
}

/**
 * The configuration of the workers of one run of the example rulesets (`specs/examples/rules/`) over a
 * leased stream: their own lease table, state namespace and database, rule state in Redis.
 */
export function rulesWorkerConfig(label: string, stream: string, warmUrl: string): WorkerConfigInput {
  return {
    topology: { name: `${label}-${randomUUID().slice(0, 8)}` },
    source: {
      kinesis: {
        streamName: stream,
        endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
        region: 'us-east-1',
        maxRecords: 200,
        idleTimeBetweenReadsMs: 50,
        maxIdleTimeMs: 200,
      },
      leases: {
        tableName: uniqueTable(label),
        endpoint: testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT'),
        failoverTimeMs: 3000,
        renewIntervalMs: 500,
        takeIntervalMs: 500,
      },
    },
    decode: { specDir: 'specs/examples' },
    rules: { dir: 'specs/examples/rules' },
    state: { backend: 'redis', redisUrl: testEnv('SHARDFLOW_TEST_REDIS_URL') },
    warm: { writeUrl: warmUrl },
    runtime: { checkpointIntervalMs: 2000 },
    log: { level: 'info' },
  };
}
