/** `shardflow run`: one worker, until SIGINT or SIGTERM, then drain and checkpoint. */
import type { Command } from 'commander';
import { loadWorkerConfig } from '../config.ts';
import { configReference } from '../configReference.ts';
import { createLogger } from '../log.ts';
import { startWorker } from '../worker.ts';
import { fail, onSignal } from './options.ts';

/** Registers `run`. */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run one worker until SIGINT/SIGTERM, then drain and checkpoint')
    .requiredOption(
      '-c, --config <file>',
      'worker configuration (YAML); SHARDFLOW_<SECTION>__<KEY> overrides',
    )
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
}
