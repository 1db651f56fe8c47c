/** `shardflow demo`: the telemetry topology on an embedded Kinesis with a simulated fleet. */
import type { Command } from 'commander';
import { runDemo } from '../demo.ts';
import { EXIT } from '../exitCodes.ts';
import { fail, fraction, integer, onSignal } from './options.ts';

/** Registers `demo`. */
export function registerDemoCommand(program: Command): void {
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
    .option(
      '--malformed <fraction>',
      'share of records sent malformed (they go to dead letters)',
      fraction,
      0,
    )
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
}
