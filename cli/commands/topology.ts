/** `shardflow topology describe`: the operator graph as text, JSON, Mermaid or DOT. */
import { type Command, Option } from 'commander';
import { DESCRIPTION_FORMATS, type DescriptionFormat, renderDescription } from '../../topology/index.ts';
import { loadWorkerConfig } from '../config.ts';
import { demoConfig } from '../demoConfig.ts';
import { createLogger } from '../log.ts';
import { describeTopologyFor } from '../worker.ts';
import { fail } from './options.ts';

/** Registers `topology describe`. */
export function registerTopologyCommand(program: Command): void {
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
}
