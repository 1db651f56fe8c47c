/**
 * `bench run`: the harness's command line. `shardflow bench …` runs this file in a process of its
 * own (the CLI does not import bench/), and it runs directly too:
 *
 *   npx tsx bench/harness/main.ts run --workload fleet-100k [--mode in-process] [--duration 30]
 *     [--repeat 3] [--sweep batch=500,2000,10000] [--out DIR] [--results]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import pino from 'pino';
import { SpecRegistry } from '../../operators/decode/registry.ts';
import { type Logger, silentLogger } from '../../topology/index.ts';
import { WORKLOADS, workloadNamed } from '../workloads/catalog.ts';
import { describeProfile } from '../workloads/profiles.ts';
import { runInProcess } from './inProcess.ts';
import { BENCH_MODES, type BenchMode, KNOBS, parseSweep, type Sweep, SweepError } from './knobs.ts';
import { localStackRunner } from './localStack.ts';
import { ProgressBar } from './progress.ts';
import { checkRemoteCredentials, loadRemoteConfig, RemoteConfigError } from './remote.ts';
import { reportHtml } from './report.ts';
import type { BenchResult } from './result.ts';
import { updateResultsFile } from './resultsMd.ts';
import { type PointRunner, runSweep } from './runner.ts';
import { ALARM_MARKER_MS } from './runOptions.ts';
import { summaryTable } from './summary.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SPECS = path.join(ROOT, 'specs/examples');

/** Options of `bench run`. */
export interface RunCommandOptions {
  readonly workload: string;
  readonly mode: BenchMode;
  readonly duration: number;
  readonly warmup?: number;
  readonly repeat: number;
  readonly sweep: readonly Sweep[];
  readonly out?: string;
  readonly paced?: boolean;
  readonly markerMs: number;
  /** Local stack, remote: an alarm marker per shard every so many ms (default 1,000). */
  readonly alarmMarkerMs?: number;
  readonly seed?: number;
  readonly postgresUrl?: string;
  readonly redisUrl?: string;
  readonly remoteConfig?: string;
  readonly results?: boolean | string;
  readonly progress?: boolean;
  /** Measure the in-run baseline (default true; `--no-baseline`). */
  readonly baseline?: boolean;
  /** Where the worker's log goes (JSON lines); silent when absent. */
  readonly logFile?: string;
}

function positive(max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > max)
      throw new InvalidArgumentError(`expected a number above 0, at most ${max}`);
    return n;
  };
}

function integer(min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

function collectSweep(value: string, previous: Sweep[] = []): Sweep[] {
  try {
    return [...previous, parseSweep(value)];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** The directory a run writes to when `--out` is not given. */
function defaultOutDir(workload: string, mode: string): string {
  const stamp = new Date().toISOString().replaceAll(':', '').replace(/\..*$/, '');
  return path.join(ROOT, 'bench/results', `${stamp}-${workload}-${mode}`);
}

/** Runs `bench run` with parsed options; returns the result and where it was written. */
export async function benchRun(
  opts: RunCommandOptions,
  log: Logger = silentLogger,
): Promise<{ result: BenchResult; dir: string }> {
  const workload = workloadNamed(opts.workload, opts.seed);
  const specs = new SpecRegistry(SPECS, log);
  specs.load();
  const durationMs = opts.duration * 1000;
  const warmupMs = (opts.warmup ?? Math.min(10, Math.max(1, opts.duration / 5))) * 1000;
  const paced = opts.mode === 'in-process' ? (opts.paced ?? false) : true;
  let run: PointRunner;
  let close = async () => {};
  let stores: string;
  if (opts.mode === 'in-process') {
    run = (knobs, repeat, options) => runInProcess(workload, knobs, repeat, options);
    stores = `${opts.postgresUrl === undefined ? 'memory Hot store, in-memory Warm tables' : 'Hot and Warm on PostgreSQL/PGlite'}; windows ${opts.redisUrl === undefined ? 'embedded' : 'on Redis'}`;
  } else {
    const remote = opts.mode === 'remote' ? loadRemoteConfig(opts.remoteConfig) : undefined;
    if (remote) await checkRemoteCredentials(remote);
    const stack = localStackRunner(workload, remote);
    run = stack;
    close = stack.close;
    stores = remote
      ? 'remote (AWS) stores'
      : 'Hot and Warm on PostgreSQL, windows on Redis, Cold Iceberg table on disk (JDBC catalog)';
  }
  const bar = new ProgressBar();
  const result = await runSweep(
    { workload, mode: opts.mode, sweeps: opts.sweep, repeat: opts.repeat, stores },
    {
      durationMs,
      warmupMs,
      markerIntervalMs: opts.markerMs,
      alarmMarkerIntervalMs: opts.alarmMarkerMs ?? ALARM_MARKER_MS,
      paced,
      specs,
      log,
      postgresUrl: opts.postgresUrl,
      redisUrl: opts.redisUrl,
      baseline: opts.baseline !== false,
      progress: () => {},
    },
    run,
    (done, what, status) => {
      if (opts.progress !== false) bar.update(done, what, status);
    },
  ).finally(close);
  if (opts.progress !== false) bar.finish();
  const dir = path.resolve(opts.out ?? defaultOutDir(workload.name, opts.mode));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(dir, 'report.html'), reportHtml(result));
  if (opts.results) {
    updateResultsFile(
      typeof opts.results === 'string' ? opts.results : path.join(ROOT, 'bench/RESULTS.md'),
      result,
    );
  }
  return { result, dir };
}

/** The `bench` command: `run` and `workloads`. */
function benchCommand(name = 'bench'): Command {
  const bench = new Command(name)
    .description('benchmark the topology: workloads, sweeps, latency to the store, reports')
    .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2));
  bench
    .command('workloads')
    .description('list the named workloads')
    .action(() => {
      for (const w of WORKLOADS.values())
        console.log(
          `${w.name.padEnd(18)} ${w.devices.toLocaleString('en-US').padStart(9)} devices  ${describeProfile(w.profile)}  (${w.description})`,
        );
    });
  bench
    .command('run')
    .description('run a workload through the topology and write result.json and report.html')
    .requiredOption('-w, --workload <name>', `workload: ${[...WORKLOADS.keys()].join(', ')}`)
    .addOption(
      new Option('-m, --mode <mode>', 'where the topology runs').choices(BENCH_MODES).default('in-process'),
    )
    .option('-d, --duration <seconds>', 'measured seconds per run', positive(86_400), 30)
    .option(
      '--warmup <seconds>',
      'seconds before measuring (default: a fifth of the duration, 1–10 s)',
      positive(3600),
    )
    .option('-r, --repeat <n>', 'runs per sweep point', integer(1, 100), 3)
    .option(
      '-s, --sweep <knob=v1,v2>',
      `sweep a knob: ${KNOBS.map((k) => k.name).join(', ')} (repeatable)`,
      collectSweep,
    )
    .option(
      '-o, --out <dir>',
      'directory for result.json and report.html (default bench/results/<time>-<workload>-<mode>)',
    )
    .option('--paced', 'in-process: offer records at the profile’s rate instead of as fast as taken')
    .option('--marker-ms <ms>', 'a latency marker per shard every so many ms', integer(10, 60_000), 200)
    .option(
      '--alarm-marker-ms <ms>',
      'local stack, remote: an alarm marker per shard every so many ms, raising and clearing the probe rule in turn (so each alarm is held open this long)',
      integer(10, 60_000),
      ALARM_MARKER_MS,
    )
    .option('--seed <n>', 'seed of the workload (default: the workload’s)', integer(0, 2 ** 31))
    .option(
      '--postgres-url <url>',
      'Hot and Warm store (local stack: a throwaway cluster when absent; in-process: memory stores when absent)',
      process.env.SHARDFLOW_BENCH_POSTGRES_URL,
    )
    .option(
      '--redis-url <url>',
      'Redis for the window state (local stack: a throwaway redis-server when absent; in-process: embedded state when absent)',
      process.env.SHARDFLOW_BENCH_REDIS_URL,
    )
    .option('--remote-config <file>', 'remote mode: endpoints, stream and stores (YAML)')
    .option('--results [file]', 'also rewrite the harness section of bench/RESULTS.md (or FILE)')
    .option('--log-file <file>', "the worker's log (JSON lines, info and above) to FILE; none by default")
    .option('--no-progress', 'no progress bar on stderr')
    .option('--no-baseline', 'skip the in-run baseline (raw GetRecords loop, pass-through topology)')
    .action(async (o: RunCommandOptions) => {
      try {
        const log =
          o.logFile === undefined
            ? silentLogger
            : pino({ level: 'info' }, pino.destination({ dest: o.logFile, sync: false, mkdir: true }));
        const { result, dir } = await benchRun({ ...o, sweep: o.sweep ?? [] }, log);
        process.stdout.write(summaryTable(result));
        process.stdout.write(
          `\nresult: ${path.join(dir, 'result.json')}\nreport: ${path.join(dir, 'report.html')}\n`,
        );
        const failed = result.points.some((p) => p.runs.some((r) => r.error !== undefined));
        if (failed) process.exitCode = 1;
      } catch (error) {
        if (error instanceof SweepError || error instanceof RemoteConfigError) {
          console.error(`shardflow bench: ${error.message}`);
          process.exitCode = 2;
          return;
        }
        throw error;
      }
    });
  return bench;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  benchCommand('shardflow bench')
    .parseAsync(process.argv)
    .then(() => process.exit(process.exitCode ?? 0))
    .catch((error: unknown) => {
      console.error(
        `shardflow bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      process.exit(1);
    });
}
