/**
 * The `shardflow` command. Exit codes: 0 done, 1 the worker failed, 2 bad configuration or usage,
 * 3 a service could not be reached.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  DESCRIPTION_FORMATS,
  type DescriptionFormat,
  errorMessage,
  renderDescription,
} from '../topology/index.ts';
import { registerBenchCommand } from './commands/bench.ts';
import { registerDlqCommand } from './commands/dlq.ts';
import { registerIcebergCommand } from './commands/iceberg.ts';
import { registerMasterdataCommand } from './commands/masterdata.ts';
import { registerQueryCommand } from './commands/query.ts';
import { registerReplayCommand } from './commands/replay.ts';
import { registerSavepointCommand } from './commands/savepoint.ts';
import { registerScaleAdviceCommand } from './commands/scaleAdvice.ts';
import { exitWithError } from './commands/shared.ts';
import { registerSpecsCommand } from './commands/specs.ts';
import { loadWorkerConfig } from './config.ts';
import { configReference } from './configReference.ts';
import { runDemo } from './demo.ts';
import { demoConfig } from './demoConfig.ts';
import { EXIT } from './exitCodes.ts';
import { createLogger } from './log.ts';
import { describeTopologyFor, startWorker } from './worker.ts';

function integer(min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

function fraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

function fail(error: unknown): never {
  exitWithError(error, { stack: true });
}

/** Resolves on the first SIGINT or SIGTERM. */
function onSignal(): { signal: AbortSignal } {
  const controller = new AbortController();
  const stop = () => controller.abort(new Error('signal'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return { signal: controller.signal };
}

const program = new Command('shardflow')
  .description('Stream processing for IoT telemetry on Kinesis: decode, aggregate, store.')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(`shardflow: ${text}`) })
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT.usage));

const topology = program.command('topology').description('inspect the operator graph');
topology
  .command('describe')
  .description('print the topology (the demo topology when no --config is given)')
  .option('-c, --config <file>', 'worker configuration (YAML)')
  .addOption(
    new Option('-f, --format <format>', 'output format').choices(DESCRIPTION_FORMATS).default('text'),
  )
  .action(async (opts: { config?: string; format: DescriptionFormat }) => {
    try {
      const config = opts.config ? loadWorkerConfig(opts.config) : demoConfig();
      // Building needs no connection: stores open on first use, which describe never makes.
      const log = createLogger({ level: 'error', pretty: false });
      process.stdout.write(renderDescription(await describeTopologyFor(config, { log }), opts.format));
    } catch (error) {
      fail(error);
    }
  });

program
  .command('run')
  .description('run one worker until SIGINT/SIGTERM, then drain and checkpoint')
  .requiredOption('-c, --config <file>', 'worker configuration (YAML); SHARDFLOW_<SECTION>__<KEY> overrides')
  .option('--pretty', 'human-readable logs instead of JSON lines')
  .addHelpText('after', () => configReference())
  .action(async (opts: { config: string; pretty?: boolean }) => {
    try {
      const config = loadWorkerConfig(opts.config);
      const log = createLogger({ ...config.log, pretty: opts.pretty ?? config.log.pretty });
      const worker = await startWorker(config, { log });
      log.info(
        { topology: config.topology.name, stream: config.source.kinesis.streamName },
        'worker started',
      );
      const { signal } = onSignal();
      signal.addEventListener('abort', () => {
        log.info({}, 'stopping: draining in-flight batches');
        void worker.stop();
      });
      try {
        await worker.done;
      } finally {
        await worker.stop();
      }
      log.info({}, 'worker stopped');
    } catch (error) {
      fail(error);
    }
  });

program
  .command('demo')
  .description('run the telemetry topology on an embedded Kinesis with a simulated fleet')
  .option('-d, --duration <seconds>', 'how long to produce records', integer(1, 86_400), 30)
  .option('-n, --devices <n>', 'simulated devices', integer(1, 10_000_000), 1000)
  .option('-r, --rate <records>', 'records produced per second', integer(1, 100_000), 500)
  .option(
    '-p, --port <port>',
    'serve the admin page (topology, live figures) on this port',
    integer(0, 65_535),
  )
  .option('--postgres-url <url>', 'write to this PostgreSQL instead of an embedded PGlite')
  .option('--malformed <fraction>', 'share of records sent malformed (they go to dead letters)', fraction, 0)
  .option('--seed <n>', 'seed of the simulated fleet', integer(0, 2 ** 31), 1)
  .option('--pretty', 'human-readable logs')
  .action(
    async (opts: {
      duration: number;
      devices: number;
      rate: number;
      port?: number;
      postgresUrl?: string;
      malformed: number;
      seed: number;
      pretty?: boolean;
    }) => {
      try {
        const { signal } = onSignal();
        const summary = await runDemo(
          {
            durationSeconds: opts.duration,
            devices: opts.devices,
            rate: opts.rate,
            port: opts.port,
            postgresUrl: opts.postgresUrl,
            malformedFraction: opts.malformed,
            seed: opts.seed,
            pretty: opts.pretty,
          },
          (line) => console.log(line),
          signal,
        );
        console.log('');
        console.log(`summary after ${summary.seconds.toFixed(1)} s`);
        for (const [product, count] of [...summary.perProduct].sort()) {
          console.log(`  ${product.padEnd(12)} ${count.toLocaleString('en-US').padStart(10)} records`);
        }
        console.log(`  joined telemetry in the Hot store: ${summary.hotTelemetry}`);
        for (const [customer, count] of [...summary.perCustomer].sort()) {
          console.log(
            `  ${customer.padEnd(12)} ${count.toLocaleString('en-US').padStart(10)} records (daily customer aggregates)`,
          );
        }
        console.log(
          `  produced ${summary.produced}, stored ${summary.stored}, dead letters ${summary.deadLetters}`,
        );
        if (!summary.balanced) {
          console.error('shardflow: the stores do not add up to what was produced');
          process.exit(EXIT.failed);
        }
        console.log('  stored + dead letters = produced: every record accounted for');
      } catch (error) {
        fail(error);
      }
    },
  );

registerBenchCommand(program);
registerDlqCommand(program);
registerIcebergCommand(program);
registerQueryCommand(program);
registerMasterdataCommand(program);
registerReplayCommand(program);
registerSavepointCommand(program);
registerScaleAdviceCommand(program);
registerSpecsCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`shardflow: ${errorMessage(error)}`);
  process.exit(EXIT.failed);
});
